package asm

import (
	"strings"

	"github.com/ebpfvm/ebpfvm/isa"
)

// Statements in LLVM's syntax. The grammar follows what LLVM 19 prints for
// -mcpu=v4 (see isa.Instruction.String); where llvm-mc also accepts an older
// spelling that means the same encoding (a 64-bit register stored by a
// narrow store, a 64-bit register in a 32-bit atomic), it is accepted too.

var aluByOperator = map[string]isa.ALUOp{
	"+=": isa.ALUAdd, "-=": isa.ALUSub, "*=": isa.ALUMul, "/=": isa.ALUDiv,
	"|=": isa.ALUOr, "&=": isa.ALUAnd, "<<=": isa.ALULsh, ">>=": isa.ALURsh,
	"%=": isa.ALUMod, "^=": isa.ALUXor, "s>>=": isa.ALUArsh,
	"s/=": isa.ALUDiv, "s%=": isa.ALUMod,
}

var jumpByOperator = map[string]isa.JumpOp{
	"==": isa.JumpEq, "!=": isa.JumpNE, ">": isa.JumpGT, ">=": isa.JumpGE,
	"<": isa.JumpLT, "<=": isa.JumpLE, "s>": isa.JumpSGT, "s>=": isa.JumpSGE,
	"s<": isa.JumpSLT, "s<=": isa.JumpSLE, "&": isa.JumpSet,
}

var atomicByOperator = map[string]int64{"+=": isa.AtomicAdd, "|=": isa.AtomicOr, "&=": isa.AtomicAnd, "^=": isa.AtomicXor}

var atomicByName = map[string]int64{"add": isa.AtomicAdd, "or": isa.AtomicOr, "and": isa.AtomicAnd, "xor": isa.AtomicXor}

// memTypes maps the C type of a memory operand to its size and signedness.
var memTypes = map[string]struct {
	size   isa.Size
	signed bool
}{
	"u8": {isa.SizeB, false}, "u16": {isa.SizeH, false}, "u32": {isa.SizeW, false}, "u64": {isa.SizeDW, false},
	"s8": {isa.SizeB, true}, "s16": {isa.SizeH, true}, "s32": {isa.SizeW, true},
}

func (p *parser) llvm() (item, error) {
	var it item
	var err error
	t := p.peek()
	switch t.text {
	case "*":
		it.ins, err = p.llvmStore()
	case "if":
		it, err = p.llvmCond()
	case "goto", "may_goto":
		p.next()
		op := isa.OpJA
		if t.text == "may_goto" {
			op = isa.OpMayGoto
		}
		it.ins.Opcode = op
		var off int64
		off, err = p.target(&it, fixOffset)
		it.ins.Offset = int16(off)
	case "gotol":
		p.next()
		it.ins.Opcode = isa.OpJA32
		it.ins.Imm, err = p.target(&it, fixImm)
	case "call":
		it, err = p.llvmCall()
	case "callx":
		p.next()
		it.ins.Opcode = isa.OpCallX
		it.ins.Dst, err = p.reg64()
	case "exit":
		p.next()
		it.ins.Opcode = isa.OpExit
	case "lock":
		p.next()
		it.ins, err = p.llvmLock()
	case "ld_pseudo":
		p.next()
		it.ins, err = p.llvmLdPseudo()
	default:
		it.ins, err = p.llvmAssign()
	}
	if err == nil {
		err = p.end()
	}
	return it, err
}

// memRef parses "(rN + off)" or "(rN - off)"; paren says whether the
// parentheses are present (xchg and cmpxchg print the address without
// them).
func (p *parser) memRef(paren bool) (isa.Register, int16, error) {
	if paren {
		if err := p.expect("("); err != nil {
			return 0, 0, err
		}
	}
	base, err := p.reg64()
	if err != nil {
		return 0, 0, err
	}
	var off int16
	if t := p.peek(); t.text == "+" || t.text == "-" {
		// The sign belongs to the offset: number() reads it.
		if off, err = p.offset16(); err != nil {
			return 0, 0, err
		}
	}
	if paren {
		if err := p.expect(")"); err != nil {
			return 0, 0, err
		}
	}
	return base, off, nil
}

