package asm

import (
	"strings"

	"github.com/ebpfvm/ebpfvm/isa"
)

// Statements in the uBPF-style syntax of the BPF conformance suite:
// "mnemonic operand, operand, ...", registers written %rN, memory operands
// [%rN+off]. The mnemonics are the reference assembler's (bpf_conformance's
// bpf_assembler.cc), plus a "64" suffix for 64-bit ALU operations, bswapNN as
// another name of swapNN, and the legacy packet loads ldabs[bhw] and
// ldind[bhw] that uBPF's assembler knows.

var ubpfALU = map[string]isa.ALUOp{
	"add": isa.ALUAdd, "sub": isa.ALUSub, "mul": isa.ALUMul, "div": isa.ALUDiv, "sdiv": isa.ALUDiv,
	"or": isa.ALUOr, "and": isa.ALUAnd, "lsh": isa.ALULsh, "rsh": isa.ALURsh, "mod": isa.ALUMod,
	"smod": isa.ALUMod, "xor": isa.ALUXor, "mov": isa.ALUMov, "arsh": isa.ALUArsh,
}

var ubpfJump = map[string]isa.JumpOp{
	"jeq": isa.JumpEq, "jgt": isa.JumpGT, "jge": isa.JumpGE, "jset": isa.JumpSet, "jne": isa.JumpNE,
	"jsgt": isa.JumpSGT, "jsge": isa.JumpSGE, "jlt": isa.JumpLT, "jle": isa.JumpLE,
	"jslt": isa.JumpSLT, "jsle": isa.JumpSLE,
}

var ubpfSizes = map[string]isa.Size{"b": isa.SizeB, "h": isa.SizeH, "w": isa.SizeW, "dw": isa.SizeDW}

// movsx mnemonics name the source and destination widths.
var ubpfMovSX = map[string]struct {
	class isa.Class
	bits  int16
}{
	"movsx832": {isa.ClassALU, 8}, "movsx1632": {isa.ClassALU, 16},
	"movsx864": {isa.ClassALU64, 8}, "movsx1664": {isa.ClassALU64, 16}, "movsx3264": {isa.ClassALU64, 32},
}

var ubpfAtomic = map[string]int64{
	"add": isa.AtomicAdd, "and": isa.AtomicAnd, "or": isa.AtomicOr, "xor": isa.AtomicXor,
	"xchg": isa.AtomicXchg, "cmpxchg": isa.AtomicCmpXchg,
}

// operand is the tokens of one comma-separated operand, read by its own
// parser so that trailing garbage in an operand is reported.
type operand struct{ *parser }

// operands splits the rest of the statement at commas.
func (p *parser) operands() []operand {
	var ops []operand
	rest := p.toks[p.pos:]
	p.pos = len(p.toks)
	if len(rest) == 0 {
		return nil
	}
	start, eol := 0, rest[0].col
	for i, t := range rest {
		if t.text == "," && t.kind == tokPunct {
			ops = append(ops, operand{&parser{a: p.a, line: p.line, toks: rest[start:i], eol: eol}})
			start, eol = i+1, t.col+1
		}
	}
	return append(ops, operand{&parser{a: p.a, line: p.line, toks: rest[start:], eol: eol}})
}

// ubpfReg parses "%rN" and checks the operand has nothing more.
func (o operand) reg() (isa.Register, error) {
	t := o.next()
	n, w32, ok := parseRegName(t.text)
	if t.kind != tokIdent || !ok || w32 || !strings.HasPrefix(t.text, "%") {
		return 0, o.errf(t, "expected a register %%r0-%%r10, found %s", describe(t))
	}
	if n > int(isa.MaxRegister) {
		return 0, o.errf(t, "invalid register %s: registers are %%r0 to %%r10", t.text)
	}
	return isa.Register(n), o.end()
}

func (o operand) isReg() bool {
	return strings.HasPrefix(o.peek().text, "%")
}

func (o operand) imm32() (int64, error) {
	v, err := o.parser.imm32()
	if err == nil {
		err = o.end()
	}
	return v, err
}

