package isa

import (
	"fmt"
	"strconv"
	"strings"
)

// String returns the instruction in LLVM's BPF assembly syntax, exactly as
// llvm-objdump and llvm-mc (LLVM 19, -mcpu=v4) print it, so that text from
// this package and from the toolchain can be compared and mixed.
//
// LLVM's text loses information for a few encodings; there the text is
// extended in the same style so that it can be assembled back to the same
// bytes:
//   - bpf-to-bpf call (src 1): "call pc+N" (LLVM prints "call N", the text of
//     a helper call); kfunc call (src 2): "call kfunc N";
//   - lddw with a pseudo source and a non-zero high word: "ld_pseudo r1, 2,
//     V" with V the full 64-bit immediate as an unsigned number (LLVM prints
//     only the low word, also unsigned);
//   - ld_ind with a non-zero immediate: "r0 = *(u32 *)skb[r1 + 4]" (LLVM
//     drops the immediate).
//
// An instruction that Validate rejects is printed as ".insn" followed by its
// fields, never as a misleading mnemonic.
func (ins Instruction) String() string {
	if ins.Validate() != nil {
		return ins.rawText()
	}
	var b strings.Builder
	ins.appendLLVM(&b)
	return b.String()
}

func (ins Instruction) rawText() string {
	return fmt.Sprintf(".insn op=%#02x dst=%d src=%d off=%d imm=%d", uint8(ins.Opcode), ins.Dst, ins.Src, ins.Offset, ins.Imm)
}

// LLVM names the operator of an ALU operation in compound-assignment form.
var aluOperators = [16]string{"+=", "-=", "*=", "/=", "|=", "&=", "<<=", ">>=", "", "%=", "^=", "=", "s>>=", "", "", ""}

var jumpOperators = [16]string{"", "==", ">", ">=", "&", "!=", "s>", "s>=", "", "", "<", "<=", "s<", "s<=", "", ""}

var sizeTypes = [4]string{"u32", "u16", "u8", "u64"}
var signedSizeTypes = [4]string{"s32", "s16", "s8", "s64"}

// regName returns "rN", or "wN" for 32-bit operands.
func regName(r Register, w32 bool) string {
	if w32 {
		return "w" + strconv.Itoa(int(r))
	}
	return "r" + strconv.Itoa(int(r))
}

// signedOffset formats a pc-relative offset with an explicit sign: "+2", "-3".
func signedOffset(v int64) string {
	if v < 0 {
		return strconv.FormatInt(v, 10)
	}
	return "+" + strconv.FormatInt(v, 10)
}

// memOperand formats "(r1 + 4)" / "(r1 - 4)".
func memOperand(base Register, off int16) string {
	if off < 0 {
		return fmt.Sprintf("(%s - %d)", base, -int32(off))
	}
	return fmt.Sprintf("(%s + %d)", base, off)
}

func (ins Instruction) appendLLVM(b *strings.Builder) {
	op := ins.Opcode
	switch c := op.Class(); c {
	case ClassALU, ClassALU64:
		ins.appendALU(b, c == ClassALU)
	case ClassJMP, ClassJMP32:
		ins.appendJump(b, c == ClassJMP32)
	case ClassLD:
		switch op.Mode() {
		case ModeIMM:
			if ins.Src == PseudoNone {
				fmt.Fprintf(b, "%s = %d ll", ins.Dst, ins.Imm)
			} else {
				// LLVM prints the low word unsigned. With a non-zero high
				// word the whole immediate is printed unsigned too, so that
				// the two forms never overlap: a value above 2^32-1 can only
				// mean a 64-bit immediate.
				fmt.Fprintf(b, "ld_pseudo %s, %d, %d", ins.Dst, ins.Src, uint64(ins.Imm))
			}
		case ModeABS:
			fmt.Fprintf(b, "r0 = *(%s *)skb[%d]", sizeTypes[op.Size()>>3], ins.Imm)
		case ModeIND:
			if ins.Imm == 0 {
				fmt.Fprintf(b, "r0 = *(%s *)skb[%s]", sizeTypes[op.Size()>>3], ins.Src)
			} else if ins.Imm < 0 {
				fmt.Fprintf(b, "r0 = *(%s *)skb[%s - %d]", sizeTypes[op.Size()>>3], ins.Src, -ins.Imm)
			} else {
				fmt.Fprintf(b, "r0 = *(%s *)skb[%s + %d]", sizeTypes[op.Size()>>3], ins.Src, ins.Imm)
			}
		}
	case ClassLDX:
		sz := op.Size()
		if op.Mode() == ModeMEMSX {
			fmt.Fprintf(b, "%s = *(%s *)%s", ins.Dst, signedSizeTypes[sz>>3], memOperand(ins.Src, ins.Offset))
		} else {
			fmt.Fprintf(b, "%s = *(%s *)%s", regName(ins.Dst, sz != SizeDW), sizeTypes[sz>>3], memOperand(ins.Src, ins.Offset))
		}
	case ClassST:
		fmt.Fprintf(b, "*(%s *)%s = %d", sizeTypes[op.Size()>>3], memOperand(ins.Dst, ins.Offset), ins.Imm)
	case ClassSTX:
		sz := op.Size()
		w32 := sz != SizeDW
		if op.Mode() == ModeMEM {
			fmt.Fprintf(b, "*(%s *)%s = %s", sizeTypes[sz>>3], memOperand(ins.Dst, ins.Offset), regName(ins.Src, w32))
			return
		}
		ins.appendAtomic(b, w32)
	}
}