// memType parses "*(u32 *)" (deref true) or "(u32 *)".
func (p *parser) memType(deref bool) (isa.Size, bool, token, error) {
	if deref {
		if err := p.expect("*"); err != nil {
			return 0, false, token{}, err
		}
	}
	if err := p.expect("("); err != nil {
		return 0, false, token{}, err
	}
	t := p.next()
	mt, ok := memTypes[t.text]
	if !ok || t.kind != tokIdent {
		return 0, false, t, p.errf(t, "expected a memory type (u8, u16, u32, u64, s8, s16, s32), found %s", describe(t))
	}
	if err := p.expect("*"); err != nil {
		return 0, false, t, err
	}
	if err := p.expect(")"); err != nil {
		return 0, false, t, err
	}
	return mt.size, mt.signed, t, nil
}

// llvmStore parses "*(u32 *)(r10 - 4) = w1" and "*(u32 *)(r10 - 4) = 5".
func (p *parser) llvmStore() (isa.Instruction, error) {
	size, signed, tt, err := p.memType(true)
	if err != nil {
		return isa.Instruction{}, err
	}
	if signed {
		return isa.Instruction{}, p.errf(tt, "stores take an unsigned type, not %s", tt.text)
	}
	dst, off, err := p.memRef(true)
	if err != nil {
		return isa.Instruction{}, err
	}
	if err := p.expect("="); err != nil {
		return isa.Instruction{}, err
	}
	if p.isNumberNext() {
		imm, err := p.imm32()
		return isa.Instruction{Opcode: isa.MemOpcode(isa.ClassST, isa.ModeMEM, size), Dst: dst, Offset: off, Imm: imm}, err
	}
	src, err := p.storeSrc(size)
	return isa.Instruction{Opcode: isa.MemOpcode(isa.ClassSTX, isa.ModeMEM, size), Dst: dst, Src: src, Offset: off}, err
}

// storeSrc parses the register written to memory: rN for 64-bit accesses,
// wN (or rN, as llvm-mc also accepts) for narrower ones.
func (p *parser) storeSrc(size isa.Size) (isa.Register, error) {
	if size == isa.SizeDW {
		return p.reg64()
	}
	r, _, err := p.reg()
	return r, err
}

// llvmLock parses "lock *(u64 *)(r1 + 0) += r2".
func (p *parser) llvmLock() (isa.Instruction, error) {
	size, signed, tt, err := p.memType(true)
	if err != nil {
		return isa.Instruction{}, err
	}
	if signed || (size != isa.SizeW && size != isa.SizeDW) {
		return isa.Instruction{}, p.errf(tt, "atomic operations take u32 or u64, not %s", tt.text)
	}
	dst, off, err := p.memRef(true)
	if err != nil {
		return isa.Instruction{}, err
	}
	opt := p.next()
	op, ok := atomicByOperator[opt.text]
	if !ok || opt.kind != tokPunct {
		return isa.Instruction{}, p.errf(opt, "expected an atomic operator (+=, |=, &=, ^=), found %s", describe(opt))
	}
	src, err := p.storeSrc(size)
	return isa.Atomic(op, dst, off, src, size), err
}

// llvmCond parses "if r1 > 5 goto +2" and "if w1 s< w2 goto label".
func (p *parser) llvmCond() (item, error) {
	var it item
	p.next() // "if"
	dst, w32, err := p.reg()
	if err != nil {
		return it, err
	}
	opt := p.next()
	jop, ok := jumpByOperator[opt.text]
	if !ok || opt.kind != tokPunct {
		return it, p.errf(opt, "expected a comparison operator, found %s", describe(opt))
	}
	class := isa.ClassJMP
	if w32 {
		class = isa.ClassJMP32
	}
	it.ins.Dst = dst
	if p.isNumberNext() {
		it.ins.Opcode = isa.JumpOpcode(class, jop, isa.SourceK)
		if it.ins.Imm, err = p.imm32(); err != nil {
			return it, err
		}
	} else {
		it.ins.Opcode = isa.JumpOpcode(class, jop, isa.SourceX)
		if it.ins.Src, err = p.regWidth(w32); err != nil {
			return it, err
		}
	}
	if err := p.expect("goto"); err != nil {
		return it, err
	}
	off, err := p.target(&it, fixOffset)
	it.ins.Offset = int16(off)
	return it, err
}