func (o operand) imm64() (int64, error) {
	v, err := o.parser.imm64()
	if err == nil {
		err = o.end()
	}
	return v, err
}

// mem parses "[%rN]", "[%rN+off]" or "[%rN-off]".
func (o operand) mem() (isa.Register, int16, error) {
	if t := o.peek(); t.text != "[" {
		return 0, 0, o.errf(t, "expected a memory operand [%%rN+offset], found %s", describe(t))
	}
	o.next()
	// Read the register up to the sign or bracket that ends it.
	end := o.pos
	for end < len(o.toks) && o.toks[end].text != "+" && o.toks[end].text != "-" && o.toks[end].text != "]" {
		end++
	}
	r, err := operand{&parser{a: o.a, line: o.line, toks: o.toks[o.pos:end], eol: o.peek().col}}.reg()
	if err != nil {
		return 0, 0, err
	}
	o.pos = end
	var off int16
	if t := o.peek(); t.text == "+" || t.text == "-" {
		if off, err = o.offset16(); err != nil {
			return 0, 0, err
		}
	}
	if err := o.expect("]"); err != nil {
		return 0, 0, err
	}
	return r, off, o.end()
}

func (o operand) target(it *item, fix fixup) (int64, error) {
	v, err := o.parser.target(it, fix)
	if err == nil {
		err = o.end()
	}
	return v, err
}

func (p *parser) ubpf() (item, error) {
	var it item
	mt := p.next()
	if mt.kind != tokIdent {
		return it, p.errf(mt, "expected an instruction, found %s", describe(mt))
	}
	m := mt.text
	if m == "lock" {
		return p.ubpfLock(mt)
	}
	if m == "call" {
		return p.ubpfCall()
	}
	ops := p.operands()
	want := func(n int) error {
		if len(ops) != n {
			return p.errf(mt, "invalid number of operands for %s: want %d, found %d", m, n, len(ops))
		}
		return nil
	}
	var err error
	ins := &it.ins
	switch {
	case m == "exit":
		ins.Opcode = isa.OpExit
		return it, want(0)

	case m == "ja" || m == "ja32":
		if err = want(1); err != nil {
			return it, err
		}
		if m == "ja32" {
			ins.Opcode = isa.OpJA32
			ins.Imm, err = ops[0].target(&it, fixImm)
			return it, err
		}
		ins.Opcode = isa.OpJA
		off, err := ops[0].target(&it, fixOffset)
		ins.Offset = int16(off)
		return it, err

	case m == "lddw":
		if err = want(2); err != nil {
			return it, err
		}
		ins.Opcode = isa.OpLDDW
		if ins.Dst, err = ops[0].reg(); err != nil {
			return it, err
		}
		ins.Imm, err = ops[1].imm64()
		return it, err
	}

	if op, class, ok := splitWidth(m, ubpfJump); ok {
		if err = want(3); err != nil {
			return it, err
		}
		ins.Opcode = isa.JumpOpcode(isa.ClassJMP, op, isa.SourceK)
		if class == isa.ClassALU {
			ins.Opcode = isa.JumpOpcode(isa.ClassJMP32, op, isa.SourceK)
		}
		if ins.Dst, err = ops[0].reg(); err != nil {
			return it, err
		}
		if err = p.regOrImm(ops[1], ins); err != nil {
			return it, err
		}
		off, err := ops[2].target(&it, fixOffset)
		ins.Offset = int16(off)
		return it, err
	}

	if op, class, ok := splitWidth(m, ubpfALU); ok {
		if err = want(2); err != nil {
			return it, err
		}
		ins.Opcode = isa.ALUOpcode(class, op, isa.SourceK)
		if strings.HasPrefix(m, "sdiv") || strings.HasPrefix(m, "smod") {
			ins.Offset = 1
		}
		if ins.Dst, err = ops[0].reg(); err != nil {
			return it, err
		}
		return it, p.regOrImm(ops[1], ins)
	}

	if sx, ok := ubpfMovSX[m]; ok {
		if err = want(2); err != nil {
			return it, err
		}
		ins.Opcode = isa.ALUOpcode(sx.class, isa.ALUMov, isa.SourceX)
		ins.Offset = sx.bits
		if ins.Dst, err = ops[0].reg(); err != nil {
			return it, err
		}
		ins.Src, err = ops[1].reg()
		return it, err
	}

	if _, class, ok := splitWidth(m, map[string]isa.ALUOp{"neg": isa.ALUNeg}); ok {
		if err = want(1); err != nil {
			return it, err
		}
		ins.Opcode = isa.ALUOpcode(class, isa.ALUNeg, isa.SourceK)
		ins.Dst, err = ops[0].reg()
		return it, err
	}

	if opcode, bits, ok := ubpfByteSwap(m); ok {
		if err = want(1); err != nil {
			return it, err
		}
		ins.Opcode, ins.Imm = opcode, bits
		ins.Dst, err = ops[0].reg()
		return it, err
	}

	if op, size, ok := memMnemonic(m); ok {
		n := 2
		if op == memLoadAbs {
			n = 1
		}
		if err = want(n); err != nil {
			return it, err
		}
		return it, p.ubpfMem(op, size, ops, ins)
	}

	return it, p.errf(mt, "unknown mnemonic %q", m)
}

