package isa

import "fmt"

// SlotIndex returns, for each instruction, the index of its first wire slot
// (the kernel's instruction index), plus the total number of slots as the
// last element.
func SlotIndex(insns []Instruction) []int {
	idx := make([]int, len(insns)+1)
	slot := 0
	for i, ins := range insns {
		idx[i] = slot
		slot += ins.Slots()
	}
	idx[len(insns)] = slot
	return idx
}

// Listing formats instructions one per line as "<slot>: <text>", the form of
// `ebpfvm disasm`.
func Listing(insns []Instruction) string {
	var out []byte
	slot := 0
	for _, ins := range insns {
		out = fmt.Appendf(out, "%d: %s\n", slot, ins)
		slot += ins.Slots()
	}
	return string(out)
}
