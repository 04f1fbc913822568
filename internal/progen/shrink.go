package progen

import (
	"maps"
	"slices"

	"github.com/ebpfvm/ebpfvm/internal/insnedit"
	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/kernel"
)

// Shrinker reduces a program on which a predicate holds (typically: "the
// kernel accepts it and some engine disagrees with the kernel") to a small
// one on which it still holds.
type Shrinker struct {
	// Fails is the predicate. It must be deterministic.
	Fails func(*Program) bool
	// MaxTries bounds the calls of Fails; 0 means 20000.
	MaxTries int
	// Tries counts the calls made.
	Tries int

	changed bool // a pass changed the program without shrinking it
}

// Shrink returns the smallest program it finds on which s.Fails holds,
// starting from p (on which it must hold). It deletes runs of instructions
// (halving their length down to one), simplifies what remains (immediates
// towards 0, register operands to immediates, 64-bit immediates to 32-bit
// ones, registers renamed to r0 so that a wrong value reaches the return
// value), and trims the input and the maps, until nothing changes.
func (s *Shrinker) Shrink(p *Program) *Program {
	if s.MaxTries <= 0 {
		s.MaxTries = 20000
	}
	cur := p.Clone()
	for s.Tries < s.MaxTries {
		before := size(cur)
		cur = s.deleteRuns(cur)
		cur = s.simplify(cur)
		cur = s.rename(cur)
		cur = s.trimInput(cur)
		cur = dropUnusedMaps(cur)
		if size(cur) >= before && !s.changed {
			break
		}
		s.changed = false
	}
	return cur
}

// size orders candidates: fewer instructions first, then fewer slots.
func size(p *Program) int {
	insns := p.Spec.Program.Instructions
	return len(insns)*4 + isa.SlotIndex(insns)[len(insns)]
}

func (s *Shrinker) try(c *Program) bool {
	if c == nil || s.Tries >= s.MaxTries {
		return false
	}
	s.Tries++
	return s.Fails(c)
}

// deleteRuns removes runs of k instructions for k = n/2, n/4, ..., 1.
func (s *Shrinker) deleteRuns(p *Program) *Program {
	for k := len(p.Spec.Program.Instructions) / 2; k >= 1; k /= 2 {
		for i := 0; i < len(p.Spec.Program.Instructions); {
			c := withEdit(p, func(j int) bool { return j < i || j >= i+k }, nil)
			if s.try(c) {
				p = c
				continue
			}
			i += k
		}
	}
	return p
}

// withEdit applies insnedit.Apply to a copy of p, remapping references,
// then drops the code the edit left unreachable (the kernel refuses
// unreachable instructions). It returns nil when the edit breaks the
// control flow.
func withEdit(p *Program, keep func(int) bool, before map[int][]isa.Instruction) *Program {
	c := edit(p, keep, before)
	if c == nil {
		return nil
	}
	live := reachable(c.Spec.Program.Instructions)
	if !slices.Contains(live, false) {
		return c
	}
	return edit(c, func(i int) bool { return live[i] }, nil)
}

func edit(p *Program, keep func(int) bool, before map[int][]isa.Instruction) *Program {
	prog := p.Spec.Program
	insns, index, err := insnedit.Apply(prog.Instructions, keep, before)
	if err != nil || len(insns) == 0 {
		return nil
	}
	c := p.Clone()
	c.Spec.Program.Instructions = insns
	refs := map[int]kernel.Reference{}
	for i, ref := range prog.References {
		if j := index[i]; j >= 0 {
			refs[j] = ref
		}
	}
	c.Spec.Program.References = refs
	return c
}

// reachable marks the instructions control can reach from the entry,
// following branches, bpf-to-bpf calls and function pointers.
func reachable(insns []isa.Instruction) []bool {
	slots := isa.SlotIndex(insns)
	bySlot := make(map[int]int, len(insns))
	for i := range insns {
		bySlot[slots[i]] = i
	}
	live := make([]bool, len(insns))
	work := []int{0}
	visit := func(i int) {
		if i >= 0 && i < len(insns) && !live[i] {
			live[i] = true
			work = append(work, i)
		}
	}
	live[0] = true
	rel := func(i int, off int64) int {
		if t, ok := bySlot[slots[i]+1+int(off)]; ok {
			return t
		}
		return -1
	}
	for len(work) > 0 {
		i := work[len(work)-1]
		work = work[:len(work)-1]
		ins := insns[i]
		switch {
		case ins.IsExit():
		case ins.IsUnconditionalJump():
			visit(rel(i, ins.BranchOffset()))
		case ins.IsBranch():
			visit(i + 1)
			visit(rel(i, ins.BranchOffset()))
		case ins.IsLocalCall(), ins.IsLDDW() && ins.Src == isa.PseudoFunc:
			visit(i + 1)
			visit(rel(i, int64(int32(ins.Imm))))
		default:
			visit(i + 1)
		}
	}
	return live
}

// replace returns p with instruction i replaced by ins.
func replace(p *Program, i int, ins isa.Instruction) *Program {
	old := p.Spec.Program.Instructions[i]
	if old.Slots() == ins.Slots() {
		c := p.Clone()
		c.Spec.Program.Instructions[i] = ins
		if !ins.IsLDDW() || ins.Src == isa.PseudoNone {
			delete(c.Spec.Program.References, i)
		}
		return c
	}
	return withEdit(p, func(j int) bool { return j != i }, map[int][]isa.Instruction{i: {ins}})
}