// regOrImm fills the source of an ALU or jump instruction: a register sets
// the X source bit, anything else must be a 32-bit immediate.
func (p *parser) regOrImm(o operand, ins *isa.Instruction) error {
	if o.isReg() {
		ins.Opcode |= isa.Opcode(isa.SourceX)
		var err error
		ins.Src, err = o.reg()
		return err
	}
	var err error
	ins.Imm, err = o.imm32()
	return err
}

// splitWidth looks up a mnemonic with an optional "32" (32-bit) or "64"
// suffix. It returns the ALU class for 32-bit and ALU64 otherwise.
func splitWidth[T any](m string, table map[string]T) (T, isa.Class, bool) {
	class := isa.ClassALU64
	if base, ok := strings.CutSuffix(m, "32"); ok {
		m, class = base, isa.ClassALU
	} else if base, ok := strings.CutSuffix(m, "64"); ok {
		m = base
	}
	v, ok := table[m]
	return v, class, ok
}

// ubpfByteSwap decodes le16..le64, be16..be64 (class ALU) and swap16..swap64
// or bswap16..bswap64 (class ALU64).
func ubpfByteSwap(m string) (isa.Opcode, int64, bool) {
	for _, f := range []struct {
		prefix string
		op     isa.Opcode
	}{
		{"le", isa.ALUOpcode(isa.ClassALU, isa.ALUEnd, isa.SourceK)},
		{"be", isa.ALUOpcode(isa.ClassALU, isa.ALUEnd, isa.SourceX)},
		{"swap", isa.ALUOpcode(isa.ClassALU64, isa.ALUEnd, isa.SourceK)},
		{"bswap", isa.ALUOpcode(isa.ClassALU64, isa.ALUEnd, isa.SourceK)},
	} {
		if rest, ok := strings.CutPrefix(m, f.prefix); ok {
			switch rest {
			case "16":
				return f.op, 16, true
			case "32":
				return f.op, 32, true
			case "64":
				return f.op, 64, true
			}
		}
	}
	return 0, 0, false
}

// memKind is the family of a load or store mnemonic.
type memKind uint8

const (
	memLoad memKind = iota
	memLoadSX
	memStoreImm
	memStoreReg
	memLoadAbs
	memLoadInd
)

// memMnemonic decodes ldx[b,h,w,dw], ldxs[b,h,w], st[b,h,w,dw],
// stx[b,h,w,dw], ldabs[b,h,w] and ldind[b,h,w].
func memMnemonic(m string) (memKind, isa.Size, bool) {
	// Longest prefixes first: "ldxs" before "ldx", "stx" before "st".
	for _, f := range []struct {
		prefix string
		kind   memKind
	}{{"ldabs", memLoadAbs}, {"ldind", memLoadInd}, {"ldxs", memLoadSX}, {"ldx", memLoad}, {"stx", memStoreReg}, {"st", memStoreImm}} {
		rest, ok := strings.CutPrefix(m, f.prefix)
		if !ok {
			continue
		}
		size, ok := ubpfSizes[rest]
		if ok && (size != isa.SizeDW || f.kind == memLoad || f.kind == memStoreImm || f.kind == memStoreReg) {
			return f.kind, size, true
		}
	}
	return 0, 0, false
}

