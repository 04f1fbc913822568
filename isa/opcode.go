// Package isa describes the BPF instruction set of RFC 9669 (cpu versions v1
// to v4, atomics, legacy packet loads) plus the two later additions LLVM 19
// knows (may_goto, addr_space_cast): opcodes and their fields, decoding and
// encoding of the wire format, and instruction text in LLVM's syntax and in
// the Linux verifier log's.
package isa

import "fmt"

// Opcode is the first byte of an instruction. Its low three bits are the
// class; the meaning of the other bits depends on the class.
type Opcode uint8

// Class is the instruction class, the low three bits of an opcode.
type Class uint8

// The eight instruction classes.
const (
	ClassLD    Class = 0x00
	ClassLDX   Class = 0x01
	ClassST    Class = 0x02
	ClassSTX   Class = 0x03
	ClassALU   Class = 0x04
	ClassJMP   Class = 0x05
	ClassJMP32 Class = 0x06
	ClassALU64 Class = 0x07
)

var classNames = [8]string{"ld", "ldx", "st", "stx", "alu", "jmp", "jmp32", "alu64"}

func (c Class) String() string { return classNames[c&7] }

// IsALU reports whether the class is ALU or ALU64.
func (c Class) IsALU() bool { return c == ClassALU || c == ClassALU64 }

// IsJump reports whether the class is JMP or JMP32.
func (c Class) IsJump() bool { return c == ClassJMP || c == ClassJMP32 }

// IsLoadStore reports whether the class is one of LD, LDX, ST, STX.
func (c Class) IsLoadStore() bool { return c <= ClassSTX }

// Source selects the second operand of ALU and jump instructions.
type Source uint8

// Operand sources. For the END operation of class ALU the same bit selects
// the byte order: SourceK means little endian, SourceX big endian.
const (
	SourceK Source = 0x00 // the 32-bit immediate
	SourceX Source = 0x08 // the source register
)

func (s Source) String() string {
	if s == SourceX {
		return "X"
	}
	return "K"
}

// ALUOp is the operation of an ALU or ALU64 instruction (bits 4-7).
type ALUOp uint8

// ALU operations.
const (
	ALUAdd  ALUOp = 0x00
	ALUSub  ALUOp = 0x10
	ALUMul  ALUOp = 0x20
	ALUDiv  ALUOp = 0x30 // offset 1: signed division
	ALUOr   ALUOp = 0x40
	ALUAnd  ALUOp = 0x50
	ALULsh  ALUOp = 0x60
	ALURsh  ALUOp = 0x70
	ALUNeg  ALUOp = 0x80
	ALUMod  ALUOp = 0x90 // offset 1: signed modulo
	ALUXor  ALUOp = 0xa0
	ALUMov  ALUOp = 0xb0 // offset 8/16/32: sign-extending move; ALU64 offset 1: addr_space_cast
	ALUArsh ALUOp = 0xc0
	ALUEnd  ALUOp = 0xd0 // byte swaps
)

var aluOpNames = [16]string{"add", "sub", "mul", "div", "or", "and", "lsh", "rsh", "neg", "mod", "xor", "mov", "arsh", "end", "0xe0", "0xf0"}

func (op ALUOp) String() string { return aluOpNames[op>>4] }

// JumpOp is the operation of a JMP or JMP32 instruction (bits 4-7).
type JumpOp uint8

// Jump operations.
const (
	JumpA    JumpOp = 0x00 // goto; in JMP32 the 32-bit-offset gotol
	JumpEq   JumpOp = 0x10
	JumpGT   JumpOp = 0x20
	JumpGE   JumpOp = 0x30
	JumpSet  JumpOp = 0x40
	JumpNE   JumpOp = 0x50
	JumpSGT  JumpOp = 0x60
	JumpSGE  JumpOp = 0x70
	Call     JumpOp = 0x80
	Exit     JumpOp = 0x90
	JumpLT   JumpOp = 0xa0
	JumpLE   JumpOp = 0xb0
	JumpSLT  JumpOp = 0xc0
	JumpSLE  JumpOp = 0xd0
	JumpCond JumpOp = 0xe0 // may_goto (src 0), not in RFC 9669
)

var jumpOpNames = [16]string{"ja", "jeq", "jgt", "jge", "jset", "jne", "jsgt", "jsge", "call", "exit", "jlt", "jle", "jslt", "jsle", "jcond", "0xf0"}

func (op JumpOp) String() string { return jumpOpNames[op>>4] }

// IsConditional reports whether the operation compares two operands.
func (op JumpOp) IsConditional() bool {
	switch op {
	case JumpA, Call, Exit, JumpCond, 0xf0:
		return false
	}
	return true
}

// Mode is the mode of a load or store instruction (bits 5-7).
type Mode uint8

// Load and store modes.
const (
	ModeIMM    Mode = 0x00 // lddw (64-bit immediate, two slots)
	ModeABS    Mode = 0x20 // legacy packet load, absolute offset
	ModeIND    Mode = 0x40 // legacy packet load, register + offset
	ModeMEM    Mode = 0x60
	ModeMEMSX  Mode = 0x80 // sign-extending load
	ModeATOMIC Mode = 0xc0
)

var modeNames = [8]string{"imm", "abs", "ind", "mem", "memsx", "0xa0", "atomic", "0xe0"}

func (m Mode) String() string { return modeNames[m>>5] }

