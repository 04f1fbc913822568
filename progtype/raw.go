// Package progtype defines program types: what a program receives (its
// context and memory), which helpers it may call, and what its return value
// means.
package progtype

import (
	"github.com/ebpfvm/ebpfvm/vm"
)

// SetupRaw prepares m for a run of a raw program: mem becomes the input
// region (RegionData, readable and writable), and the returned arguments are
// r1 = its address and r2 = its length — the convention of the conformance
// suite and of uBPF. The program works on a private, 8-byte aligned copy of
// mem, which is returned as out so that the caller can see what the program
// wrote; the machine reuses that memory in its next run.
func SetupRaw(m *vm.Machine, mem []byte) (args [5]uint64, out []byte, err error) {
	out = cacheOf(m).buffer(len(mem))
	copy(out, mem)
	r, err := vm.NewRegion(out, vm.PermRW)
	if err != nil {
		return args, nil, err
	}
	if err := m.SetRegion(vm.RegionData, "input memory", r); err != nil {
		return args, nil, err
	}
	m.DataStart, m.DataEnd = 0, uint32(len(out))
	args[0] = vm.Addr(vm.RegionData, 0)
	args[1] = uint64(len(out))
	return args, out, nil
}
