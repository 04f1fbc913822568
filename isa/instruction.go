package isa

import "fmt"

// Register names one of the eleven BPF registers. R10 is the read-only frame
// pointer.
type Register uint8

// The registers.
const (
	R0 Register = iota
	R1
	R2
	R3
	R4
	R5
	R6
	R7
	R8
	R9
	R10
	RFP = R10
)

// MaxRegister is the highest valid register number.
const MaxRegister = R10

func (r Register) String() string { return fmt.Sprintf("r%d", uint8(r)) }

// SlotSize is the size in bytes of one instruction slot on the wire.
const SlotSize = 8

// Instruction is one decoded instruction. A lddw occupies two slots on the
// wire but is a single Instruction whose Imm holds the whole 64-bit value.
type Instruction struct {
	Opcode Opcode
	Dst    Register
	Src    Register
	Offset int16
	// Imm is the sign-extended 32-bit immediate; for lddw, the full 64-bit
	// immediate (low word from the first slot, high word from the second).
	Imm int64
}

// IsLDDW reports whether the instruction is the two-slot 64-bit immediate
// load.
func (ins Instruction) IsLDDW() bool { return ins.Opcode == OpLDDW }

// Slots is the number of 8-byte wire slots the instruction occupies.
func (ins Instruction) Slots() int {
	if ins.IsLDDW() {
		return 2
	}
	return 1
}

// Imm32 is the 32-bit immediate field of the first slot.
func (ins Instruction) Imm32() int32 { return int32(ins.Imm) }

// IsALU32 reports whether the instruction operates on 32-bit subregisters
// (class ALU or JMP32).
func (ins Instruction) IsALU32() bool {
	c := ins.Opcode.Class()
	return c == ClassALU || c == ClassJMP32
}

// IsHelperCall reports whether the instruction calls a helper by static id.
func (ins Instruction) IsHelperCall() bool { return ins.Opcode == OpCall && ins.Src == CallHelper }

// IsLocalCall reports whether the instruction is a bpf-to-bpf call.
func (ins Instruction) IsLocalCall() bool { return ins.Opcode == OpCall && ins.Src == CallLocal }

// IsKfuncCall reports whether the instruction calls a kernel function by BTF id.
func (ins Instruction) IsKfuncCall() bool { return ins.Opcode == OpCall && ins.Src == CallKfunc }

// IsExit reports whether the instruction is exit.
func (ins Instruction) IsExit() bool { return ins.Opcode == OpExit }

// IsUnconditionalJump reports whether the instruction is goto or gotol.
func (ins Instruction) IsUnconditionalJump() bool {
	return ins.Opcode == OpJA || ins.Opcode == OpJA32
}

// IsBranch reports whether the instruction transfers control to a relative
// target within the same function: goto, gotol, may_goto and the
// conditional jumps. Calls and exit are not branches.
func (ins Instruction) IsBranch() bool {
	c := ins.Opcode.Class()
	if !c.IsJump() {
		return false
	}
	op := ins.Opcode.JumpOp()
	return op != Call && op != Exit
}

// BranchOffset is the relative slot offset of a branch (Offset, or Imm for
// gotol). The target slot is the slot after the instruction plus this value.
func (ins Instruction) BranchOffset() int64 {
	if ins.Opcode == OpJA32 {
		return int64(int32(ins.Imm))
	}
	return int64(ins.Offset)
}

// AccessSize is the width in bytes of the memory access a load, store or
// atomic instruction makes, or 0 for other instructions.
func (ins Instruction) AccessSize() int {
	c := ins.Opcode.Class()
	if !c.IsLoadStore() || ins.IsLDDW() {
		return 0
	}
	return ins.Opcode.Size().Bytes()
}
