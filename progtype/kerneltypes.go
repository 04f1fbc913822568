package progtype

import (
	"fmt"
	"slices"

	"github.com/ebpfvm/ebpfvm/vm"
)

// Kernel program types that ebpfvm can verify but not run: their contexts
// are kernel objects (a socket buffer in a qdisc, a task's registers, a
// trace event's record) that user space does not have. They let
// `ebpfvm verify` check objects written for the kernel with the kernel's
// context rules, helper sets and return-value rules.
var (
	// SchedCLS is BPF_PROG_TYPE_SCHED_CLS (tc classifiers): __sk_buff with
	// direct packet read and write.
	SchedCLS Type = newKernelType("sched_cls", tcSkbLayout(), checkTCSkb, tcHelpers)
	// SchedACT is BPF_PROG_TYPE_SCHED_ACT (tc actions), like SchedCLS.
	SchedACT Type = newKernelType("sched_act", tcSkbLayout(), checkTCSkb, tcHelpers)
	// CgroupSKB is BPF_PROG_TYPE_CGROUP_SKB: __sk_buff with direct packet
	// reads; the return value is 0 (drop) or 1 (pass).
	CgroupSKB Type = newKernelType("cgroup_skb", cgroupSkbLayout(), checkCgroupSkb, cgroupSkbHelpers)
	// Kprobe is BPF_PROG_TYPE_KPROBE on x86-64: the context is struct
	// pt_regs (21 registers of 8 bytes), read-only.
	Kprobe Type = newKernelType("kprobe", regsLayout("pt_regs", x86Regs), checkReadOnlyAligned(0), kprobeHelpers)
	// KprobeARM64 is BPF_PROG_TYPE_KPROBE on arm64: struct user_pt_regs
	// (x0..x30, sp, pc, pstate).
	KprobeARM64 Type = newKernelType("kprobe_arm64", regsLayout("user_pt_regs", arm64Regs()), checkReadOnlyAligned(0), kprobeHelpers)
	// Tracepoint is BPF_PROG_TYPE_TRACEPOINT: the trace event's record,
	// read-only, past its 8-byte common header.
	Tracepoint Type = newKernelType("tracepoint", tracepointLayout(), checkReadOnlyAligned(8), tracepointHelpers)
	// RawTracepoint is BPF_PROG_TYPE_RAW_TRACEPOINT: up to 12 u64
	// arguments, read-only.
	RawTracepoint Type = newKernelType("raw_tracepoint", rawTPLayout(), checkReadOnlyAligned(0), rawTPHelpers)
	// PerfEvent is BPF_PROG_TYPE_PERF_EVENT: struct bpf_perf_event_data
	// (the x86-64 registers, sample_period, addr), read-only.
	PerfEvent Type = newKernelType("perf_event", perfEventLayout(), checkPerfEvent, perfEventHelpers)
)

// KernelTypeByName returns the verification-only kernel program type
// called name ("sched_cls", "tc", "kprobe", "kprobe_arm64", "tracepoint",
// "raw_tracepoint", "perf_event", "cgroup_skb", ...).
func KernelTypeByName(name string) (Type, bool) {
	switch name {
	case "sched_cls", "tc", "classifier":
		return SchedCLS, true
	case "sched_act", "action":
		return SchedACT, true
	case "cgroup_skb":
		return CgroupSKB, true
	case "kprobe", "kretprobe", "uprobe", "uretprobe":
		return Kprobe, true
	case "kprobe_arm64":
		return KprobeARM64, true
	case "tracepoint", "tp":
		return Tracepoint, true
	case "raw_tracepoint", "raw_tp":
		return RawTracepoint, true
	case "perf_event":
		return PerfEvent, true
	}
	return nil, false
}

// KernelTypeNames lists the verification-only kernel program types.
func KernelTypeNames() []string {
	return []string{"sched_cls", "sched_act", "cgroup_skb", "kprobe", "kprobe_arm64", "tracepoint", "raw_tracepoint", "perf_event"}
}

// KernelType is a program type that can be verified but not run.
type KernelType struct {
	name    string
	layout  *Layout
	check   func(l *Layout, off, size int, write bool) (*Field, error)
	helpers helperSet
}

func newKernelType(name string, l *Layout, check func(*Layout, int, int, bool) (*Field, error), ids []int32) *KernelType {
	return &KernelType{name: name, layout: l, check: check, helpers: newHelperSet(ids)}
}

// Name returns the kernel's name of the type.
func (t *KernelType) Name() string { return t.name }

// Layout returns the context's layout; CheckContext, not Layout.Check,
// applies the kernel's access rules, some of which a Layout cannot
// express (8-byte accesses spanning two cb words, any aligned offset of a
// trace record).
func (t *KernelType) Layout() *Layout { return t.layout }

// HelperAllowed reports whether the kernel offers helper id to programs of
// this type (to a privileged loader).
func (t *KernelType) HelperAllowed(id int32) bool { return t.helpers.has(id) }

