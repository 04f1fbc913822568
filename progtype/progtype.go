// Package progtype defines program types: what a program receives in r1..r5
// (its context and memory), which context fields it may read and write,
// which helpers it may call, and what its return value means.
package progtype

import (
	"fmt"
	"slices"

	"github.com/ebpfvm/ebpfvm/vm"
)

// Type is a program type.
type Type interface {
	// Name is the type's name: "raw", "socket_filter", "xdp", or a hook's.
	Name() string
	// Layout describes the context, or is nil for a type without one (raw).
	Layout() *Layout
	// HelperAllowed reports whether programs of this type may call helper id.
	HelperAllowed(id int32) bool
	// Setup prepares m for one run over in: it installs the context and
	// data regions and returns the run, whose Args are r1..r5.
	Setup(m *vm.Machine, in *Input) (*Run, error)
	// Describe names a return value ("XDP_PASS", "drop", "42").
	Describe(r0 uint64) string
}

// Input is what a run starts from.
type Input struct {
	// Data is the input memory of a raw program, or the packet of a packet
	// program type.
	Data []byte
	// Context sets context fields, in the layout's byte form (as
	// BPF_PROG_TEST_RUN's ctx_in); fields a caller may not set must be zero.
	Context []byte
}

// Run is one prepared run: its arguments, and after the run, its output.
type Run struct {
	Args [5]uint64
	m    *vm.Machine
	buf  []byte // RegionData's memory
	ctx  *contextMem
	raw  bool
}

// Data returns the memory or packet after the run (a view, not a copy).
func (r *Run) Data() []byte {
	if r.raw {
		return r.buf
	}
	return r.buf[r.m.DataStart:r.m.DataEnd]
}

// Context returns the context after the run, in the layout's byte form (nil
// for types without a context).
func (r *Run) Context() []byte {
	if r.ctx == nil {
		return nil
	}
	return r.ctx.mem
}

// newRun returns the machine's reusable Run, filled in; it is valid until
// the next Setup on the machine.
func newRun(m *vm.Machine, args [5]uint64, buf []byte, ctx *contextMem, raw bool) *Run {
	r := &cacheOf(m).run
	*r = Run{Args: args, m: m, buf: buf, ctx: ctx, raw: raw}
	return r
}

// Raw is the program type of the conformance suite and uBPF: r1 is the
// address of the input memory and r2 its length; the result is r0.
var Raw Type = rawType{}

type rawType struct{}

func (rawType) Name() string                { return "raw" }
func (rawType) Layout() *Layout             { return nil }
func (rawType) HelperAllowed(id int32) bool { return true }
func (rawType) Describe(r0 uint64) string   { return fmt.Sprint(r0) }

func (rawType) Setup(m *vm.Machine, in *Input) (*Run, error) {
	if len(in.Context) != 0 {
		return nil, fmt.Errorf("raw programs have no context")
	}
	args, out, err := SetupRaw(m, in.Data)
	if err != nil {
		return nil, err
	}
	return newRun(m, args, out, nil, true), nil
}

// ByName returns the built-in program type called name.
func ByName(name string) (Type, bool) {
	switch name {
	case "raw":
		return Raw, true
	case "socket_filter", "socket":
		return SocketFilter, true
	case "xdp":
		return XDP, true
	}
	return nil, false
}

// Names lists the built-in program types.
func Names() []string { return []string{"raw", "socket_filter", "xdp"} }

// helperSet is a sorted list of allowed helper ids.
type helperSet []int32

func newHelperSet(ids ...[]int32) helperSet {
	var s helperSet
	for _, l := range ids {
		s = append(s, l...)
	}
	slices.Sort(s)
	return slices.Compact(s)
}

func (s helperSet) has(id int32) bool { _, ok := slices.BinarySearch(s, id); return ok }

