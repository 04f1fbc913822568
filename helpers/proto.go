// Package helpers holds the helper functions programs call: their kernel ids
// and names, their prototypes (read by the verifier) and their Go
// implementations over a run's memory and maps. A Registry binds ids to
// helpers; users register their own.
package helpers

import (
	"fmt"

	"github.com/ebpfvm/ebpfvm/vm"
)

// ArgKind is what a helper expects in one argument register. The verifier
// checks each argument against its kind, as the kernel's check_func_arg
// does with enum bpf_arg_type.
type ArgKind uint8

// Argument kinds.
const (
	ArgNone                 ArgKind = iota // the argument is not used
	ArgAnything                            // any initialised value
	ArgScalar                              // a number, not a pointer
	ArgConstMapPtr                         // a map pointer (lddw of a map)
	ArgPtrToMapKey                         // initialised memory of the map's key size
	ArgPtrToMapValue                       // initialised memory of the map's value size
	ArgPtrToUninitMapValue                 // writable memory of the map's value size
	ArgPtrToMem                            // initialised memory; its size is the next argument
	ArgPtrToMemOrNull                      // like ArgPtrToMem, or NULL
	ArgPtrToUninitMem                      // writable memory the helper fills; its size is the next argument
	ArgConstSize                           // the size of the previous memory argument, > 0
	ArgConstSizeOrZero                     // the size of the previous memory argument, >= 0
	ArgPtrToCtx                            // the program's context
	ArgPtrToFunc                           // a callback (lddw of a function)
	ArgPtrToStackOrNull                    // stack memory or NULL (callback context)
	ArgPtrToConstStr                       // a NUL-terminated string in read-only map memory
	ArgPtrToLong                           // writable 8 bytes
	ArgPtrToAllocMem                       // memory a helper allocated (a ring buffer record)
	ArgConstAllocSizeOrZero                // the size of the memory the helper allocates
)

var argKindNames = [...]string{
	ArgNone: "none", ArgAnything: "anything", ArgScalar: "scalar", ArgConstMapPtr: "const_map_ptr",
	ArgPtrToMapKey: "map_key", ArgPtrToMapValue: "map_value", ArgPtrToUninitMapValue: "uninit_map_value",
	ArgPtrToMem: "mem", ArgPtrToMemOrNull: "mem_or_null", ArgPtrToUninitMem: "uninit_mem",
	ArgConstSize: "const_size", ArgConstSizeOrZero: "const_size_or_zero", ArgPtrToCtx: "ctx",
	ArgPtrToFunc: "func", ArgPtrToStackOrNull: "stack_or_null", ArgPtrToConstStr: "const_str",
	ArgPtrToLong: "long", ArgPtrToAllocMem: "alloc_mem", ArgConstAllocSizeOrZero: "const_alloc_size_or_zero",
}

func (k ArgKind) String() string {
	if int(k) < len(argKindNames) {
		return argKindNames[k]
	}
	return fmt.Sprintf("arg(%d)", uint8(k))
}

// RetKind is what a helper returns in r0.
type RetKind uint8

// Return kinds.
const (
	RetInteger           RetKind = iota // a number
	RetVoid                             // nothing (r0 is undefined afterwards)
	RetMapValueOrNull                   // a pointer into the map argument's value, or NULL
	RetMapValue                         // a pointer into a map value, never NULL
	RetAllocMemOrNull                   // memory of the size argument, or NULL (must be released)
	RetInnerMapPtrOrNull                // lookup in a map of maps: a map pointer or NULL
)

var retKindNames = [...]string{
	RetInteger: "integer", RetVoid: "void", RetMapValueOrNull: "map_value_or_null",
	RetMapValue: "map_value", RetAllocMemOrNull: "alloc_mem_or_null", RetInnerMapPtrOrNull: "map_ptr_or_null",
}

func (k RetKind) String() string {
	if int(k) < len(retKindNames) {
		return retKindNames[k]
	}
	return fmt.Sprintf("ret(%d)", uint8(k))
}

// Proto is a helper's prototype.
type Proto struct {
	ID   int32
	Name string // the kernel's name without "bpf_", e.g. "map_lookup_elem"
	Args [5]ArgKind
	Ret  RetKind
	// CallbackArgs is, for helpers taking an ArgPtrToFunc, the number of
	// arguments the callback receives (bpf_loop: 2, for_each_map_elem: 4).
	CallbackArgs int
	// AcquiresRef marks helpers whose result must be released (ringbuf_reserve);
	// ReleasesRef those that release their ArgPtrToAllocMem argument.
	AcquiresRef, ReleasesRef bool
	// ChangesPacket marks helpers that move or resize the packet, after which
	// packet pointers must be checked again (bpf_xdp_adjust_head, ...).
	ChangesPacket bool
	// GPLOnly marks helpers the kernel offers only to GPL programs.
	GPLOnly bool
}

// NumArgs is the number of arguments the helper reads.
func (p *Proto) NumArgs() int {
	n := 0
	for i, a := range p.Args {
		if a != ArgNone {
			n = i + 1
		}
	}
	return n
}

func (p *Proto) String() string {
	s := fmt.Sprintf("bpf_%s#%d(", p.Name, p.ID)
	for i := range p.NumArgs() {
		if i > 0 {
			s += ", "
		}
		s += p.Args[i].String()
	}
	return s + ") " + p.Ret.String()
}

// KernelName returns the kernel's name of helper id ("bpf_map_lookup_elem"),
// or "" for an id the kernel does not define.
func KernelName(id int32) string {
	if id <= 0 || int(id) >= len(kernelNames) {
		return ""
	}
	return "bpf_" + kernelNames[id]
}

// KernelID returns the id of a kernel helper by name, with or without the
// "bpf_" prefix.
func KernelID(name string) (int32, bool) {
	if len(name) > 4 && name[:4] == "bpf_" {
		name = name[4:]
	}
	for id, n := range kernelNames {
		if id > 0 && n == name {
			return int32(id), true
		}
	}
	return 0, false
}

// Helper is a prototype with its implementation.
type Helper struct {
	Proto
	Func vm.HelperFunc
	// standard marks this package's own implementations, which engines may
	// inline (Registry.Inline).
	standard bool
}