// CheckContext applies the kernel's *_is_valid_access rules of the type to
// an access of size bytes at off.
func (t *KernelType) CheckContext(off, size int, write bool) (*Field, error) {
	return t.check(t.layout, off, size, write)
}

// Setup fails: the type's context exists only in the kernel.
func (t *KernelType) Setup(*vm.Machine, *Input) (*Run, error) {
	return nil, fmt.Errorf("progtype: %s programs can be verified but not run: their context is a kernel object", t.name)
}

// Describe returns r0 in decimal.
func (t *KernelType) Describe(r0 uint64) string { return fmt.Sprint(r0) }

func accessErr(l *Layout, off, size int, write bool, reason string) error {
	return &AccessError{Layout: l.Name, Off: off, Size: size, Write: write, Reason: reason}
}

// tcSkbLayout is __sk_buff as tc programs see it.
func tcSkbLayout() *Layout {
	l := cloneLayout(SkbLayout)
	for i := range l.Fields {
		f := &l.Fields[i]
		switch f.Name {
		case "mark", "tc_index", "priority", "tc_classid", "queue_mapping",
			"cb[0]", "cb[1]", "cb[2]", "cb[3]", "cb[4]":
			f.Read, f.Write = true, true
		case "tstamp":
			f.Read, f.Write = true, true
		case "data_meta":
			f.Read, f.Kind = true, FieldPacketMeta
		case "family", "remote_ip4", "local_ip4", "remote_ip6", "local_ip6", "remote_port", "local_port":
			f.Read = false
		case "wire_len", "hwtstamp":
			f.Read = true
		}
	}
	return l
}

func cgroupSkbLayout() *Layout {
	l := cloneLayout(SkbLayout)
	for i := range l.Fields {
		f := &l.Fields[i]
		switch f.Name {
		case "mark", "priority", "cb[0]", "cb[1]", "cb[2]", "cb[3]", "cb[4]", "tstamp":
			f.Read, f.Write = true, true
		case "tc_classid", "data_meta", "wire_len":
			f.Read = false
		case "family", "remote_ip4", "local_ip4", "remote_ip6", "local_ip6", "remote_port", "local_port", "hwtstamp":
			f.Read = true
		}
	}
	return l
}

func cloneLayout(l *Layout) *Layout {
	c := *l
	c.Fields = slices.Clone(l.Fields)
	return &c
}

// checkSkb is the kernel's bpf_skb_is_valid_access, after the per-type
// filters: natural alignment, cb[] as one area of any access size, the
// packet pointers and the 4-byte ip fields at full size, tstamp and
// hwtstamp at 8 bytes, sk as an 8-byte read, narrow reads elsewhere.
func checkSkb(l *Layout, off, size int, write bool) (*Field, error) {
	fail := func(r string) (*Field, error) { return nil, accessErr(l, off, size, write, r) }
	if size != 1 && size != 2 && size != 4 && size != 8 {
		return fail("size must be 1, 2, 4 or 8")
	}
	if off < 0 || off >= l.Size {
		return fail(fmt.Sprintf("outside the %d-byte context", l.Size))
	}
	if off%size != 0 {
		return fail("misaligned")
	}
	f := fieldAt(l, off)
	if f == nil {
		return fail("no field at this offset")
	}
	if write && !f.Write {
		return fail(f.Name + " is read-only")
	}
	if !write && !f.Read {
		return fail(f.Name + " cannot be read")
	}
	switch {
	case len(f.Name) > 2 && f.Name[:3] == "cb[":
		if off+size > 68 {
			return fail("the access spans more than cb[]")
		}
		return f, nil
	case f.Kind.IsPointer() && f.Kind != FieldNull, f.Name == "remote_ip4", f.Name == "local_ip4",
		f.Name == "remote_ip6", f.Name == "local_ip6":
		if size != 4 {
			return fail(f.Name + " must be accessed with size 4")
		}
		return f, nil
	case f.Name == "tstamp", f.Name == "hwtstamp", f.Name == "sk":
		if size != 8 {
			return fail(f.Name + " must be accessed with size 8")
		}
		return f, nil
	}
	if off+size > f.Offset+f.Size {
		return fail("the access spans more than " + f.Name)
	}
	if write {
		if size != 4 {
			return fail(f.Name + " must be written with size 4")
		}
		return f, nil
	}
	// Narrow reads: a power of two no larger than the 4-byte field,
	// aligned to its own size (checked above).
	if size > 4 {
		return fail(f.Name + " must be read with size 4 or less")
	}
	return f, nil
}

func checkTCSkb(l *Layout, off, size int, write bool) (*Field, error) {
	return checkSkb(l, off, size, write)
}

func checkCgroupSkb(l *Layout, off, size int, write bool) (*Field, error) {
	return checkSkb(l, off, size, write)
}

var x86Regs = []string{"r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx",
	"rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss"}

func arm64Regs() []string {
	var names []string
	for i := range 31 {
		names = append(names, fmt.Sprintf("regs[%d]", i))
	}
	return append(names, "sp", "pc", "pstate")
}

