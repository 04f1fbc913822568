package isa

import "fmt"

// KernelOptions supplies the names the kernel's verifier log prints beside
// raw numbers. The zero value prints "unknown" helpers and hexadecimal lddw
// immediates, as the kernel does without callbacks.
type KernelOptions struct {
	// HelperName returns the kernel name of a helper id ("bpf_map_lookup_elem"),
	// or "" if it is unknown.
	HelperName func(id int32) string
	// Imm64 returns the text for the immediate of a lddw (e.g. "map[id:3]"),
	// or "" for the default hexadecimal form.
	Imm64 func(ins Instruction) string
}

// KernelString returns the instruction as the Linux verifier log prints it
// (kernel/bpf/disasm.c): the opcode in hex, then the text, e.g.
// "(b7) r0 = 42", "(25) if r1 > 0x5 goto pc+2", "(85) call bpf_map_lookup_elem#1".
// callx, which the kernel does not support, prints as "(8d) callx r2".
func (ins Instruction) KernelString(opts *KernelOptions) string {
	if opts == nil {
		opts = &KernelOptions{}
	}
	code := uint8(ins.Opcode)
	op := ins.Opcode
	c := op.Class()
	w := func(r Register) string { return regName(r, c == ClassALU || c == ClassJMP32) }
	if ins.Validate() != nil {
		return fmt.Sprintf("(%02x) invalid", code)
	}
	switch c {
	case ClassALU, ClassALU64:
		switch aop := op.ALUOp(); {
		case aop == ALUEnd && c == ClassALU64:
			return fmt.Sprintf("(%02x) r%d = bswap%d r%d", code, ins.Dst, ins.Imm, ins.Dst)
		case aop == ALUEnd:
			order := "le"
			if op.Source() == SourceX {
				order = "be"
			}
			return fmt.Sprintf("(%02x) r%d = %s%d r%d", code, ins.Dst, order, ins.Imm, ins.Dst)
		case aop == ALUNeg:
			return fmt.Sprintf("(%02x) %s = -%s", code, w(ins.Dst), w(ins.Dst))
		case aop == ALUMov && c == ClassALU64 && op.Source() == SourceX && ins.Offset == 1:
			return fmt.Sprintf("(%02x) r%d = addr_space_cast(r%d, %d, %d)", code, ins.Dst, ins.Src, uint32(ins.Imm)>>16, uint16(ins.Imm))
		default:
			operator := aluOperators[aop>>4]
			if (aop == ALUDiv || aop == ALUMod) && ins.Offset == 1 {
				operator = "s" + operator
			}
			if op.Source() == SourceX {
				movsx := ""
				if aop == ALUMov && ins.Offset != 0 {
					movsx = fmt.Sprintf("(s%d)", ins.Offset)
				}
				return fmt.Sprintf("(%02x) %s %s %s%s", code, w(ins.Dst), operator, movsx, w(ins.Src))
			}
			return fmt.Sprintf("(%02x) %s %s %d", code, w(ins.Dst), operator, ins.Imm)
		}
	case ClassSTX:
		typ := sizeTypes[op.Size()>>3]
		if op.Mode() == ModeMEM {
			return fmt.Sprintf("(%02x) *(%s *)(r%d %+d) = r%d", code, typ, ins.Dst, ins.Offset, ins.Src)
		}
		width := ""
		if op.Size() == SizeDW {
			width = "64"
		}
		switch ins.Imm {
		case AtomicXchg:
			return fmt.Sprintf("(%02x) r%d = atomic%s_xchg((%s *)(r%d %+d), r%d)", code, ins.Src, width, typ, ins.Dst, ins.Offset, ins.Src)
		case AtomicCmpXchg:
			return fmt.Sprintf("(%02x) r0 = atomic%s_cmpxchg((%s *)(r%d %+d), r0, r%d)", code, width, typ, ins.Dst, ins.Offset, ins.Src)
		}
		if ins.Imm&AtomicFetch != 0 {
			return fmt.Sprintf("(%02x) r%d = atomic%s_fetch_%s((%s *)(r%d %+d), r%d)", code, ins.Src, width, atomicNames[ins.Imm&^AtomicFetch], typ, ins.Dst, ins.Offset, ins.Src)
		}
		return fmt.Sprintf("(%02x) lock *(%s *)(r%d %+d) %s r%d", code, typ, ins.Dst, ins.Offset, aluOperators[ins.Imm>>4], ins.Src)
	case ClassST:
		return fmt.Sprintf("(%02x) *(%s *)(r%d %+d) = %d", code, sizeTypes[op.Size()>>3], ins.Dst, ins.Offset, ins.Imm)
	case ClassLDX:
		typ := sizeTypes[op.Size()>>3]
		if op.Mode() == ModeMEMSX {
			typ = signedSizeTypes[op.Size()>>3]
		}
		return fmt.Sprintf("(%02x) r%d = *(%s *)(r%d %+d)", code, ins.Dst, typ, ins.Src, ins.Offset)
	case ClassLD:
		typ := sizeTypes[op.Size()>>3]
		switch op.Mode() {
		case ModeABS:
			return fmt.Sprintf("(%02x) r0 = *(%s *)skb[%d]", code, typ, ins.Imm)
		case ModeIND:
			return fmt.Sprintf("(%02x) r0 = *(%s *)skb[r%d + %d]", code, typ, ins.Src, ins.Imm)
		}
		text := ""
		if opts.Imm64 != nil {
			text = opts.Imm64(ins)
		}
		if text == "" {
			text = fmt.Sprintf("0x%x", uint64(ins.Imm))
		}
		return fmt.Sprintf("(%02x) r%d = %s", code, ins.Dst, text)
	}
	// JMP and JMP32.
	switch jop := op.JumpOp(); {
	case jop == Call && op.Source() == SourceX:
		return fmt.Sprintf("(%02x) callx r%d", code, ins.Dst)
	case jop == Call && ins.Src == CallLocal:
		return fmt.Sprintf("(%02x) call pc%+d", code, ins.Imm)
	case jop == Call && ins.Src == CallKfunc:
		return fmt.Sprintf("(%02x) call kernel-function#%d", code, ins.Imm)
	case jop == Call:
		name := ""
		if opts.HelperName != nil {
			name = opts.HelperName(int32(ins.Imm))
		}
		if name == "" {
			name = "unknown"
		}
		return fmt.Sprintf("(%02x) call %s#%d", code, name, ins.Imm)
	case jop == JumpA && c == ClassJMP32:
		return fmt.Sprintf("(%02x) gotol pc%+d", code, ins.Imm)
	case jop == JumpA:
		return fmt.Sprintf("(%02x) goto pc%+d", code, ins.Offset)
	case jop == JumpCond:
		return fmt.Sprintf("(%02x) may_goto pc%+d", code, ins.Offset)
	case jop == Exit:
		return fmt.Sprintf("(%02x) exit", code)
	case op.Source() == SourceX:
		return fmt.Sprintf("(%02x) if %s %s %s goto pc%+d", code, w(ins.Dst), jumpOperators[jop>>4], w(ins.Src), ins.Offset)
	default:
		return fmt.Sprintf("(%02x) if %s %s 0x%x goto pc%+d", code, w(ins.Dst), jumpOperators[jop>>4], uint32(ins.Imm), ins.Offset)
	}
}
