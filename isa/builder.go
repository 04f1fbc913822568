package isa

// Constructors that make hand-written programs in tests read like assembly:
//
//	isa.ALUMov.Imm(isa.R0, 0)
//	isa.JumpGT.Imm(isa.R1, 5, +2)
//	isa.Load(isa.R0, isa.R1, 4, isa.SizeW)
//	isa.Return()

// Imm returns the ALU64 instruction "dst op= imm".
func (op ALUOp) Imm(dst Register, imm int32) Instruction {
	return Instruction{Opcode: ALUOpcode(ClassALU64, op, SourceK), Dst: dst, Imm: int64(imm)}
}

// Reg returns the ALU64 instruction "dst op= src".
func (op ALUOp) Reg(dst, src Register) Instruction {
	return Instruction{Opcode: ALUOpcode(ClassALU64, op, SourceX), Dst: dst, Src: src}
}

// Imm32 returns the ALU (32-bit) instruction "wdst op= imm".
func (op ALUOp) Imm32(dst Register, imm int32) Instruction {
	return Instruction{Opcode: ALUOpcode(ClassALU, op, SourceK), Dst: dst, Imm: int64(imm)}
}

// Reg32 returns the ALU (32-bit) instruction "wdst op= wsrc".
func (op ALUOp) Reg32(dst, src Register) Instruction {
	return Instruction{Opcode: ALUOpcode(ClassALU, op, SourceX), Dst: dst, Src: src}
}

// Signed turns div or mod into sdiv or smod (offset 1).
func Signed(ins Instruction) Instruction { ins.Offset = 1; return ins }

// Neg returns "dst = -dst" (64-bit).
func Neg(dst Register) Instruction {
	return Instruction{Opcode: ALUOpcode(ClassALU64, ALUNeg, SourceK), Dst: dst}
}

// Neg32 returns "wdst = -wdst".
func Neg32(dst Register) Instruction {
	return Instruction{Opcode: ALUOpcode(ClassALU, ALUNeg, SourceK), Dst: dst}
}

// MovSX returns the sign-extending move "dst = (s<bits>)src" (64-bit; bits 8, 16 or 32).
func MovSX(dst, src Register, bits int16) Instruction {
	return Instruction{Opcode: ALUOpcode(ClassALU64, ALUMov, SourceX), Dst: dst, Src: src, Offset: bits}
}

// MovSX32 returns "wdst = (s<bits>)wsrc" (bits 8 or 16).
func MovSX32(dst, src Register, bits int16) Instruction {
	return Instruction{Opcode: ALUOpcode(ClassALU, ALUMov, SourceX), Dst: dst, Src: src, Offset: bits}
}

// ByteSwap returns "dst = bswap<bits> dst".
func ByteSwap(dst Register, bits int32) Instruction {
	return Instruction{Opcode: ALUOpcode(ClassALU64, ALUEnd, SourceK), Dst: dst, Imm: int64(bits)}
}

// ToLE returns "dst = le<bits> dst"; ToBE "dst = be<bits> dst".
func ToLE(dst Register, bits int32) Instruction {
	return Instruction{Opcode: ALUOpcode(ClassALU, ALUEnd, SourceK), Dst: dst, Imm: int64(bits)}
}

// ToBE returns "dst = be<bits> dst".
func ToBE(dst Register, bits int32) Instruction {
	return Instruction{Opcode: ALUOpcode(ClassALU, ALUEnd, SourceX), Dst: dst, Imm: int64(bits)}
}

// Imm returns the JMP instruction "if dst op imm goto off".
func (op JumpOp) Imm(dst Register, imm int32, off int16) Instruction {
	return Instruction{Opcode: JumpOpcode(ClassJMP, op, SourceK), Dst: dst, Imm: int64(imm), Offset: off}
}

// Reg returns the JMP instruction "if dst op src goto off".
func (op JumpOp) Reg(dst, src Register, off int16) Instruction {
	return Instruction{Opcode: JumpOpcode(ClassJMP, op, SourceX), Dst: dst, Src: src, Offset: off}
}