func regsLayout(name string, regs []string) *Layout {
	l := &Layout{Name: name, Size: 8 * len(regs)}
	for i, r := range regs {
		l.Fields = append(l.Fields, Field{Name: r, Offset: 8 * i, Size: 8, Read: true, Narrow: true})
	}
	return l
}

// tracepointLayout is a trace event record: an 8-byte common header that
// programs may not read, then the event's fields, up to
// PERF_MAX_TRACE_SIZE (8192) bytes.
func tracepointLayout() *Layout {
	l := &Layout{Name: "trace_event_raw", Size: 8192}
	l.Fields = append(l.Fields, Field{Name: "common", Offset: 0, Size: 8})
	for off := 8; off < l.Size; off += 8 {
		l.Fields = append(l.Fields, Field{Name: fmt.Sprintf("data[%d]", off), Offset: off, Size: 8, Read: true, Narrow: true})
	}
	return l
}

func rawTPLayout() *Layout {
	l := &Layout{Name: "bpf_raw_tracepoint_args", Size: 8 * 12}
	for i := range 12 {
		l.Fields = append(l.Fields, Field{Name: fmt.Sprintf("args[%d]", i), Offset: 8 * i, Size: 8, Read: true, Narrow: true})
	}
	return l
}

func perfEventLayout() *Layout {
	l := regsLayout("bpf_perf_event_data", x86Regs)
	l.Fields = append(l.Fields,
		Field{Name: "sample_period", Offset: l.Size, Size: 8, Read: true, Narrow: true},
		Field{Name: "addr", Offset: l.Size + 8, Size: 8, Read: true, Narrow: true})
	l.Size += 16
	return l
}

// checkReadOnlyAligned allows any naturally aligned read of 1, 2, 4 or 8
// bytes inside the context from offset min on (kprobe_prog_is_valid_access,
// tp_prog_is_valid_access, raw_tp_prog_is_valid_access).
func checkReadOnlyAligned(min int) func(*Layout, int, int, bool) (*Field, error) {
	return func(l *Layout, off, size int, write bool) (*Field, error) {
		fail := func(r string) (*Field, error) { return nil, accessErr(l, off, size, write, r) }
		switch {
		case size != 1 && size != 2 && size != 4 && size != 8:
			return fail("size must be 1, 2, 4 or 8")
		case write:
			return fail("the context is read-only")
		case off < min || off+size > l.Size:
			return fail(fmt.Sprintf("outside the %d-byte context", l.Size))
		case off%size != 0:
			return fail("misaligned")
		}
		return fieldAt(l, off), nil
	}
}

// checkPerfEvent: the registers are read whole (8 bytes), sample_period
// and addr also narrowly.
func checkPerfEvent(l *Layout, off, size int, write bool) (*Field, error) {
	f, err := checkReadOnlyAligned(0)(l, off, size, write)
	if err != nil {
		return nil, err
	}
	if f.Name != "sample_period" && f.Name != "addr" && size != 8 {
		return nil, accessErr(l, off, size, write, f.Name+" must be read with size 8")
	}
	return f, nil
}

// Helper sets of the kernel types, by id (the kernel's *_func_proto).
var (
	// kernelBase is the kernel's bpf_base_func_proto for a privileged loader.
	kernelBase = []int32{
		1, 2, 3, 87, 88, 89, 195, // map helpers
		7, 8, 42, 12, 5, 125, 208, // prandom, cpu, numa, tail_call, ktime ns/boot/tai
		130, 131, 132, 133, 134, // ringbuf
		182, 105, 106, 14, 120, 15, // strncmp, strtol, strtoul, pid/uid
		93, 94, 118, 164, 181, 80, 123, 37, // spin_lock/unlock, jiffies64, for_each, loop, cgroup ids, task_under_cgroup
		6, 35, 112, 113, 114, 115, 165, 177, 22, 55, 109, 117, // trace_printk, task, probe_read_*, snprintf, trace_vprintk, perf reads, signals
	}
	tcHelpers = concatIDs(kernelBase, []int32{
		9, 10, 11, 13, 17, 18, 19, 20, 21, 23, 24, 25, 26, 28, 29, 30, 31, 32, 33, 34, 38, 39, 40, 41, 43,
		46, 47, 48, 50, 51, 68, 79, 83, 97, 121, 135, 151, 152, 155, 160, 163, 192,
	})
	cgroupSkbHelpers  = concatIDs(kernelBase, []int32{25, 26, 46, 47, 68, 79, 83, 97, 160})
	tracingBase       = concatIDs(kernelBase, []int32{4, 45, 16, 36, 141, 148, 160, 173, 180})
	kprobeHelpers     = concatIDs(tracingBase, []int32{25, 27, 58, 67, 174})
	tracepointHelpers = concatIDs(tracingBase, []int32{25, 27, 67, 174})
	rawTPHelpers      = concatIDs(tracingBase, []int32{25, 27, 67})
	perfEventHelpers  = concatIDs(tracingBase, []int32{25, 27, 56, 67, 119, 174})
)

func concatIDs(lists ...[]int32) []int32 {
	var out []int32
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}