// llvmCall parses "call 1" (helper), "call pc+5" (local), "call kfunc 5"
// and "call name" (local call to a label).
func (p *parser) llvmCall() (item, error) {
	var it item
	p.next() // "call"
	it.ins.Opcode = isa.OpCall
	t := p.peek()
	var err error
	switch {
	case t.text == "pc" && (p.peekAt(1).text == "+" || p.peekAt(1).text == "-"):
		p.next()
		it.ins.Src = isa.CallLocal
		it.ins.Imm, err = p.small("call offset", -1<<31, 1<<31-1)
	case t.text == "kfunc" && p.isNumberAt(1):
		p.next()
		it.ins.Src = isa.CallKfunc
		it.ins.Imm, err = p.imm32()
	case t.kind == tokIdent:
		it.ins.Src = isa.CallLocal
		it.ins.Imm, err = p.target(&it, fixImm)
	default:
		it.ins.Imm, err = p.imm32()
	}
	return it, err
}

// isNumberAt reports whether a number (possibly signed) starts n tokens ahead.
func (p *parser) isNumberAt(n int) bool {
	save := p.pos
	p.pos += n
	ok := p.isNumberNext()
	p.pos = save
	return ok
}

// llvmLdPseudo parses "ld_pseudo r1, 2, 17179869187". A value that fits 32
// bits (signed or unsigned) is the first slot's immediate alone; a larger
// one is the whole 64-bit immediate, as isa.Instruction.String prints it.
func (p *parser) llvmLdPseudo() (isa.Instruction, error) {
	dst, err := p.reg64()
	if err != nil {
		return isa.Instruction{}, err
	}
	if err := p.expect(","); err != nil {
		return isa.Instruction{}, err
	}
	src, err := p.small("pseudo source", 0, int64(isa.PseudoMapIdxValue))
	if err != nil {
		return isa.Instruction{}, err
	}
	if err := p.expect(","); err != nil {
		return isa.Instruction{}, err
	}
	t, neg, mag, hex, err := p.number()
	if err != nil {
		return isa.Instruction{}, err
	}
	v := int64(mag)
	switch {
	case neg && mag <= 1<<31:
		v = int64(uint32(-v)) // a negative low word: the high word stays 0
	case neg && mag <= 1<<63:
		v = -v
	case neg:
		return isa.Instruction{}, p.errf(t, "immediate %s does not fit in 64 bits", numText(neg, mag, hex))
	}
	return isa.Instruction{Opcode: isa.OpLDDW, Dst: dst, Src: isa.Register(src), Imm: v}, nil
}

// llvmAssign parses the statements that start with a destination register.
func (p *parser) llvmAssign() (isa.Instruction, error) {
	dt := p.peek()
	dst, w32, err := p.reg()
	if err != nil {
		if looksLikeRegister(dt.text) {
			return isa.Instruction{}, err
		}
		return isa.Instruction{}, p.errf(dt, "unknown instruction %s", describe(dt))
	}
	class := isa.ClassALU64
	if w32 {
		class = isa.ClassALU
	}
	opt := p.next()
	if opt.text != "=" {
		aop, ok := aluByOperator[opt.text]
		if !ok || opt.kind != tokPunct {
			return isa.Instruction{}, p.errf(opt, "expected an assignment operator, found %s", describe(opt))
		}
		ins := isa.Instruction{Dst: dst}
		if strings.HasPrefix(opt.text, "s") && aop != isa.ALUArsh {
			ins.Offset = 1 // sdiv, smod
		}
		if p.isNumberNext() {
			ins.Opcode = isa.ALUOpcode(class, aop, isa.SourceK)
			ins.Imm, err = p.imm32()
		} else {
			ins.Opcode = isa.ALUOpcode(class, aop, isa.SourceX)
			ins.Src, err = p.regWidth(w32)
		}
		return ins, err
	}

	t := p.peek()
	switch {
	case p.isNumberNext():
		return p.llvmMovImm(dst, w32, dt)
	case t.text == "-":
		p.next()
		if err := p.sameReg(dst, w32); err != nil {
			return isa.Instruction{}, err
		}
		return isa.Instruction{Opcode: isa.ALUOpcode(class, isa.ALUNeg, isa.SourceK), Dst: dst}, nil
	case t.text == "(":
		return p.llvmMovSX(dst, w32, class)
	case t.text == "*":
		return p.llvmLoad(dst, w32, dt)
	case t.kind == tokIdent && looksLikeRegister(t.text):
		src, err := p.regWidth(w32)
		return isa.Instruction{Opcode: isa.ALUOpcode(class, isa.ALUMov, isa.SourceX), Dst: dst, Src: src}, err
	case t.kind == tokIdent:
		return p.llvmFunc(dst, w32, dt)
	}
	return isa.Instruction{}, p.errf(t, "unexpected %s after %q", describe(t), "=")
}