func (ins Instruction) appendALU(b *strings.Builder, w32 bool) {
	op := ins.Opcode
	dst := regName(ins.Dst, w32)
	switch aop := op.ALUOp(); aop {
	case ALUNeg:
		fmt.Fprintf(b, "%s = -%s", dst, dst)
	case ALUEnd:
		// ALU64 END is the unconditional bswap; ALU END converts to the
		// byte order the source bit names.
		name := "bswap"
		if w32 {
			name = "le"
			if op.Source() == SourceX {
				name = "be"
			}
		}
		fmt.Fprintf(b, "%s = %s%d %s", ins.Dst, name, ins.Imm, ins.Dst)
	case ALUMov:
		if op.Source() == SourceX && !w32 && ins.Offset == 1 {
			fmt.Fprintf(b, "%s = addr_space_cast(%s, %d, %d)", ins.Dst, ins.Src, uint32(ins.Imm)>>16, uint16(ins.Imm))
			return
		}
		if op.Source() == SourceX && ins.Offset != 0 {
			fmt.Fprintf(b, "%s = (s%d)%s", dst, ins.Offset, regName(ins.Src, w32))
			return
		}
		fallthrough
	default:
		operator := aluOperators[aop>>4]
		if (aop == ALUDiv || aop == ALUMod) && ins.Offset == 1 {
			operator = "s" + operator
		}
		if op.Source() == SourceX {
			fmt.Fprintf(b, "%s %s %s", dst, operator, regName(ins.Src, w32))
		} else {
			fmt.Fprintf(b, "%s %s %d", dst, operator, ins.Imm)
		}
	}
}

func (ins Instruction) appendJump(b *strings.Builder, w32 bool) {
	op := ins.Opcode
	switch jop := op.JumpOp(); jop {
	case JumpA:
		if w32 {
			fmt.Fprintf(b, "gotol %s", signedOffset(ins.Imm))
		} else {
			fmt.Fprintf(b, "goto %s", signedOffset(int64(ins.Offset)))
		}
	case Call:
		switch {
		case op.Source() == SourceX:
			fmt.Fprintf(b, "callx %s", ins.Dst)
		case ins.Src == CallLocal:
			fmt.Fprintf(b, "call pc%s", signedOffset(ins.Imm))
		case ins.Src == CallKfunc:
			fmt.Fprintf(b, "call kfunc %d", ins.Imm)
		default:
			fmt.Fprintf(b, "call %d", ins.Imm)
		}
	case Exit:
		b.WriteString("exit")
	case JumpCond:
		fmt.Fprintf(b, "may_goto %s", signedOffset(int64(ins.Offset)))
	default:
		if op.Source() == SourceX {
			fmt.Fprintf(b, "if %s %s %s goto %s", regName(ins.Dst, w32), jumpOperators[jop>>4], regName(ins.Src, w32), signedOffset(int64(ins.Offset)))
		} else {
			fmt.Fprintf(b, "if %s %s %d goto %s", regName(ins.Dst, w32), jumpOperators[jop>>4], ins.Imm, signedOffset(int64(ins.Offset)))
		}
	}
}

var atomicNames = map[int64]string{AtomicAdd: "add", AtomicOr: "or", AtomicAnd: "and", AtomicXor: "xor"}

func (ins Instruction) appendAtomic(b *strings.Builder, w32 bool) {
	typ := sizeTypes[ins.Opcode.Size()>>3]
	src := regName(ins.Src, w32)
	// xchg and cmpxchg print their address without parentheses: "r1 - 8".
	addr := strings.Trim(memOperand(ins.Dst, ins.Offset), "()")
	switch ins.Imm {
	case AtomicXchg:
		if w32 {
			fmt.Fprintf(b, "%s = xchg32_32(%s, %s)", src, addr, src)
		} else {
			fmt.Fprintf(b, "%s = xchg_64(%s, %s)", src, addr, src)
		}
	case AtomicCmpXchg:
		r0 := regName(R0, w32)
		if w32 {
			fmt.Fprintf(b, "%s = cmpxchg32_32(%s, %s, %s)", r0, addr, r0, src)
		} else {
			fmt.Fprintf(b, "%s = cmpxchg_64(%s, %s, %s)", r0, addr, r0, src)
		}
	default:
		name := atomicNames[ins.Imm&^AtomicFetch]
		if ins.Imm&AtomicFetch != 0 {
			fmt.Fprintf(b, "%s = atomic_fetch_%s((%s *)%s, %s)", src, name, typ, memOperand(ins.Dst, ins.Offset), src)
		} else {
			fmt.Fprintf(b, "lock *(%s *)%s %s %s", typ, memOperand(ins.Dst, ins.Offset), aluOperators[ins.Imm>>4], src)
		}
	}
}