// baseHelpers are the helpers the kernel's bpf_base_func_proto offers every
// program type (to privileged loaders), by id.
var baseHelpers = []int32{
	1, 2, 3, // map_lookup/update/delete_elem
	5, 6, 7, 8, // ktime_get_ns, trace_printk, get_prandom_u32, get_smp_processor_id
	12, 14, 15, 16, // tail_call; pid/uid/comm: tracing helpers offered here as host-supplied values
	28, 42, // csum_diff, get_numa_node_id
	4, 45, 112, 113, 114, 115, // probe_read family (VM memory only)
	87, 88, 89, // map_push/pop/peek_elem
	105, 106, // strtol, strtoul
	118, 125, 160, // jiffies64, ktime_get_boot_ns, ktime_get_coarse_ns
	130, 131, 132, 133, 134, // ringbuf_*
	164, 165, 181, 182, // for_each_map_elem, snprintf, loop, strncmp
	195, // map_lookup_percpu_elem
}

// cache holds what a program type reuses from run to run of one machine
// (vm.Machine.TypeCache): allocating a packet buffer per run would cost more
// than running a small program.
type cache struct {
	buf []byte
	ctx contextMem
	run Run
}

func cacheOf(m *vm.Machine) *cache {
	if c, ok := m.TypeCache.(*cache); ok {
		return c
	}
	c := &cache{}
	m.TypeCache = c
	return c
}

// buffer returns the machine's reusable data buffer resized to n bytes,
// 8-byte aligned, its contents unspecified.
func (c *cache) buffer(n int) []byte {
	if cap(c.buf) < n {
		c.buf = vm.AlignedBytes(max(n, 64))
	}
	c.buf = c.buf[:n]
	return c.buf
}

// setupPacket copies a packet into a buffer of headroom + len + tailroom
// bytes (8-byte aligned, the headroom zeroed) and installs the buffer up to
// the packet's end as RegionData (vm.Machine.Packet: the tailroom is
// mapped, and zeroed, only as a helper grows the packet into it), and sets
// the machine's packet bounds.
func setupPacket(m *vm.Machine, pkt []byte, headroom, tailroom, floor int) ([]byte, error) {
	buf := cacheOf(m).buffer(headroom + len(pkt) + tailroom)
	clear(buf[:headroom])
	copy(buf[headroom:], pkt)
	r, err := vm.NewRegion(buf[:headroom+len(pkt)], vm.PermRW)
	if err != nil {
		return nil, err
	}
	if err := m.SetRegion(vm.RegionData, "packet", r); err != nil {
		return nil, err
	}
	m.DataMeta = uint32(headroom)
	m.DataStart = uint32(headroom)
	m.DataEnd = uint32(headroom + len(pkt))
	m.PacketFloor = uint32(floor)
	m.PacketCeil = uint32(headroom + len(pkt) + tailroom)
	m.Packet = buf
	return buf, nil
}

// setupContext installs the emulated context region of layout, initialised
// from init where the caller may set fields (settable) and from defaults.
func setupContext(m *vm.Machine, layout *Layout, in []byte, settable func(f *Field) bool) (*contextMem, error) {
	c := &cacheOf(m).ctx
	c.layout = layout
	if cap(c.mem) < layout.Size {
		c.mem = make([]byte, layout.Size)
	}
	c.mem = c.mem[:layout.Size]
	clear(c.mem)
	if len(in) > 0 {
		if len(in) > layout.Size {
			return nil, fmt.Errorf("%s: context input of %d bytes exceeds the %d-byte %s", layout.Name, len(in), layout.Size, layout.Name)
		}
		for off, b := range in {
			if b == 0 {
				continue
			}
			f := fieldAt(layout, off)
			if f == nil || !settable(f) {
				name := "padding"
				if f != nil {
					name = f.Name
				}
				return nil, fmt.Errorf("%s: field %s (offset %d) cannot be set by the caller", layout.Name, name, off)
			}
		}
		copy(c.mem, in)
	}
	// The context is not mapped: every access goes through the accessor.
	if err := m.SetRegion(vm.RegionContext, layout.Name, vm.Region{}); err != nil {
		return nil, err
	}
	m.Context = c
	return c, nil
}

func fieldAt(l *Layout, off int) *Field {
	for i := range l.Fields {
		if f := &l.Fields[i]; off >= f.Offset && off < f.Offset+f.Size {
			return f
		}
	}
	return nil
}