func (p *parser) llvmMovImm(dst isa.Register, w32 bool, dt token) (isa.Instruction, error) {
	if p.peekAt(2).text == "ll" || p.peekAt(1).text == "ll" {
		if w32 {
			return isa.Instruction{}, p.errf(dt, "a 64-bit immediate load needs a 64-bit register")
		}
		v, err := p.imm64()
		if err != nil {
			return isa.Instruction{}, err
		}
		p.next() // "ll"
		return isa.LoadImm64(dst, v), nil
	}
	class := isa.ClassALU64
	if w32 {
		class = isa.ClassALU
	}
	t, neg, mag, hex, err := p.number()
	if err != nil {
		return isa.Instruction{}, err
	}
	imm, ok := fit32(neg, mag, hex)
	if !ok {
		hint := ""
		if !w32 {
			hint = ` (add "ll" for a 64-bit immediate load)`
		}
		return isa.Instruction{}, p.errf(t, "immediate %s does not fit in 32 bits%s", numText(neg, mag, hex), hint)
	}
	return isa.Instruction{Opcode: isa.ALUOpcode(class, isa.ALUMov, isa.SourceK), Dst: dst, Imm: imm}, nil
}

// llvmMovSX parses "r2 = (s8)r1".
func (p *parser) llvmMovSX(dst isa.Register, w32 bool, class isa.Class) (isa.Instruction, error) {
	p.next() // "("
	t := p.next()
	bits := map[string]int16{"s8": 8, "s16": 16, "s32": 32}[t.text]
	if bits == 0 || w32 && bits == 32 {
		want := "s8, s16 or s32"
		if w32 {
			want = "s8 or s16"
		}
		return isa.Instruction{}, p.errf(t, "expected a sign-extension type (%s), found %s", want, describe(t))
	}
	if err := p.expect(")"); err != nil {
		return isa.Instruction{}, err
	}
	src, err := p.regWidth(w32)
	return isa.Instruction{Opcode: isa.ALUOpcode(class, isa.ALUMov, isa.SourceX), Dst: dst, Src: src, Offset: bits}, err
}

// llvmLoad parses "r0 = *(u32 *)(r1 + 4)", "w0 = *(u32 *)(r1 + 4)",
// "r0 = *(s8 *)(r1 + 2)" and the packet loads "r0 = *(u16 *)skb[5]" and
// "r0 = *(u16 *)skb[r1 + 5]".
func (p *parser) llvmLoad(dst isa.Register, w32 bool, dt token) (isa.Instruction, error) {
	size, signed, tt, err := p.memType(true)
	if err != nil {
		return isa.Instruction{}, err
	}
	if p.peek().text == "skb" {
		return p.llvmPacketLoad(dst, w32, dt, size, signed, tt)
	}
	if w32 && (size == isa.SizeDW || signed) {
		return isa.Instruction{}, p.errf(dt, "a load of %s needs a 64-bit register", tt.text)
	}
	src, off, err := p.memRef(true)
	mode := isa.ModeMEM
	if signed {
		mode = isa.ModeMEMSX
	}
	return isa.Instruction{Opcode: isa.MemOpcode(isa.ClassLDX, mode, size), Dst: dst, Src: src, Offset: off}, err
}

