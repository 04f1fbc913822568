package verifier

import (
	"github.com/ebpfvm/ebpfvm/helpers"
	"github.com/ebpfvm/ebpfvm/progtype"
)

// typeInfo is what the verifier needs to know of a program type beyond
// progtype.Type: how r1 starts, the packet and legacy-load rights and the
// rule for the return value.
type typeInfo struct {
	t    progtype.Type
	name string
	// raw: r1 points to input memory of run-time length, r2 holds it.
	raw bool
	// check applies the context access rules.
	check func(off, size int, write bool) (*progtype.Field, error)
	// pktWrite allows stores through packet pointers (reads are allowed
	// wherever packet pointers exist, as in the kernel).
	pktWrite bool
	// ldAbs allows the legacy packet loads (the kernel's may_access_skb).
	ldAbs bool
	// retRange restricts r0 at the main program's exit to [retMin, retMax].
	retRange       bool
	retMin, retMax int64
	// kernel marks a verification-only type whose helpers' prototypes may
	// come from the kernel's table.
	kernel bool
}

func newTypeInfo(t progtype.Type) typeInfo {
	if t == nil {
		t = progtype.Raw
	}
	ti := typeInfo{t: t, name: t.Name()}
	if l := t.Layout(); l != nil {
		ti.check = l.Check
	} else {
		ti.raw = true
	}
	if kt, ok := t.(interface {
		CheckContext(off, size int, write bool) (*progtype.Field, error)
	}); ok {
		ti.check = kt.CheckContext
	}
	_, ti.kernel = t.(*progtype.KernelType)
	switch ti.name {
	case "socket_filter":
		ti.ldAbs = true
	case "xdp":
		ti.pktWrite = true
	case "sched_cls", "sched_act":
		ti.ldAbs, ti.pktWrite = true, true
	case "cgroup_skb":
		ti.retRange, ti.retMin, ti.retMax = true, 0, 1
	default:
		// User hooks own the data buffer they pass; it is writable.
		if !ti.kernel && !ti.raw {
			ti.pktWrite = true
		}
	}
	return ti
}

// unprivHelpers are the helpers the kernel offers a loader without CAP_BPF:
// bpf_base_func_proto's unprivileged part plus the socket filter's own.
var unprivHelpers = map[int32]bool{
	1: true, 2: true, 3: true, 87: true, 88: true, 89: true, 195: true,
	7: true, 8: true, 42: true, 12: true, 5: true, 125: true, 208: true,
	130: true, 131: true, 132: true, 133: true, 134: true,
	182: true, 105: true, 106: true, 14: true, 120: true, 15: true,
	25: true, 26: true, 46: true, 47: true, 68: true,
}

// helperProto returns the prototype of helper id for this program, or nil.
func (e *env) helperProto(id int32) *helpers.Proto {
	if h, ok := e.reg.Lookup(id); ok {
		return &h.Proto
	}
	if p, ok := kernelProtos[id]; ok && e.typ.kernel {
		return p
	}
	return nil
}