// Size is the access width of a load or store instruction (bits 3-4).
type Size uint8

// Access widths.
const (
	SizeW  Size = 0x00 // 4 bytes
	SizeH  Size = 0x08 // 2 bytes
	SizeB  Size = 0x10 // 1 byte
	SizeDW Size = 0x18 // 8 bytes
)

// Bytes is the width in bytes.
func (s Size) Bytes() int {
	switch s {
	case SizeW:
		return 4
	case SizeH:
		return 2
	case SizeB:
		return 1
	}
	return 8
}

var sizeNames = [4]string{"w", "h", "b", "dw"}

func (s Size) String() string { return sizeNames[(s>>3)&3] }

// SizeFor returns the Size of an access of n bytes (1, 2, 4 or 8).
func SizeFor(n int) (Size, bool) {
	switch n {
	case 1:
		return SizeB, true
	case 2:
		return SizeH, true
	case 4:
		return SizeW, true
	case 8:
		return SizeDW, true
	}
	return 0, false
}

// Class returns the instruction class.
func (op Opcode) Class() Class { return Class(op & 0x07) }

// Source returns the operand source bit of ALU and jump opcodes.
func (op Opcode) Source() Source { return Source(op & 0x08) }

// ALUOp returns the operation of an ALU or ALU64 opcode.
func (op Opcode) ALUOp() ALUOp { return ALUOp(op & 0xf0) }

// JumpOp returns the operation of a JMP or JMP32 opcode.
func (op Opcode) JumpOp() JumpOp { return JumpOp(op & 0xf0) }

// Mode returns the mode of a load or store opcode.
func (op Opcode) Mode() Mode { return Mode(op & 0xe0) }

// Size returns the access width of a load or store opcode.
func (op Opcode) Size() Size { return Size(op & 0x18) }

// ALUOpcode builds the opcode of an ALU or ALU64 instruction.
func ALUOpcode(c Class, op ALUOp, s Source) Opcode { return Opcode(uint8(c) | uint8(op) | uint8(s)) }

// JumpOpcode builds the opcode of a JMP or JMP32 instruction.
func JumpOpcode(c Class, op JumpOp, s Source) Opcode { return Opcode(uint8(c) | uint8(op) | uint8(s)) }

// MemOpcode builds the opcode of a load or store instruction.
func MemOpcode(c Class, m Mode, s Size) Opcode { return Opcode(uint8(c) | uint8(m) | uint8(s)) }

// Frequently used whole opcodes.
const (
	OpLDDW     Opcode = Opcode(uint8(ClassLD) | uint8(ModeIMM) | uint8(SizeDW)) // 0x18
	OpCall     Opcode = Opcode(uint8(ClassJMP) | uint8(Call))                   // 0x85
	OpCallX    Opcode = OpCall | Opcode(SourceX)                                // 0x8d
	OpExit     Opcode = Opcode(uint8(ClassJMP) | uint8(Exit))                   // 0x95
	OpJA       Opcode = Opcode(ClassJMP)                                        // 0x05
	OpJA32     Opcode = Opcode(ClassJMP32)                                      // 0x06, gotol
	OpMayGoto  Opcode = Opcode(uint8(ClassJMP) | uint8(JumpCond))               // 0xe5
	OpMov64Imm Opcode = Opcode(uint8(ClassALU64) | uint8(ALUMov))               // 0xb7
	OpMov64Reg Opcode = OpMov64Imm | Opcode(SourceX)                            // 0xbf
)

// String names the opcode by its fields, e.g. "alu64|add|X" or "ldx|mem|w".
func (op Opcode) String() string {
	c := op.Class()
	switch {
	case c.IsALU():
		return fmt.Sprintf("%s|%s|%s", c, op.ALUOp(), op.Source())
	case c.IsJump():
		return fmt.Sprintf("%s|%s|%s", c, op.JumpOp(), op.Source())
	default:
		return fmt.Sprintf("%s|%s|%s", c, op.Mode(), op.Size())
	}
}

// Atomic operations, carried in the immediate of STX|ATOMIC instructions.
const (
	AtomicAdd     int64 = 0x00
	AtomicOr      int64 = 0x40
	AtomicAnd     int64 = 0x50
	AtomicXor     int64 = 0xa0
	AtomicFetch   int64 = 0x01 // flag: the old value is returned in src
	AtomicXchg    int64 = 0xe0 | AtomicFetch
	AtomicCmpXchg int64 = 0xf0 | AtomicFetch
)

// Pseudo sources of lddw (the src field of the first slot).
const (
	PseudoNone        Register = 0 // a plain 64-bit constant
	PseudoMapFD       Register = 1 // imm: map fd (or loader map number); result: map pointer
	PseudoMapValue    Register = 2 // imm: map fd, high imm: offset; result: pointer into the map's value
	PseudoBTFID       Register = 3 // imm: BTF id of a kernel variable
	PseudoFunc        Register = 4 // imm: slot offset of a function; result: function pointer
	PseudoMapIdx      Register = 5 // like MapFD, imm indexes the fd array given at load
	PseudoMapIdxValue Register = 6 // like MapValue, imm indexes the fd array given at load
)

// Call sources (the src field of a call instruction).
const (
	CallHelper Register = 0 // imm: helper id
	CallLocal  Register = 1 // imm: slot offset of a bpf-to-bpf function
	CallKfunc  Register = 2 // imm: BTF id of a kernel function
)