func (p *parser) llvmPacketLoad(dst isa.Register, w32 bool, dt token, size isa.Size, signed bool, tt token) (isa.Instruction, error) {
	p.next() // "skb"
	if dst != isa.R0 || w32 {
		return isa.Instruction{}, p.errf(dt, "packet loads always load r0")
	}
	if signed || size == isa.SizeDW {
		return isa.Instruction{}, p.errf(tt, "packet loads take u8, u16 or u32, not %s", tt.text)
	}
	if err := p.expect("["); err != nil {
		return isa.Instruction{}, err
	}
	ins := isa.Instruction{Opcode: isa.MemOpcode(isa.ClassLD, isa.ModeABS, size)}
	var err error
	if p.isNumberNext() {
		ins.Imm, err = p.imm32()
	} else {
		ins.Opcode = isa.MemOpcode(isa.ClassLD, isa.ModeIND, size)
		if ins.Src, err = p.reg64(); err != nil {
			return ins, err
		}
		if t := p.peek(); t.text == "+" || t.text == "-" {
			ins.Imm, err = p.imm32()
		}
	}
	if err != nil {
		return ins, err
	}
	return ins, p.expect("]")
}

// llvmFunc parses the statements whose right-hand side is a named
// operation: byte swaps, addr_space_cast and the fetching atomics.
func (p *parser) llvmFunc(dst isa.Register, w32 bool, dt token) (isa.Instruction, error) {
	ft := p.next()
	name := ft.text
	for _, prefix := range []string{"bswap", "be", "le"} {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		bits := map[string]int64{"16": 16, "32": 32, "64": 64}[name[len(prefix):]]
		if bits == 0 {
			break
		}
		if w32 {
			return isa.Instruction{}, p.errf(dt, "byte swaps operate on a 64-bit register")
		}
		if err := p.sameReg(dst, false); err != nil {
			return isa.Instruction{}, err
		}
		switch prefix {
		case "bswap":
			return isa.ByteSwap(dst, int32(bits)), nil
		case "be":
			return isa.ToBE(dst, int32(bits)), nil
		}
		return isa.ToLE(dst, int32(bits)), nil
	}
	switch {
	case name == "addr_space_cast":
		return p.llvmAddrSpaceCast(dst, w32, dt)
	case strings.HasPrefix(name, "atomic_fetch_"):
		op, ok := atomicByName[strings.TrimPrefix(name, "atomic_fetch_")]
		if !ok {
			break
		}
		return p.llvmFetch(dst, w32, dt, op|isa.AtomicFetch)
	case name == "xchg_64" || name == "xchg32_32":
		return p.llvmXchg(dst, w32, dt, name == "xchg32_32")
	case name == "cmpxchg_64" || name == "cmpxchg32_32":
		return p.llvmCmpXchg(dst, w32, dt, name == "cmpxchg32_32")
	}
	return isa.Instruction{}, p.errf(ft, "unknown operation %q", name)
}

func (p *parser) llvmAddrSpaceCast(dst isa.Register, w32 bool, dt token) (isa.Instruction, error) {
	if w32 {
		return isa.Instruction{}, p.errf(dt, "addr_space_cast needs a 64-bit register")
	}
	if err := p.expect("("); err != nil {
		return isa.Instruction{}, err
	}
	src, err := p.reg64()
	if err != nil {
		return isa.Instruction{}, err
	}
	var as [2]int64
	for i := range as {
		if err := p.expect(","); err != nil {
			return isa.Instruction{}, err
		}
		if as[i], err = p.small("address space", 0, 1<<16-1); err != nil {
			return isa.Instruction{}, err
		}
	}
	if err := p.expect(")"); err != nil {
		return isa.Instruction{}, err
	}
	return isa.Instruction{Opcode: isa.OpMov64Reg, Dst: dst, Src: src, Offset: 1, Imm: int64(uint32(as[0]<<16 | as[1]))}, nil
}