func (p *parser) ubpfMem(kind memKind, size isa.Size, ops []operand, ins *isa.Instruction) error {
	var err error
	switch kind {
	case memLoad, memLoadSX:
		mode := isa.ModeMEM
		if kind == memLoadSX {
			mode = isa.ModeMEMSX
		}
		ins.Opcode = isa.MemOpcode(isa.ClassLDX, mode, size)
		if ins.Dst, err = ops[0].reg(); err != nil {
			return err
		}
		ins.Src, ins.Offset, err = ops[1].mem()
	case memStoreImm:
		ins.Opcode = isa.MemOpcode(isa.ClassST, isa.ModeMEM, size)
		if ins.Dst, ins.Offset, err = ops[0].mem(); err != nil {
			return err
		}
		ins.Imm, err = ops[1].imm32()
	case memStoreReg:
		ins.Opcode = isa.MemOpcode(isa.ClassSTX, isa.ModeMEM, size)
		if ins.Dst, ins.Offset, err = ops[0].mem(); err != nil {
			return err
		}
		ins.Src, err = ops[1].reg()
	case memLoadAbs:
		ins.Opcode = isa.MemOpcode(isa.ClassLD, isa.ModeABS, size)
		ins.Imm, err = ops[0].imm32()
	case memLoadInd:
		ins.Opcode = isa.MemOpcode(isa.ClassLD, isa.ModeIND, size)
		if ins.Src, err = ops[0].reg(); err != nil {
			return err
		}
		ins.Imm, err = ops[1].imm32()
	}
	return err
}

// ubpfLock parses "lock [fetch] op[32] [%rD+off], %rS".
func (p *parser) ubpfLock(mt token) (item, error) {
	var it item
	fetch := p.accept("fetch")
	ot := p.next()
	if ot.kind == tokEOF {
		return it, p.errf(mt, "invalid number of operands for lock: want an operation, a memory operand and a register")
	}
	op, class, ok := splitWidth(ot.text, ubpfAtomic)
	if !ok || ot.kind != tokIdent {
		return it, p.errf(ot, "unknown atomic operation %s (add, and, or, xor, xchg, cmpxchg, with optional 32 suffix)", describe(ot))
	}
	if fetch {
		op |= isa.AtomicFetch
	}
	ops := p.operands()
	if len(ops) != 2 {
		return it, p.errf(mt, "invalid number of operands for lock %s: want 2, found %d", ot.text, len(ops))
	}
	size := isa.SizeDW
	if class == isa.ClassALU {
		size = isa.SizeW
	}
	dst, off, err := ops[0].mem()
	if err != nil {
		return it, err
	}
	src, err := ops[1].reg()
	it.ins = isa.Atomic(op, dst, off, src, size)
	return it, err
}

// ubpfCall parses "call N" / "call helper N" (helper), "call local LABEL"
// (bpf-to-bpf), "call runtime N" (kfunc) and "call %rN" (callx).
func (p *parser) ubpfCall() (item, error) {
	var it item
	it.ins.Opcode = isa.OpCall
	var err error
	switch t := p.peek(); {
	case strings.HasPrefix(t.text, "%"):
		it.ins.Opcode = isa.OpCallX
		ops := p.operands()
		if len(ops) != 1 {
			return it, p.errf(t, "invalid number of operands for call: want 1, found %d", len(ops))
		}
		it.ins.Dst, err = ops[0].reg()
		return it, err
	case t.text == "local":
		p.next()
		it.ins.Src = isa.CallLocal
		it.ins.Imm, err = p.target(&it, fixImm)
	case t.text == "runtime":
		p.next()
		it.ins.Src = isa.CallKfunc
		it.ins.Imm, err = p.imm32()
	default:
		p.accept("helper")
		it.ins.Imm, err = p.imm32()
	}
	if err == nil {
		err = p.end()
	}
	return it, err
}
