package vm

import (
	"context"
	"errors"
	"fmt"
	"unsafe"
)

// DefaultBudget is the instruction budget of a run when none is set.
const DefaultBudget = 1_000_000_000

// ContextAccessor emulates the loads and stores a program makes to its
// context (RegionContext). Program types implement it: the kernel's context
// structs hold 32-bit fields that stand for pointers (xdp_md.data, ...), which
// must read as full virtual addresses here, and only some fields may be
// read or written, at some sizes. The context region itself is not mapped,
// so every context access reaches the accessor through the engines' slow
// path; off is the offset into the context.
type ContextAccessor interface {
	LoadContext(m *Machine, off uint32, size int) (uint64, error)
	StoreContext(m *Machine, off uint32, size int, v uint64) error
}

// Caller is implemented by engines so that helpers can call back into the
// running program (bpf_loop, for_each_map_elem callbacks).
type Caller interface {
	// CallFunction runs the function at slot in a new call frame with the
	// given arguments in r1..r5 and returns its r0.
	CallFunction(m *Machine, slot int, args [5]uint64) (uint64, error)
}

// Machine is the state of one run: the region table, the call-frame stacks,
// the budget. A Machine is used by one goroutine at a time; reuse it for
// consecutive runs with Reset.
type Machine struct {
	// Regions is the region table: per-run ids below FirstSharedRegion, then
	// the Space's shared regions. Engines index it directly.
	Regions []Region
	names   [FirstSharedRegion]string
	space   *Space
	seen    *spaceSnapshot // the Space snapshot Regions was built from
	maps    []mapEntry     // the Space's maps, as of seen

	stack [stackBytes / 8]uint64

	// Budget is the number of instructions the run may execute; Executed
	// counts them. Engines check at least at every backward jump and call
	// (callbacks included), and only forward jumps lie between two checks,
	// so a run stopped by the budget has executed at most Budget plus the
	// program's length in slots.
	Budget   uint64
	Executed uint64
	// Ctx, if not nil, cancels the run. Engines poll it at the first
	// backward jump or call after every 65,536 instructions and at every
	// callback, so a cancelled run stops within that many instructions
	// plus one forward pass over the program (a check at every backward
	// jump would cost more than a short loop's iteration).
	Ctx context.Context
	// CPU is the virtual CPU the run is pinned to (per-CPU maps).
	CPU int
	// Env is what the loader attaches for helpers (host-supplied values,
	// clock, trace output); it is typically shared by all runs.
	Env any
	// HelperState is per-run state of helpers (e.g. a redirect target);
	// Reset clears it.
	HelperState any
	// TypeCache is where a program type keeps buffers it reuses from run to
	// run of this machine (packet buffer, context); Reset keeps it.
	TypeCache any

	// Program is the program being run (changes on a tail call).
	Program *Program
	// PC is the slot index of the instruction being executed when a helper
	// is called, for faults raised by helpers.
	PC int
	// Depth is the current call-frame depth (0: the entry function).
	Depth int
	// TailCalls counts the tail calls made in this run.
	TailCalls int
	// TailCallTarget is set by the tail_call helper to the program the
	// engine switches to when the helper returns.
	TailCallTarget *Program

	// Context emulates context accesses, if the program type has a context.
	Context ContextAccessor

	// DataMeta, DataStart and DataEnd delimit the packet's metadata and
	// data in RegionData: the legacy packet loads (ld_abs, ld_ind) read
	// [DataStart, DataEnd), and the packet helpers move the bounds.
	DataMeta, DataStart, DataEnd uint32
	// PacketFloor and PacketCeil bound how far helpers may move the packet
	// within RegionData: DataMeta and DataStart not below PacketFloor,
	// DataEnd not above PacketCeil (the kernel's xdp_frame and
	// skb_shared_info reservations).
	PacketFloor, PacketCeil uint32
	// Packet is the whole buffer behind RegionData, of which the region
	// maps only the first DataEnd bytes: what lies past the packet's end
	// is not the program's to read or write (the kernel's verifier
	// refuses such accesses; here they fault), so it need not be cleared
	// for every run. SetDataEnd moves the end and the region with it.
	Packet []byte

	// PreserveR0 is set by a helper that must leave r0 as it was (a failed
	// tail call, as in the kernel); the engine clears it.
	PreserveR0 bool

	caller Caller
}

// NewMachine returns a Machine over the given Space (nil: an empty one).
func NewMachine(space *Space) *Machine {
	if space == nil {
		space = NewSpace()
	}
	m := &Machine{space: space}
	m.Regions = make([]Region, FirstSharedRegion)
	m.Regions[RegionStack] = Region{Base: unsafe.Pointer(&m.stack[0]), Len: stackBytes, Perm: PermRW}
	m.names[RegionStack] = "stack"
	m.SyncSpace()
	m.Budget = DefaultBudget
	return m
}

