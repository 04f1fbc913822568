// Package insnedit deletes and inserts instructions in a program while
// keeping its control flow: the relative offsets of branches, bpf-to-bpf
// calls and function-pointer loads are recomputed for the new layout. The
// kernel package uses it to instrument programs and the program generator's
// shrinker to cut them down.
package insnedit

import (
	"fmt"
	"math"

	"github.com/ebpfvm/ebpfvm/isa"
)

// Apply rewrites insns: old instruction i survives if keep is nil or keep(i)
// is true, and the instructions before[i] are inserted in front of old
// position i (before[len(insns)] are appended). It returns the new program
// and, for each old instruction, its new index (-1 if deleted).
//
// A control transfer to old instruction t lands on the first instruction
// emitted at position t or after it: the code inserted before t if any, else
// t itself, else whatever follows a deleted t. Inserted instructions are
// copied as they are; their own offsets must be relative to their block.
func Apply(insns []isa.Instruction, keep func(i int) bool, before map[int][]isa.Instruction) ([]isa.Instruction, []int, error) {
	n := len(insns)
	oldSlots := isa.SlotIndex(insns)
	// slotInsn maps an old slot to its instruction index (-1 inside a lddw).
	slotInsn := make([]int, oldSlots[n]+1)
	for i := range slotInsn {
		slotInsn[i] = -1
	}
	for i := range insns {
		slotInsn[oldSlots[i]] = i
	}
	slotInsn[oldSlots[n]] = n

	var out []isa.Instruction
	newIndex := make([]int, n)
	// landing[i] is the new index where control aimed at old position i
	// arrives; origin[j] is the old index of new instruction j, or -1 for
	// inserted ones.
	landing := make([]int, n+1)
	var origin []int
	for i := 0; i <= n; i++ {
		landing[i] = len(out)
		for _, ins := range before[i] {
			out = append(out, ins)
			origin = append(origin, -1)
		}
		if i == n {
			break
		}
		if keep == nil || keep(i) {
			newIndex[i] = len(out)
			out = append(out, insns[i])
			origin = append(origin, i)
		} else {
			newIndex[i] = -1
		}
	}
	// A landing on a deleted instruction with nothing inserted before it
	// moves on to whatever comes next: landing[i] already is that index.
	newSlots := isa.SlotIndex(out)

	for j, ins := range out {
		i := origin[j]
		if i < 0 {
			continue
		}
		rel, ok := relative(ins)
		if !ok {
			continue
		}
		targetSlot := int64(oldSlots[i]) + 1 + rel
		if targetSlot < 0 || targetSlot > int64(oldSlots[n]) || slotInsn[targetSlot] < 0 {
			return nil, nil, fmt.Errorf("insn %d: target slot %d is not an instruction", i, targetSlot)
		}
		t := slotInsn[targetSlot]
		if landing[t] >= len(out) {
			return nil, nil, fmt.Errorf("insn %d: its target, insn %d, was deleted and nothing follows it", i, t)
		}
		newRel := int64(newSlots[landing[t]]) - int64(newSlots[j]) - 1
		fixed, err := setRelative(ins, newRel)
		if err != nil {
			return nil, nil, fmt.Errorf("insn %d: %w", i, err)
		}
		out[j] = fixed
	}
	return out, newIndex, nil
}

// relative returns the slot offset an instruction carries to another
// instruction of the program, if it has one.
func relative(ins isa.Instruction) (int64, bool) {
	switch {
	case ins.IsBranch():
		return ins.BranchOffset(), true
	case ins.IsLocalCall(), ins.IsLDDW() && ins.Src == isa.PseudoFunc:
		return int64(int32(ins.Imm)), true
	}
	return 0, false
}

func setRelative(ins isa.Instruction, rel int64) (isa.Instruction, error) {
	switch {
	case ins.Opcode == isa.OpJA32, ins.IsLocalCall(), ins.IsLDDW():
		if rel < math.MinInt32 || rel > math.MaxInt32 {
			return ins, fmt.Errorf("offset %d does not fit in 32 bits", rel)
		}
		ins.Imm = rel
	default:
		if rel < math.MinInt16 || rel > math.MaxInt16 {
			return ins, fmt.Errorf("offset %d does not fit in 16 bits", rel)
		}
		ins.Offset = int16(rel)
	}
	return ins, nil
}

// Functions returns the instruction index where each function of the
// program starts, in order: 0 for the main function, then every target of a
// bpf-to-bpf call or function-pointer load.
func Functions(insns []isa.Instruction) []int {
	slots := isa.SlotIndex(insns)
	starts := map[int]bool{0: true}
	bySlot := make(map[int]int, len(insns))
	for i := range insns {
		bySlot[slots[i]] = i
	}
	for i, ins := range insns {
		if ins.IsLocalCall() || ins.IsLDDW() && ins.Src == isa.PseudoFunc {
			if t, ok := bySlot[slots[i]+1+int(int32(ins.Imm))]; ok {
				starts[t] = true
			}
		}
	}
	out := make([]int, 0, len(starts))
	for i := range insns {
		if starts[i] {
			out = append(out, i)
		}
	}
	return out
}
