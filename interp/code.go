// Package interp is the reference engine: it runs vm.Programs instruction by
// instruction with the kernel's semantics, checking every memory access
// against the run's region table.
package interp

import (
	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/vm"
)

// insn is the pre-decoded form the run loop executes: one per wire slot, 16
// bytes, with lddw values resolved and the second slot of a lddw turned into
// an instruction that faults if control ever reaches it.
type insn struct {
	op   uint8
	dst  uint8
	src  uint8
	kind uint8 // the hot loop's case for the instruction; kGeneric if none
	off  int32 // memory offset, or branch offset (possibly rewritten, see compile)
	imm  int64
}

// Kinds: the common instructions, one per operation and operand source, so
// that the run loop dispatches each with a single jump through a dense
// switch's table and no further decoding. Everything else is kGeneric and
// decoded by class.
const (
	kGeneric uint8 = iota

	kAdd64K
	kAdd64X
	kSub64K
	kSub64X
	kMul64K
	kMul64X
	kOr64K
	kOr64X
	kAnd64K
	kAnd64X
	kLsh64K
	kLsh64X
	kRsh64K
	kRsh64X
	kXor64K
	kXor64X
	kMov64K
	kMov64X
	kArsh64K
	kArsh64X
	kNeg64

	kAdd32K
	kAdd32X
	kSub32K
	kSub32X
	kMul32K
	kMul32X
	kOr32K
	kOr32X
	kAnd32K
	kAnd32X
	kLsh32K
	kLsh32X
	kRsh32K
	kRsh32X
	kXor32K
	kXor32X
	kMov32K
	kMov32X
	kArsh32K
	kArsh32X

	kJA
	kJEqK
	kJEqX
	kJNEK
	kJNEX
	kJGTK
	kJGTX
	kJGEK
	kJGEX
	kJLTK
	kJLTX
	kJLEK
	kJLEX
	kJSGTK
	kJSGTX
	kJSGEK
	kJSGEX
	kJSLTK
	kJSLTX
	kJSLEK
	kJSLEX
	kJSetK
	kJSetX

	kLdxB
	kLdxH
	kLdxW
	kLdxDW
	kStxB
	kStxH
	kStxW
	kStxDW
	kStB
	kStH
	kStW
	kStDW
	kLDDW
	kJ32EqK
	kJ32EqX
	kJ32NEK
	kJ32NEX
	kJ32GTK
	kJ32GTX
	kJ32GEK
	kJ32GEX
	kJ32LTK
	kJ32LTX
	kJ32LEK
	kJ32LEX
	kJ32SGTK
	kJ32SGTX
	kJ32SGEK
	kJ32SGEX
	kJ32SLTK
	kJ32SLTX
	kJ32SLEK
	kJ32SLEX
	kJ32SetK
	kJ32SetX

	// Less common ALU instructions, told apart by offset or immediate too.
	kDiv64K // unsigned (offset 0); sdiv and smod are generic
	kDiv64X
	kMod64K
	kMod64X
	kDiv32K
	kDiv32X
	kMod32K
	kMod32X
	kNeg32
	kLe16 // to little endian, the host's order: truncation
	kLe32
	kLe64
	kBswap16 // be16 and bswap16
	kBswap32
	kBswap64
	kMovsx64B // movsx: mov with offset 8, 16 or 32
	kMovsx64H
	kMovsx64W
	kMovsx32B
	kMovsx32H
	kLdxSB // memsx loads
	kLdxSH
	kLdxSW

	kSlow // calls, exit, atomics, legacy packet loads: straight to the slow path
)