// SyncSpace brings the shared part of the region table up to date with the
// Space, which may have grown. Reset calls it; a helper that registers a map
// calls it before returning a pointer into it, and engines reload the table
// after every helper call.
func (m *Machine) SyncSpace() {
	snap := m.space.load()
	if snap == m.seen {
		return
	}
	if need := FirstSharedRegion + len(snap.regions); cap(m.Regions) < need {
		r := make([]Region, need)
		copy(r, m.Regions[:FirstSharedRegion])
		m.Regions = r
	} else {
		m.Regions = m.Regions[:need]
	}
	copy(m.Regions[FirstSharedRegion:], snap.regions)
	m.maps = m.maps[:0]
	for i, obj := range snap.maps {
		m.maps = append(m.maps, mapEntry{obj: obj, region: snap.mapRegions[i]})
	}
	m.seen = snap
}

// mapEntry is a map object of the Space and the region of its values.
type mapEntry struct {
	obj    any
	region uint32
}

// MapAt returns the map object behind a map handle and the region of its
// values, as the machine's Space had them when the machine last synced
// (at Reset, or when a helper registered a map). It is Space.Map without
// the atomic snapshot load, for helpers on the hot path.
func (m *Machine) MapAt(handle uint64) (obj any, region uint32, ok bool) {
	i := (handle >> RegionShift) - MapHandleRegion
	if uint32(handle) != 0 || i >= uint64(len(m.maps)) {
		return nil, 0, false
	}
	e := &m.maps[i]
	return e.obj, e.region, true
}

// Space returns the shared address space of the machine.
func (m *Machine) Space() *Space { return m.space }

// SetRegion installs a per-run region (RegionContext, RegionData,
// RegionScratch..). name appears in fault messages.
func (m *Machine) SetRegion(id uint32, name string, r Region) error {
	if id == RegionNull || id == RegionStack || id >= FirstSharedRegion {
		return fmt.Errorf("region %d is not a per-run region", id)
	}
	m.Regions[id] = r
	m.names[id] = name
	return nil
}

// Reset prepares the machine for a new run: per-run regions other than the
// stack are removed, counters cleared. The stack is cleared lazily, one frame
// at a time as frames are entered (see ClearFrame).
func (m *Machine) Reset() {
	m.SyncSpace()
	for id := RegionContext; id < FirstSharedRegion; id++ {
		m.Regions[id] = Region{}
		m.names[id] = ""
	}
	m.Budget = DefaultBudget
	m.Executed = 0
	m.Ctx = nil
	m.CPU = 0
	m.Env = nil
	m.HelperState = nil
	m.Program = nil
	m.PC = 0
	m.Depth = 0
	m.TailCalls = 0
	m.TailCallTarget = nil
	m.Context = nil
	m.DataMeta, m.DataStart, m.DataEnd = 0, 0, 0
	m.PacketFloor, m.PacketCeil = 0, 0
	m.Packet = nil
	m.PreserveR0 = false
	m.caller = nil
}

// ClearFrame zeroes the stack of call frame depth, so that a program reading
// stack it did not write sees zeros, whatever ran before.
func (m *Machine) ClearFrame(depth int) {
	hi := (stackBytes - depth*StackSize) / 8
	clear(m.stack[hi-StackSize/8 : hi])
}

// SetCaller is called by an engine before it runs the machine.
func (m *Machine) SetCaller(c Caller) { m.caller = c }

// Translate maps the virtual address range [addr, addr+size) to host memory.
// It returns 0 as the fault kind on success.
func (m *Machine) Translate(addr, size uint64, write bool) (unsafe.Pointer, FaultKind) {
	id := addr >> RegionShift
	if id >= uint64(len(m.Regions)) {
		return nil, FaultOutOfBounds
	}
	r := &m.Regions[id]
	off := addr & 0xffff_ffff
	if off+size > uint64(r.Len) {
		if id == RegionNull {
			return nil, FaultNull
		}
		return nil, FaultOutOfBounds
	}
	if write && r.Perm&PermWrite == 0 {
		return nil, FaultNotWritable
	}
	return unsafe.Add(r.Base, off), 0
}

// MemFault builds the Fault for a failed access at the current PC.
func (m *Machine) MemFault(kind FaultKind, addr uint64, size int) *Fault {
	return &Fault{Kind: kind, PC: m.PC, Addr: addr, Size: size, Detail: m.describe(addr)}
}