// Imm32 returns the JMP32 instruction "if wdst op imm goto off".
func (op JumpOp) Imm32(dst Register, imm int32, off int16) Instruction {
	return Instruction{Opcode: JumpOpcode(ClassJMP32, op, SourceK), Dst: dst, Imm: int64(imm), Offset: off}
}

// Reg32 returns the JMP32 instruction "if wdst op wsrc goto off".
func (op JumpOp) Reg32(dst, src Register, off int16) Instruction {
	return Instruction{Opcode: JumpOpcode(ClassJMP32, op, SourceX), Dst: dst, Src: src, Offset: off}
}

// Ja returns "goto off".
func Ja(off int16) Instruction { return Instruction{Opcode: OpJA, Offset: off} }

// Gotol returns "gotol off" (32-bit offset).
func Gotol(off int32) Instruction { return Instruction{Opcode: OpJA32, Imm: int64(off)} }

// HelperCall returns "call id".
func HelperCall(id int32) Instruction { return Instruction{Opcode: OpCall, Imm: int64(id)} }

// LocalCall returns a bpf-to-bpf call to the function off slots after the next one.
func LocalCall(off int32) Instruction {
	return Instruction{Opcode: OpCall, Src: CallLocal, Imm: int64(off)}
}

// CallReg returns "callx reg".
func CallReg(reg Register) Instruction { return Instruction{Opcode: OpCallX, Dst: reg} }

// Return returns "exit".
func Return() Instruction { return Instruction{Opcode: OpExit} }

// LoadImm64 returns "dst = v ll".
func LoadImm64(dst Register, v int64) Instruction {
	return Instruction{Opcode: OpLDDW, Dst: dst, Imm: v}
}

// LoadPseudo returns a lddw with a pseudo source, e.g. LoadPseudo(R1, PseudoMapFD, fd, 0).
func LoadPseudo(dst, pseudo Register, imm int32, hi int32) Instruction {
	return Instruction{Opcode: OpLDDW, Dst: dst, Src: pseudo, Imm: int64(uint64(uint32(imm)) | uint64(uint32(hi))<<32)}
}

// Load returns "dst = *(size *)(src + off)".
func Load(dst, src Register, off int16, size Size) Instruction {
	return Instruction{Opcode: MemOpcode(ClassLDX, ModeMEM, size), Dst: dst, Src: src, Offset: off}
}

// LoadSX returns the sign-extending "dst = *(s<size> *)(src + off)".
func LoadSX(dst, src Register, off int16, size Size) Instruction {
	return Instruction{Opcode: MemOpcode(ClassLDX, ModeMEMSX, size), Dst: dst, Src: src, Offset: off}
}

// Store returns "*(size *)(dst + off) = src".
func Store(dst Register, off int16, src Register, size Size) Instruction {
	return Instruction{Opcode: MemOpcode(ClassSTX, ModeMEM, size), Dst: dst, Src: src, Offset: off}
}

// StoreImm returns "*(size *)(dst + off) = imm".
func StoreImm(dst Register, off int16, imm int32, size Size) Instruction {
	return Instruction{Opcode: MemOpcode(ClassST, ModeMEM, size), Dst: dst, Offset: off, Imm: int64(imm)}
}

// Atomic returns the atomic operation op (AtomicAdd, AtomicXchg, ...,
// optionally with AtomicFetch) on *(size *)(dst + off) with src.
func Atomic(op int64, dst Register, off int16, src Register, size Size) Instruction {
	return Instruction{Opcode: MemOpcode(ClassSTX, ModeATOMIC, size), Dst: dst, Src: src, Offset: off, Imm: op}
}

// LoadAbs returns the legacy packet load "r0 = *(size *)skb[imm]".
func LoadAbs(imm int32, size Size) Instruction {
	return Instruction{Opcode: MemOpcode(ClassLD, ModeABS, size), Imm: int64(imm)}
}

// LoadInd returns the legacy packet load "r0 = *(size *)skb[src + imm]".
func LoadInd(src Register, imm int32, size Size) Instruction {
	return Instruction{Opcode: MemOpcode(ClassLD, ModeIND, size), Src: src, Imm: int64(imm)}
}