// kinds maps an opcode to its kind (kGeneric where the hot loop's switch has
// no case).
var kinds = func() (t [256]uint8) {
	ops := []uint8{opAdd, opSub, opMul, opOr, opAnd, opLsh, opRsh, opXor, opMov, opArsh}
	base64 := []uint8{kAdd64K, kSub64K, kMul64K, kOr64K, kAnd64K, kLsh64K, kRsh64K, kXor64K, kMov64K, kArsh64K}
	base32 := []uint8{kAdd32K, kSub32K, kMul32K, kOr32K, kAnd32K, kLsh32K, kRsh32K, kXor32K, kMov32K, kArsh32K}
	for i, op := range ops {
		t[alu64|op|k], t[alu64|op|x] = base64[i], base64[i]+1
		t[alu|op|k], t[alu|op|x] = base32[i], base32[i]+1
	}
	t[alu64|opNeg] = kNeg64
	jops := []uint8{opJEq, opJNE, opJGT, opJGE, opJLT, opJLE, opJSGT, opJSGE, opJSLT, opJSLE, opJSet}
	jbase := []uint8{kJEqK, kJNEK, kJGTK, kJGEK, kJLTK, kJLEK, kJSGTK, kJSGEK, kJSLTK, kJSLEK, kJSetK}
	for i, op := range jops {
		t[jmp|op|k], t[jmp|op|x] = jbase[i], jbase[i]+1
	}
	t[jmp|opJA] = kJA
	j32base := []uint8{kJ32EqK, kJ32NEK, kJ32GTK, kJ32GEK, kJ32LTK, kJ32LEK, kJ32SGTK, kJ32SGEK, kJ32SLTK, kJ32SLEK, kJ32SetK}
	for i, op := range jops {
		t[jmp32|op|k], t[jmp32|op|x] = j32base[i], j32base[i]+1
	}
	t[ldx|mem|szB], t[ldx|mem|szH], t[ldx|mem|szW], t[ldx|mem|szDW] = kLdxB, kLdxH, kLdxW, kLdxDW
	t[stx|mem|szB], t[stx|mem|szH], t[stx|mem|szW], t[stx|mem|szDW] = kStxB, kStxH, kStxW, kStxDW
	t[st|mem|szB], t[st|mem|szH], t[st|mem|szW], t[st|mem|szDW] = kStB, kStH, kStW, kStDW
	t[ld|imm|szDW] = kLDDW
	for _, op := range []uint8{jmp | opCall | k, jmp | opCall | x, jmp | opExit | k,
		stx | modeAtomic | szW, stx | modeAtomic | szDW,
		ld | abs | szB, ld | abs | szH, ld | abs | szW, ld | ind | szB, ld | ind | szH, ld | ind | szW} {
		t[op] = kSlow
	}
	return t
}()

// kindOf is the kind of a valid instruction: its opcode's, or for the
// opcodes whose offset or immediate says more (div and mod, mov, the byte
// swaps) the kind of that meaning; those without one (sdiv, smod,
// addr_space_cast) are kGeneric.
func kindOf(ins isa.Instruction) uint8 {
	op := uint8(ins.Opcode)
	switch op {
	case alu64 | opDiv | k, alu64 | opDiv | x, alu64 | opMod | k, alu64 | opMod | x,
		alu | opDiv | k, alu | opDiv | x, alu | opMod | k, alu | opMod | x:
		if ins.Offset != 0 {
			return kGeneric
		}
		base := kDiv64K
		if op&0x07 == alu {
			base = kDiv32K
		}
		if op&0xf0 == opMod {
			base += 2
		}
		if op&x != 0 {
			base++
		}
		return base
	case alu | opNeg:
		return kNeg32
	case alu | opEnd | k, alu | opEnd | x, alu64 | opEnd | k:
		base := kBswap16
		if op == alu|opEnd|k {
			base = kLe16
		}
		switch ins.Imm {
		case 16:
			return base
		case 32:
			return base + 1
		case 64:
			return base + 2
		}
		return kGeneric
	case ldx | memsx | szB:
		return kLdxSB
	case ldx | memsx | szH:
		return kLdxSH
	case ldx | memsx | szW:
		return kLdxSW
	}
	kd := kinds[op]
	if kd == kMov64K || kd == kMov64X || kd == kMov32K || kd == kMov32X {
		switch {
		case ins.Offset == 0:
			return kd
		case kd == kMov64X && ins.Offset == 8:
			return kMovsx64B
		case kd == kMov64X && ins.Offset == 16:
			return kMovsx64H
		case kd == kMov64X && ins.Offset == 32:
			return kMovsx64W
		case kd == kMov32X && ins.Offset == 8:
			return kMovsx32B
		case kd == kMov32X && ins.Offset == 16:
			return kMovsx32H
		}
		return kGeneric
	}
	return kd
}

// Marker opcodes, all invalid in the ISA, for slots that fault when reached.
const (
	opLDDWHigh  = 0x00 // the second slot of a lddw
	opInvalid   = 0xf4 // an instruction Validate rejects; imm holds its opcode
	opFellOff   = 0xf7 // the slot after the last: control fell off the end
	opBadTarget = 0xff // where branches out of the program are redirected
)

// code is the compiled form of one vm.Program: one insn per slot, then the
// two sentinels opFellOff and opBadTarget. Every branch target is within
// insns, so the run loop indexes it without bounds checks. insns is a view
// of an array with one more slot in front, never run: the run loop points
// at the instruction before the one it runs next, and Go's pointer rules
// (checked by -race) want that pointer inside the array, even before the
// first instruction.
type code struct {
	prog  *vm.Program
	insns []insn
}