// simpler lists replacements of ins that are simpler, most aggressive first.
func simpler(ins isa.Instruction) []isa.Instruction {
	var out []isa.Instruction
	c := ins.Opcode.Class()
	switch {
	case ins.IsLDDW() && ins.Src == isa.PseudoNone:
		out = append(out, isa.ALUMov.Imm(ins.Dst, 0))
		if ins.Imm >= -1<<31 && ins.Imm < 1<<31 {
			out = append(out, isa.ALUMov.Imm(ins.Dst, int32(ins.Imm)))
		}
	case c.IsALU() && ins.Opcode.Source() == isa.SourceX && ins.Opcode.ALUOp() != isa.ALUEnd:
		for _, v := range []int32{0, 1, -1, 2, -2, 7, -7} {
			k := ins
			k.Opcode = isa.ALUOpcode(c, ins.Opcode.ALUOp(), isa.SourceK)
			k.Src, k.Imm = 0, int64(v)
			if ins.Opcode.ALUOp() == isa.ALUMov {
				k.Offset = 0
			}
			out = append(out, k)
		}
	case c.IsJump() && ins.Opcode.JumpOp().IsConditional() && ins.Opcode.Source() == isa.SourceX:
		for _, v := range []int32{0, 1, -1} {
			k := ins
			k.Opcode = isa.JumpOpcode(c, ins.Opcode.JumpOp(), isa.SourceK)
			k.Src, k.Imm = 0, int64(v)
			out = append(out, k)
		}
	}
	// Immediates towards zero, for instructions that have one.
	if ins.Imm != 0 && !ins.IsLDDW() && !ins.IsHelperCall() && !ins.IsLocalCall() && ins.Opcode != isa.OpJA32 &&
		(c.IsALU() && ins.Opcode.Source() == isa.SourceK && ins.Opcode.ALUOp() != isa.ALUEnd ||
			c.IsJump() && ins.Opcode.Source() == isa.SourceK || c == isa.ClassST || c == isa.ClassLD) {
		for _, v := range []int64{0, 1, -1, ins.Imm / 2} {
			if simplerConst(v, ins.Imm) {
				k := ins
				k.Imm = v
				out = append(out, k)
			}
		}
	}
	return out
}

// simplerConst orders constants so that simplification terminates: smaller
// magnitude first, then positive before negative.
func simplerConst(v, old int64) bool {
	abs := func(x int64) uint64 {
		if x < 0 {
			return uint64(-x)
		}
		return uint64(x)
	}
	return abs(v) < abs(old) || abs(v) == abs(old) && v > 0 && old < 0
}

func (s *Shrinker) simplify(p *Program) *Program {
	for i := 0; i < len(p.Spec.Program.Instructions); i++ {
		for _, ins := range simpler(p.Spec.Program.Instructions[i]) {
			if c := replace(p, i, ins); s.try(c) {
				p = c
				s.changed = true
				break
			}
		}
	}
	return p
}

// rename swaps r0 with another register in the whole program when that
// lets deleteRuns remove more: a wrong value held in rN at the end shows
// in the return value after the swap, and the code that exposed rN can go.
func (s *Shrinker) rename(p *Program) *Program {
	for r := isa.R1; r <= isa.R9; r++ {
		c := p.Clone()
		for i, ins := range c.Spec.Program.Instructions {
			c.Spec.Program.Instructions[i] = swapReg(ins, isa.R0, r)
		}
		if !s.try(c) {
			continue
		}
		if d := s.deleteRuns(c); size(d) < size(p) {
			p = d
			s.changed = true
		}
	}
	return p
}

// swapReg exchanges registers a and b in the operands of ins. Helper calls
// and exits use r0 implicitly, so the swap changes their meaning; the
// predicate decides whether the result still fails.
func swapReg(ins isa.Instruction, a, b isa.Register) isa.Instruction {
	sw := func(r isa.Register) isa.Register {
		switch r {
		case a:
			return b
		case b:
			return a
		}
		return r
	}
	if !ins.IsHelperCall() && !ins.IsLocalCall() && !ins.IsExit() {
		ins.Dst = sw(ins.Dst)
		c := ins.Opcode.Class()
		if !(ins.IsLDDW() || c == isa.ClassST || c.IsALU() && ins.Opcode.Source() == isa.SourceK ||
			c.IsJump() && ins.Opcode.Source() == isa.SourceK) {
			ins.Src = sw(ins.Src)
		}
	}
	return ins
}

// trimInput shortens the packet, zeroes bytes, and drops map contents.
func (s *Shrinker) trimInput(p *Program) *Program {
	for n := len(p.Input.Data); n >= 1; n /= 2 {
		if len(p.Input.Data) < n {
			continue
		}
		c := p.Clone()
		c.Input.Data = c.Input.Data[:len(c.Input.Data)-n]
		if s.try(c) {
			p = c
			s.changed = true
		}
	}
	if !allZero(p.Input.Data) {
		c := p.Clone()
		clear(c.Input.Data)
		if s.try(c) {
			p = c
			s.changed = true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(p.Spec.Maps)) {
		for i := len(p.Spec.Maps[name].Contents) - 1; i >= 0; i-- {
			c := p.Clone()
			m := c.Spec.Maps[name]
			m.Contents = slices.Delete(m.Contents, i, i+1)
			if s.try(c) {
				p = c
				s.changed = true
			}
		}
	}
	return p
}

func allZero(b []byte) bool { return !slices.ContainsFunc(b, func(c byte) bool { return c != 0 }) }

// dropUnusedMaps removes maps no instruction refers to (and out-map slot
// names when the out map goes).
func dropUnusedMaps(p *Program) *Program {
	used := map[string]bool{}
	for _, ref := range p.Spec.Program.References {
		used[ref.Map] = true
	}
	c := p.Clone()
	for name := range c.Spec.Maps {
		if !used[name] {
			delete(c.Spec.Maps, name)
		}
	}
	if !used[c.Out] {
		c.Out, c.OutSlots = "", nil
	}
	return c
}