// describe names the region of an address for fault messages.
func (m *Machine) describe(addr uint64) string {
	id := uint32(addr >> RegionShift)
	switch {
	case id == RegionNull:
		return "region 0 holds NULL and plain integers, never memory"
	case id < FirstSharedRegion:
		if m.names[id] == "" {
			return fmt.Sprintf("region %d is not mapped", id)
		}
		return m.names[id] + ", " + byteCount(m.Regions[id].Len)
	case id >= MapHandleRegion && id < MapHandleRegion+0x1000_0000:
		return "a map pointer is not dereferenceable"
	case id == CodeRegion:
		return "a function pointer is not dereferenceable"
	case int(id) < len(m.Regions):
		return m.space.RegionName(id) + ", " + byteCount(m.Regions[id].Len)
	}
	return fmt.Sprintf("region %#x is not mapped", id)
}

// SetDataEnd moves the packet's end to end, and RegionData's end with it;
// bytes it grows the packet by read as zero, as in the kernel. It reports
// false, and changes nothing, if end lies past m.Packet.
func (m *Machine) SetDataEnd(end uint32) bool {
	if uint64(end) > uint64(len(m.Packet)) {
		return false
	}
	if end > m.DataEnd {
		clear(m.Packet[m.DataEnd:end])
	}
	m.DataEnd = end
	m.Regions[RegionData].Len = end
	return true
}

func byteCount(n uint32) string {
	if n == 1 {
		return "1 byte"
	}
	return fmt.Sprintf("%d bytes", n)
}

// Slice returns the VM memory [addr, addr+n) as a slice that aliases it, for
// helpers. write requests write permission. A bad range returns a *Fault.
func (m *Machine) Slice(addr, n uint64, write bool) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	if n > 1<<32 {
		return nil, m.MemFault(FaultOutOfBounds, addr, int(min(n, 1<<31)))
	}
	p, kind := m.Translate(addr, n, write)
	if kind != 0 {
		return nil, m.MemFault(kind, addr, int(n))
	}
	return unsafe.Slice((*byte)(p), n), nil
}

// ReadCString reads a NUL-terminated string of at most max bytes (the NUL
// included) starting at addr. It returns the bytes before the NUL and
// whether a NUL was found within max bytes and the region.
func (m *Machine) ReadCString(addr uint64, max uint64) ([]byte, bool, error) {
	id := addr >> RegionShift
	if id >= uint64(len(m.Regions)) {
		return nil, false, m.MemFault(FaultOutOfBounds, addr, 1)
	}
	r := m.Regions[id]
	off := addr & 0xffff_ffff
	if off >= uint64(r.Len) {
		kind := FaultOutOfBounds
		if id == RegionNull {
			kind = FaultNull
		}
		return nil, false, m.MemFault(kind, addr, 1)
	}
	avail := min(uint64(r.Len)-off, max)
	b := unsafe.Slice((*byte)(unsafe.Add(r.Base, off)), avail)
	for i, c := range b {
		if c == 0 {
			return b[:i], true, nil
		}
	}
	return b, false, nil
}

// Call runs the function at the function pointer fn (a value from lddw with
// PseudoFunc) with args in r1..r5 and returns its r0. Helpers that take
// callbacks use it.
func (m *Machine) Call(fn uint64, args ...uint64) (uint64, error) {
	region, slot := SplitAddr(fn)
	if region != CodeRegion || m.Program == nil || int(slot) >= m.Program.Slots() || m.Program.InsnAt[slot] < 0 {
		return 0, &Fault{Kind: FaultBadCall, PC: m.PC, Addr: fn, Detail: fmt.Sprintf("%#x is not a function pointer", fn)}
	}
	if m.caller == nil {
		return 0, errors.New("vm: no engine to call back into")
	}
	// A callback is a call: the budget and cancellation are checked here,
	// or a short callback without backward jumps, repeated by bpf_loop,
	// would never reach an engine's periodic check.
	// A callback executes at least one instruction: none is left.
	if m.Executed >= m.Budget {
		return 0, &Fault{Kind: FaultBudget, PC: m.PC, Detail: fmt.Sprintf("executed %d instructions, budget %d", m.Executed, m.Budget)}
	}
	if err := m.Poll(); err != nil {
		return 0, err
	}
	var a [5]uint64
	copy(a[:], args)
	return m.caller.CallFunction(m, int(slot), a)
}

// Poll checks cancellation; engines call it from their periodic checks.
func (m *Machine) Poll() error {
	if m.Ctx == nil {
		return nil
	}
	select {
	case <-m.Ctx.Done():
		return &Fault{Kind: FaultCancelled, PC: m.PC, Err: m.Ctx.Err()}
	default:
		return nil
	}
}