func compile(p *vm.Program) *code {
	slots := p.Slots()
	padded := make([]insn, 1+slots+2)
	padded[0] = insn{op: opBadTarget}
	c := &code{prog: p, insns: padded[1:]}
	c.insns[slots] = insn{op: opFellOff}
	c.insns[slots+1] = insn{op: opBadTarget}
	for i, ins := range p.Insns {
		slot := p.SlotOf[i]
		// Register numbers are masked to the 16 of state.regs: the hot
		// loops index the registers by them without bounds checks (a
		// valid instruction's are at most 10 where they are used; an
		// unused field may hold anything a hand-built Instruction holds).
		ci := insn{op: uint8(ins.Opcode), dst: uint8(ins.Dst) & 15, src: uint8(ins.Src) & 15, off: int32(ins.Offset), imm: ins.Imm}
		if ins.Validate() != nil {
			// Programs from isa.Decode are valid; an invalid one built by
			// hand faults when it reaches the instruction.
			ci = insn{op: opInvalid, imm: int64(ins.Opcode)}
		} else if ci.kind = kindOf(ins); ins.IsLDDW() {
			ci.imm = int64(p.Imm64[i])
			c.insns[slot+1] = insn{op: opLDDWHigh}
		} else if ins.IsBranch() {
			// Redirect branches that leave the program to the opBadTarget
			// sentinel; the slot just past the end is the opFellOff one.
			target := int64(slot) + 1 + ins.BranchOffset()
			if target < 0 || target > int64(slots) {
				target = int64(slots) + 1
			}
			delta := target - int64(slot) - 1
			if ins.Opcode == isa.OpJA32 {
				ci.imm = delta
			} else {
				ci.off = int32(delta)
			}
		}
		c.insns[slot] = ci
	}
	return c
}

// codeFor returns the compiled code of p: the one Prepare attached, or a
// fresh compilation for a program reached by a tail call that was never
// prepared (correct, only slower).
func codeFor(p *vm.Program) *code {
	if c, ok := p.Compiled.(*code); ok && c.prog == p {
		return c
	}
	return compile(p)
}

// isa opcodes as untyped constants for the run loop's switch.
const (
	alu   = uint8(isa.ClassALU)
	alu64 = uint8(isa.ClassALU64)
	jmp   = uint8(isa.ClassJMP)
	jmp32 = uint8(isa.ClassJMP32)
	ldx   = uint8(isa.ClassLDX)
	st    = uint8(isa.ClassST)
	stx   = uint8(isa.ClassSTX)
	ld    = uint8(isa.ClassLD)
	k     = uint8(isa.SourceK)
	x     = uint8(isa.SourceX)

	opAdd  = uint8(isa.ALUAdd)
	opSub  = uint8(isa.ALUSub)
	opMul  = uint8(isa.ALUMul)
	opDiv  = uint8(isa.ALUDiv)
	opOr   = uint8(isa.ALUOr)
	opAnd  = uint8(isa.ALUAnd)
	opLsh  = uint8(isa.ALULsh)
	opRsh  = uint8(isa.ALURsh)
	opNeg  = uint8(isa.ALUNeg)
	opMod  = uint8(isa.ALUMod)
	opXor  = uint8(isa.ALUXor)
	opMov  = uint8(isa.ALUMov)
	opArsh = uint8(isa.ALUArsh)
	opEnd  = uint8(isa.ALUEnd)

	opJA   = uint8(isa.JumpA)
	opJEq  = uint8(isa.JumpEq)
	opJGT  = uint8(isa.JumpGT)
	opJGE  = uint8(isa.JumpGE)
	opJSet = uint8(isa.JumpSet)
	opJNE  = uint8(isa.JumpNE)
	opJSGT = uint8(isa.JumpSGT)
	opJSGE = uint8(isa.JumpSGE)
	opCall = uint8(isa.Call)
	opExit = uint8(isa.Exit)
	opJLT  = uint8(isa.JumpLT)
	opJLE  = uint8(isa.JumpLE)
	opJSLT = uint8(isa.JumpSLT)
	opJSLE = uint8(isa.JumpSLE)
	opJCnd = uint8(isa.JumpCond)

	mem        = uint8(isa.ModeMEM)
	memsx      = uint8(isa.ModeMEMSX)
	modeAtomic = uint8(isa.ModeATOMIC)
	abs        = uint8(isa.ModeABS)
	ind        = uint8(isa.ModeIND)
	imm        = uint8(isa.ModeIMM)
	szB        = uint8(isa.SizeB)
	szH        = uint8(isa.SizeH)
	szW        = uint8(isa.SizeW)
	szDW       = uint8(isa.SizeDW)
)
