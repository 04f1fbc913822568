package isa_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/ebpfvm/ebpfvm/isa"
)

// A variant is one encoding family of the ISA: an opcode plus, where the
// opcode alone does not decide the operation, the field that does (the
// offset of div/mod/mov, the width of a byte swap, the atomic operation, the
// source of lddw and call). The random generators cover every variant that
// Decode accepts; TestGeneratorCoversDecode checks that by brute force.
type variant string

// variantOf names the variant of a valid instruction.
func variantOf(ins isa.Instruction) variant {
	op := ins.Opcode
	base := fmt.Sprintf("%#02x %s", uint8(op), op)
	c := op.Class()
	switch {
	case c.IsALU() && (op.ALUOp() == isa.ALUDiv || op.ALUOp() == isa.ALUMod):
		return variant(fmt.Sprintf("%s off=%d", base, ins.Offset))
	case c.IsALU() && op.ALUOp() == isa.ALUMov && op.Source() == isa.SourceX:
		return variant(fmt.Sprintf("%s off=%d", base, ins.Offset))
	case c.IsALU() && op.ALUOp() == isa.ALUEnd:
		return variant(fmt.Sprintf("%s imm=%d", base, ins.Imm))
	case op == isa.OpCall:
		return variant(fmt.Sprintf("%s src=%d", base, ins.Src))
	case op == isa.OpLDDW:
		return variant(fmt.Sprintf("%s src=%d", base, ins.Src))
	case c == isa.ClassSTX && op.Mode() == isa.ModeATOMIC:
		return variant(fmt.Sprintf("%s imm=%#x", base, ins.Imm))
	}
	return variant(base)
}

// gen draws field values with a bias towards the edges of each range, where
// printers and parsers tend to go wrong.
type gen struct{ r *rand.Rand }

func newGen(seed uint64) *gen { return &gen{rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))} }

func (g *gen) reg() isa.Register { return isa.Register(g.r.IntN(11)) }

func (g *gen) imm32() int64 {
	switch g.r.IntN(8) {
	case 0:
		return int64([]int32{0, 1, -1, math.MinInt32, math.MaxInt32, 16, 32, 64}[g.r.IntN(8)])
	case 1, 2:
		return int64(g.r.IntN(256)) - 128
	case 3:
		return int64(g.r.IntN(1 << 16))
	}
	return int64(int32(g.r.Uint32()))
}

func (g *gen) off16() int16 {
	switch g.r.IntN(6) {
	case 0:
		return []int16{0, 1, -1, math.MinInt16, math.MaxInt16}[g.r.IntN(5)]
	case 1, 2:
		return int16(g.r.IntN(512) - 256)
	}
	return int16(g.r.Uint32())
}

func (g *gen) imm64() int64 {
	switch g.r.IntN(5) {
	case 0:
		return []int64{0, 1, -1, math.MinInt64, math.MaxInt64, math.MaxUint32, 1 << 32, math.MinInt32}[g.r.IntN(8)]
	case 1:
		return g.imm32()
	case 2:
		return int64(uint32(g.imm32())) // high word zero
	}
	return int64(g.r.Uint64())
}

func (g *gen) size() isa.Size {
	return []isa.Size{isa.SizeB, isa.SizeH, isa.SizeW, isa.SizeDW}[g.r.IntN(4)]
}

var (
	aluOps      = []isa.ALUOp{isa.ALUAdd, isa.ALUSub, isa.ALUMul, isa.ALUDiv, isa.ALUOr, isa.ALUAnd, isa.ALULsh, isa.ALURsh, isa.ALUMod, isa.ALUXor, isa.ALUMov, isa.ALUArsh}
	condOps     = []isa.JumpOp{isa.JumpEq, isa.JumpGT, isa.JumpGE, isa.JumpSet, isa.JumpNE, isa.JumpSGT, isa.JumpSGE, isa.JumpLT, isa.JumpLE, isa.JumpSLT, isa.JumpSLE}
	atomicOps   = []int64{isa.AtomicAdd, isa.AtomicOr, isa.AtomicAnd, isa.AtomicXor}
	classes     = []isa.Class{isa.ClassALU, isa.ClassALU64}
	jumpClasses = []isa.Class{isa.ClassJMP, isa.ClassJMP32}
)

func pick[T any](g *gen, s []T) T { return s[g.r.IntN(len(s))] }