// atomicWidth checks the register of an atomic against its memory size: a
// 64-bit access needs rN; a 32-bit one is printed with wN, and llvm-mc also
// takes rN.
func (p *parser) atomicWidth(t token, w32 bool, size isa.Size) error {
	if size == isa.SizeDW && w32 {
		return p.errf(t, "a 64-bit atomic operation needs a 64-bit register")
	}
	return nil
}

// llvmFetch parses "r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)".
func (p *parser) llvmFetch(src isa.Register, w32 bool, dt token, op int64) (isa.Instruction, error) {
	if err := p.expect("("); err != nil {
		return isa.Instruction{}, err
	}
	size, signed, tt, err := p.memType(false)
	if err != nil {
		return isa.Instruction{}, err
	}
	if signed || (size != isa.SizeW && size != isa.SizeDW) {
		return isa.Instruction{}, p.errf(tt, "atomic operations take u32 or u64, not %s", tt.text)
	}
	if err := p.atomicWidth(dt, w32, size); err != nil {
		return isa.Instruction{}, err
	}
	dst, off, err := p.memRef(true)
	if err != nil {
		return isa.Instruction{}, err
	}
	if err := p.expect(","); err != nil {
		return isa.Instruction{}, err
	}
	if err := p.sameReg(src, w32); err != nil {
		return isa.Instruction{}, err
	}
	if err := p.expect(")"); err != nil {
		return isa.Instruction{}, err
	}
	return isa.Atomic(op, dst, off, src, size), nil
}

// llvmXchg parses "r2 = xchg_64(r1 + 0, r2)" and "w2 = xchg32_32(r1 - 8, w2)".
func (p *parser) llvmXchg(src isa.Register, w32 bool, dt token, is32 bool) (isa.Instruction, error) {
	size := isa.SizeDW
	if is32 {
		size = isa.SizeW
	}
	if err := p.atomicWidth(dt, w32, size); err != nil {
		return isa.Instruction{}, err
	}
	if err := p.expect("("); err != nil {
		return isa.Instruction{}, err
	}
	dst, off, err := p.memRef(false)
	if err != nil {
		return isa.Instruction{}, err
	}
	if err := p.expect(","); err != nil {
		return isa.Instruction{}, err
	}
	if err := p.sameReg(src, w32); err != nil {
		return isa.Instruction{}, err
	}
	if err := p.expect(")"); err != nil {
		return isa.Instruction{}, err
	}
	return isa.Atomic(isa.AtomicXchg, dst, off, src, size), nil
}

// llvmCmpXchg parses "r0 = cmpxchg_64(r1 + 0, r0, r2)" and
// "w0 = cmpxchg32_32(r1 + 0, w0, w2)": r0 is implied by the encoding.
func (p *parser) llvmCmpXchg(r0 isa.Register, w32 bool, dt token, is32 bool) (isa.Instruction, error) {
	size := isa.SizeDW
	if is32 {
		size = isa.SizeW
	}
	if err := p.atomicWidth(dt, w32, size); err != nil {
		return isa.Instruction{}, err
	}
	if r0 != isa.R0 {
		return isa.Instruction{}, p.errf(dt, "cmpxchg always returns its result in r0")
	}
	if err := p.expect("("); err != nil {
		return isa.Instruction{}, err
	}
	dst, off, err := p.memRef(false)
	if err != nil {
		return isa.Instruction{}, err
	}
	if err := p.expect(","); err != nil {
		return isa.Instruction{}, err
	}
	if err := p.sameReg(isa.R0, w32); err != nil {
		return isa.Instruction{}, err
	}
	if err := p.expect(","); err != nil {
		return isa.Instruction{}, err
	}
	src, err := p.regWidth(w32)
	if err != nil {
		return isa.Instruction{}, err
	}
	if err := p.expect(")"); err != nil {
		return isa.Instruction{}, err
	}
	return isa.Atomic(isa.AtomicCmpXchg, dst, off, src, size), nil
}