// families are the generators, one per group of variants; each draws a
// valid instruction at random within its group.
var families = []struct {
	name string
	gen  func(g *gen) isa.Instruction
}{
	{"alu", func(g *gen) isa.Instruction {
		ins := isa.Instruction{Dst: g.reg()}
		aop := pick(g, aluOps)
		if g.r.IntN(2) == 0 {
			ins.Opcode = isa.ALUOpcode(pick(g, classes), aop, isa.SourceK)
			ins.Imm = g.imm32()
		} else {
			ins.Opcode = isa.ALUOpcode(pick(g, classes), aop, isa.SourceX)
			ins.Src = g.reg()
		}
		if (aop == isa.ALUDiv || aop == isa.ALUMod) && g.r.IntN(2) == 0 {
			ins.Offset = 1 // sdiv, smod
		}
		return ins
	}},
	{"neg", func(g *gen) isa.Instruction {
		return isa.Instruction{Opcode: isa.ALUOpcode(pick(g, classes), isa.ALUNeg, isa.SourceK), Dst: g.reg()}
	}},
	{"movsx", func(g *gen) isa.Instruction {
		if g.r.IntN(2) == 0 {
			return isa.MovSX32(g.reg(), g.reg(), pick(g, []int16{8, 16}))
		}
		return isa.MovSX(g.reg(), g.reg(), pick(g, []int16{8, 16, 32}))
	}},
	{"addr_space_cast", func(g *gen) isa.Instruction {
		return isa.Instruction{Opcode: isa.OpMov64Reg, Dst: g.reg(), Src: g.reg(), Offset: 1, Imm: pick(g, []int64{1, 1 << 16})}
	}},
	{"end", func(g *gen) isa.Instruction {
		bits := pick(g, []int32{16, 32, 64})
		switch g.r.IntN(3) {
		case 0:
			return isa.ToLE(g.reg(), bits)
		case 1:
			return isa.ToBE(g.reg(), bits)
		}
		return isa.ByteSwap(g.reg(), bits)
	}},
	{"cond", func(g *gen) isa.Instruction {
		ins := isa.Instruction{Dst: g.reg(), Offset: g.off16()}
		if g.r.IntN(2) == 0 {
			ins.Opcode = isa.JumpOpcode(pick(g, jumpClasses), pick(g, condOps), isa.SourceK)
			ins.Imm = g.imm32()
		} else {
			ins.Opcode = isa.JumpOpcode(pick(g, jumpClasses), pick(g, condOps), isa.SourceX)
			ins.Src = g.reg()
		}
		return ins
	}},
	{"goto", func(g *gen) isa.Instruction {
		switch g.r.IntN(3) {
		case 0:
			return isa.Ja(g.off16())
		case 1:
			return isa.Gotol(int32(g.imm32()))
		}
		return isa.Instruction{Opcode: isa.OpMayGoto, Offset: g.off16()}
	}},
	{"call", func(g *gen) isa.Instruction {
		switch g.r.IntN(5) {
		case 0:
			return isa.LocalCall(int32(g.imm32()))
		case 1:
			return isa.Instruction{Opcode: isa.OpCall, Src: isa.CallKfunc, Imm: g.imm32()}
		case 2:
			return isa.CallReg(g.reg())
		case 3:
			return isa.Return()
		}
		return isa.HelperCall(int32(g.imm32()))
	}},
	{"lddw", func(g *gen) isa.Instruction {
		return isa.Instruction{Opcode: isa.OpLDDW, Dst: g.reg(), Src: isa.Register(g.r.IntN(int(isa.PseudoMapIdxValue) + 1)), Imm: g.imm64()}
	}},
	{"packet", func(g *gen) isa.Instruction {
		size := pick(g, []isa.Size{isa.SizeB, isa.SizeH, isa.SizeW})
		if g.r.IntN(2) == 0 {
			return isa.LoadAbs(int32(g.imm32()), size)
		}
		imm := int32(0)
		if g.r.IntN(2) == 0 {
			imm = int32(g.imm32())
		}
		return isa.LoadInd(g.reg(), imm, size)
	}},
	{"load", func(g *gen) isa.Instruction {
		if g.r.IntN(3) == 0 {
			return isa.LoadSX(g.reg(), g.reg(), g.off16(), pick(g, []isa.Size{isa.SizeB, isa.SizeH, isa.SizeW}))
		}
		return isa.Load(g.reg(), g.reg(), g.off16(), g.size())
	}},
	{"store", func(g *gen) isa.Instruction {
		if g.r.IntN(2) == 0 {
			return isa.StoreImm(g.reg(), g.off16(), int32(g.imm32()), g.size())
		}
		return isa.Store(g.reg(), g.off16(), g.reg(), g.size())
	}},
	{"atomic", func(g *gen) isa.Instruction {
		var op int64
		switch g.r.IntN(6) {
		case 0:
			op = isa.AtomicXchg
		case 1:
			op = isa.AtomicCmpXchg
		default:
			op = pick(g, atomicOps)
			if g.r.IntN(2) == 0 {
				op |= isa.AtomicFetch
			}
		}
		return isa.Atomic(op, g.reg(), g.off16(), g.reg(), pick(g, []isa.Size{isa.SizeW, isa.SizeDW}))
	}},
}

// randomInstructions draws n valid instructions, spread evenly over the
// families.
func randomInstructions(seed uint64, n int) []isa.Instruction {
	g := newGen(seed)
	out := make([]isa.Instruction, n)
	for i := range out {
		out[i] = families[i%len(families)].gen(g)
	}
	g.r.Shuffle(n, func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// acceptedVariants finds by brute force every variant Decode accepts: each
// opcode byte with each value of the fields that select a variant (src,
// offset, imm), the other fields zero.
func acceptedVariants() []variant {
	seen := map[variant]bool{}
	offs := []int16{0, 1, 8, 16, 32}
	imms := []int64{0, 1, 16, 32, 64, 1 << 16}
	for _, a := range []int64{isa.AtomicAdd, isa.AtomicOr, isa.AtomicAnd, isa.AtomicXor} {
		imms = append(imms, a, a|isa.AtomicFetch)
	}
	imms = append(imms, isa.AtomicXchg, isa.AtomicCmpXchg)
	for op := range 256 {
		for src := range 16 {
			for _, off := range offs {
				for _, imm := range imms {
					ins := isa.Instruction{Opcode: isa.Opcode(op), Src: isa.Register(src), Offset: off, Imm: imm}
					b, err := isa.Encode([]isa.Instruction{ins})
					if err != nil {
						continue
					}
					if dec, err := isa.Decode(b); err == nil {
						seen[variantOf(dec[0])] = true
					}
				}
			}
		}
	}
	out := make([]variant, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}
