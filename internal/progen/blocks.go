package progen

import (
	"encoding/binary"
	"math"

	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/kernel"
)

// Helper ids the blocks call.
const (
	helperMapLookup     = 1
	helperMapUpdate     = 2
	helperMapDelete     = 3
	helperMapPush       = 87
	helperMapPop        = 88
	helperMapPeek       = 89
	helperStrtol        = 105
	helperStrtoul       = 106
	helperXDPAdjustMeta = 54
	helperSnprintf      = 165
	helperStrncmp       = 182
	helperSkbLoadBytes  = 26
	helperCsumDiff      = 28
	helperXDPAdjustHead = 44
	helperXDPAdjustTail = 65
	helperLoop          = 181
	helperXDPBuffLen    = 188
	helperXDPLoadBytes  = 189
	helperXDPStoreBytes = 190
)

// calleeSaved are the scalar registers a helper call leaves initialised
// (r0 holds its result, r1-r5 are dead).
var calleeSaved = []isa.Register{isa.R7, isa.R8, isa.R9}

var binaryOps = []isa.ALUOp{isa.ALUAdd, isa.ALUSub, isa.ALUMul, isa.ALUDiv, isa.ALUOr, isa.ALUAnd, isa.ALULsh,
	isa.ALURsh, isa.ALUMod, isa.ALUXor, isa.ALUMov, isa.ALUArsh}

// aluBlock: one to three ALU instructions.
func (g *gen) aluBlock() {
	for range 1 + g.r.IntN(3) {
		g.aluOne()
	}
}

// divEdges are operand values where division and modulo misbehave when
// implemented naively.
var divEdges = []int64{math.MinInt64, math.MinInt32, -1, 0, 1, -2, math.MaxInt64, math.MaxInt32, 1 << 32, -1 << 32, 0xffffffff, 7, -7}

func (g *gen) aluOne() {
	if g.chance(4) {
		// A division or modulo of edge values, through registers.
		a, b := g.reg(), g.reg()
		for b == a {
			b = g.reg()
		}
		g.emit(isa.LoadImm64(a, divEdges[g.r.IntN(len(divEdges))]), isa.LoadImm64(b, divEdges[g.r.IntN(len(divEdges))]))
		class := isa.ClassALU64
		if g.chance(40) {
			class = isa.ClassALU
		}
		op := []isa.ALUOp{isa.ALUDiv, isa.ALUMod}[g.r.IntN(2)]
		g.emit(isa.Instruction{Opcode: isa.ALUOpcode(class, op, isa.SourceX), Dst: a, Src: b, Offset: int16(g.r.IntN(2))})
		return
	}
	dst := g.reg()
	w32 := g.chance(40)
	class := isa.ClassALU64
	width := int32(64)
	if w32 {
		class, width = isa.ClassALU, 32
	}
	switch n := g.r.IntN(20); {
	case n < 13:
		op := binaryOps[g.r.IntN(len(binaryOps))]
		signed := (op == isa.ALUDiv || op == isa.ALUMod) && g.chance(50)
		var ins isa.Instruction
		if g.chance(50) {
			ins = isa.Instruction{Opcode: isa.ALUOpcode(class, op, isa.SourceX), Dst: dst, Src: g.reg()}
		} else {
			imm := g.imm32()
			switch op {
			case isa.ALUDiv, isa.ALUMod:
				// The verifier refuses division by an immediate zero; by a
				// register holding zero is generated above.
				for imm == 0 {
					imm = g.imm32()
				}
			case isa.ALULsh, isa.ALURsh, isa.ALUArsh:
				// ... and shifts by an immediate of at least the width.
				imm = int32(g.r.IntN(int(width)))
			}
			ins = isa.Instruction{Opcode: isa.ALUOpcode(class, op, isa.SourceK), Dst: dst, Imm: int64(imm)}
		}
		if signed {
			ins.Offset = 1
		}
		g.emit(ins)
	case n == 13:
		g.emit(isa.Instruction{Opcode: isa.ALUOpcode(class, isa.ALUNeg, isa.SourceK), Dst: dst})
	case n == 14:
		if w32 {
			g.emit(isa.MovSX32(dst, g.reg(), []int16{8, 16}[g.r.IntN(2)]))
		} else {
			g.emit(isa.MovSX(dst, g.reg(), []int16{8, 16, 32}[g.r.IntN(3)]))
		}
	case n == 15:
		bits := []int32{16, 32, 64}[g.r.IntN(3)]
		switch g.r.IntN(3) {
		case 0:
			g.emit(isa.ToLE(dst, bits))
		case 1:
			g.emit(isa.ToBE(dst, bits))
		default:
			g.emit(isa.ByteSwap(dst, bits))
		}
	case n == 16:
		g.emit(isa.LoadImm64(dst, g.imm64()))
	default:
		g.setConst(dst)
	}
}

var condOps = []isa.JumpOp{isa.JumpEq, isa.JumpGT, isa.JumpGE, isa.JumpSet, isa.JumpNE, isa.JumpSGT, isa.JumpSGE,
	isa.JumpLT, isa.JumpLE, isa.JumpSLT, isa.JumpSLE}

// cond returns a conditional jump on scalars (offset left to the label).
func (g *gen) cond() isa.Instruction {
	op := condOps[g.r.IntN(len(condOps))]
	class := isa.ClassJMP
	if g.chance(40) {
		class = isa.ClassJMP32
	}
	if g.chance(50) {
		return isa.Instruction{Opcode: isa.JumpOpcode(class, op, isa.SourceX), Dst: g.reg(), Src: g.reg()}
	}
	return isa.Instruction{Opcode: isa.JumpOpcode(class, op, isa.SourceK), Dst: g.reg(), Imm: int64(g.imm32())}
}

// jmpBlock: a conditional skip over the next blocks, an if/else, or an
// early exit.
func (g *gen) jmpBlock() {
	switch n := g.r.IntN(10); {
	case n < 5:
		g.emitJump(g.cond(), g.forward(3))
	case n < 8:
		els, end := g.newLabel(), g.newLabel()
		g.emitJump(g.cond(), els)
		g.simpleBlock()
		if g.chance(25) {
			g.emitJump(isa.Gotol(0), end)
		} else {
			g.emitJump(isa.Ja(0), end)
		}
		g.place(els)
		g.simpleBlock()
		g.place(end)
	default:
		if g.callback {
			g.aluBlock()
			return
		}
		skip := g.newLabel()
		g.emitJump(g.cond(), skip)
		g.emit(isa.Return())
		g.place(skip)
	}
}

// simpleBlock is a block without branches, for the arms of an if/else.
func (g *gen) simpleBlock() {
	if g.mix&MixMem != 0 && g.chance(40) {
		g.memBlock()
		return
	}
	g.aluBlock()
}

// stackOff returns an aligned offset of size bytes in the data area.
func (g *gen) stackOff(size int) int16 {
	return int16(-size * (1 + g.r.IntN(dataArea/size)))
}

var sizes = []isa.Size{isa.SizeB, isa.SizeH, isa.SizeW, isa.SizeDW}

var atomicOps = []int64{isa.AtomicAdd, isa.AtomicOr, isa.AtomicAnd, isa.AtomicXor,
	isa.AtomicAdd | isa.AtomicFetch, isa.AtomicOr | isa.AtomicFetch, isa.AtomicAnd | isa.AtomicFetch,
	isa.AtomicXor | isa.AtomicFetch, isa.AtomicXchg, isa.AtomicCmpXchg}

// memBlock: stack loads, stores and atomics, directly off r10 or through
// a stack pointer in a register.
func (g *gen) memBlock() {
	base, bias := isa.R10, int16(0)
	ptr := g.chance(25)
	if ptr {
		base = g.regExcept(isa.R0) // cmpxchg would overwrite the pointer
		bias = int16(-8 * (1 + g.r.IntN(dataArea/8)))
		g.emit(isa.ALUMov.Reg(base, isa.R10), isa.ALUAdd.Imm(base, int32(bias)))
	}
	for range 1 + g.r.IntN(3) {
		sz := sizes[g.r.IntN(4)]
		off := g.stackOff(sz.Bytes()) - bias
		switch g.r.IntN(6) {
		case 0, 1:
			dst := g.regExcept(base)
			if sz != isa.SizeDW && g.chance(30) {
				g.emit(isa.LoadSX(dst, base, off, sz))
			} else {
				g.emit(isa.Load(dst, base, off, sz))
			}
		case 2:
			g.emit(isa.StoreImm(base, off, g.imm32(), sz))
		case 3, 4:
			g.emit(isa.Store(base, off, g.regExcept(base), sz))
		default:
			// No fetching atomics on the stack: Linux 6.18 does not track
			// precision through the value they load, prunes paths on which
			// it differs and may hard-wire a branch wrongly (see
			// kernel/testdata/atomic-fetch-precision.s). Map values, whose
			// contents the verifier never knows, get every atomic.
			sz = []isa.Size{isa.SizeW, isa.SizeDW}[g.r.IntN(2)]
			off = g.stackOff(sz.Bytes()) - bias
			g.emit(isa.Atomic(atomicOps[g.r.IntN(4)], base, off, g.regExcept(base), sz))
		}
	}
	if ptr {
		g.restore(base)
	}
}

// valueAccess emits one to three loads, stores or atomics through ptr, which
// points base bytes into a map value of size bytes. Stored values come from
// srcs (registers known to hold scalars). r0ptr says r0 holds a pointer,
// which cmpxchg would compare with memory.
func (g *gen) valueAccess(ptr isa.Register, base, size int, srcs []isa.Register, r0ptr bool) {
	src := func() isa.Register { return srcs[g.r.IntN(len(srcs))] }
	lo, hi := -base, size-base
	for range 1 + g.r.IntN(3) {
		switch g.r.IntN(5) {
		case 0, 1:
			sz := g.fitSize(hi - lo)
			off := lo + g.r.IntN(hi-lo-sz.Bytes()+1)
			if sz != isa.SizeDW && g.chance(30) {
				g.emit(isa.LoadSX(g.regExcept(ptr), ptr, int16(off), sz))
			} else {
				g.emit(isa.Load(g.regExcept(ptr), ptr, int16(off), sz))
			}
		case 2, 3:
			sz := g.fitSize(hi - lo)
			off := int16(lo + g.r.IntN(hi-lo-sz.Bytes()+1))
			if g.chance(30) {
				g.emit(isa.StoreImm(ptr, off, g.imm32(), sz))
			} else {
				g.emit(isa.Store(ptr, off, src(), sz))
			}
		default:
			// Atomics need natural alignment of the address; values start
			// 8-byte aligned, so align the offset from the value's start.
			sz := isa.SizeW
			if size >= 8 && g.chance(50) {
				sz = isa.SizeDW
			}
			n := sz.Bytes()
			if n > size {
				continue
			}
			off := n*g.r.IntN(size/n) - base
			op := atomicOps[g.r.IntN(len(atomicOps))]
			if op == isa.AtomicCmpXchg && (ptr == isa.R0 || r0ptr) {
				op = isa.AtomicXchg // cmpxchg compares r0, a pointer here, and overwrites it
			}
			g.emit(isa.Atomic(op, ptr, int16(off), src(), sz))
		}
	}
}

// fitSize picks an access size of at most n bytes.
func (g *gen) fitSize(n int) isa.Size {
	for {
		sz := sizes[g.r.IntN(4)]
		if sz.Bytes() <= n {
			return sz
		}
	}
}

// storeKey writes a map key of n bytes at the key slot: a small constant
// (likely present) or a register (anything).
func (g *gen) storeKey(n uint32, max int) {
	sz := isa.SizeW
	if n == 8 {
		sz = isa.SizeDW
	}
	if g.chance(75) {
		g.emit(isa.StoreImm(isa.R10, keySlot, int32(g.r.IntN(max)), sz))
	} else {
		g.emit(isa.Store(isa.R10, keySlot, g.reg(), sz))
	}
}

func (g *gen) loadMap(dst isa.Register, name string) {
	g.emitRef(isa.LoadPseudo(dst, isa.PseudoMapFD, 0, 0), kernel.Reference{Map: name})
}

// reinitArgs gives r1-r5 values again after a call, which leaves them
// uninitialised to the verifier.
func (g *gen) reinitArgs() {
	for r := isa.R1; r <= isa.R5; r++ {
		if g.chance(50) {
			g.setConst(r)
		} else {
			g.emit(isa.ALUMov.Reg(r, []isa.Register{isa.R0, isa.R7, isa.R8, isa.R9}[g.r.IntN(4)]))
		}
	}
}

// mapBlock: a lookup with a NULL check and accesses to the value, an
// update, a delete, or accesses through a direct value pointer.
func (g *gen) mapBlock() {
	switch n := g.r.IntN(12); {
	case n >= 10: // push, pop or peek on the queue or the stack
		name, vs := mapQueue, 8
		if g.chance(50) {
			name, vs = mapStack, 4
		}
		g.loadMap(isa.R1, name)
		off := int32(-dataArea + vs*g.r.IntN(dataArea/vs))
		g.emit(isa.ALUMov.Reg(isa.R2, isa.R10), isa.ALUAdd.Imm(isa.R2, off))
		switch g.r.IntN(3) {
		case 0:
			// BPF_ANY, or BPF_EXIST: a full map drops its oldest element.
			g.emit(isa.ALUMov.Imm(isa.R3, int32(2*g.r.IntN(2))), isa.HelperCall(helperMapPush))
		case 1:
			g.emit(isa.HelperCall(helperMapPop))
		default:
			g.emit(isa.HelperCall(helperMapPeek))
		}
		g.reinitArgs()
	case n < 4: // lookup
		name, ks, vs, max := mapArr, uint32(4), g.arrVS, int(g.arrMax)+2
		switch g.r.IntN(5) {
		case 0, 1:
			name, ks, vs, max = mapHash, g.hashKS, g.hashVS, 10
		case 2:
			name, ks, vs, max = mapPerCPU, 4, 8, 3
		}
		g.storeKey(ks, max)
		g.loadMap(isa.R1, name)
		g.emit(isa.ALUMov.Reg(isa.R2, isa.R10), isa.ALUAdd.Imm(isa.R2, keySlot), isa.HelperCall(helperMapLookup))
		skip := g.newLabel()
		if g.chance(50) {
			g.emitJump(isa.JumpEq.Imm(isa.R0, 0, 0), skip)
			g.valueAccess(isa.R0, 0, int(vs), calleeSaved, true)
		} else {
			// The value's pointer in another register, NULL-checked there.
			p := isa.Register(1 + g.r.IntN(5))
			g.emit(isa.ALUMov.Reg(p, isa.R0))
			g.emitJump(isa.JumpEq.Imm(p, 0, 0), skip)
			g.valueAccess(p, 0, int(vs), calleeSaved, true)
		}
		g.place(skip)
		g.restore(isa.R0, isa.R1, isa.R2, isa.R3, isa.R4, isa.R5)
		g.reinitArgs()
	case n < 7: // update
		name, ks, vs, max := mapArr, uint32(4), g.arrVS, int(g.arrMax)+2
		if g.chance(60) {
			name, ks, vs, max = mapHash, g.hashKS, g.hashVS, 10
		}
		g.storeKey(ks, max)
		g.loadMap(isa.R1, name)
		g.emit(isa.ALUMov.Reg(isa.R2, isa.R10), isa.ALUAdd.Imm(isa.R2, keySlot),
			isa.ALUMov.Reg(isa.R3, isa.R10), isa.ALUAdd.Imm(isa.R3, int32(-dataArea+g.r.IntN(dataArea-int(vs)+1))),
			isa.ALUMov.Imm(isa.R4, int32(g.r.IntN(3))), // BPF_ANY, BPF_NOEXIST, BPF_EXIST
			isa.HelperCall(helperMapUpdate))
		g.reinitArgs()
	case n < 8: // delete
		name, ks, max := mapHash, g.hashKS, 10
		if g.chance(20) {
			name, ks, max = mapArr, 4, int(g.arrMax)
		}
		g.storeKey(ks, max)
		g.loadMap(isa.R1, name)
		g.emit(isa.ALUMov.Reg(isa.R2, isa.R10), isa.ALUAdd.Imm(isa.R2, keySlot), isa.HelperCall(helperMapDelete))
		g.reinitArgs()
	default: // direct value access, as global data
		p := g.reg()
		start := g.r.IntN(int(g.glob))
		g.emitRef(isa.LoadPseudo(p, isa.PseudoMapValue, 0, int32(start)), kernel.Reference{Map: mapGlob, Value: true, Offset: int64(start)})
		var srcs []isa.Register
		for _, r := range scalarRegs {
			if r != p {
				srcs = append(srcs, r)
			}
		}
		g.valueAccess(p, start, int(g.glob), srcs, p == isa.R0)
		g.restore(p)
	}
}

// loopBlock: a loop counting a reserved register to a constant, around one
// to three blocks.
func (g *gen) loopBlock() {
	if g.depth >= 2 {
		g.aluBlock()
		return
	}
	// Branches from outside must not land inside the loop.
	g.flush(-1)
	// Not r0: cmpxchg writes it.
	c := g.regExcept(isa.R0)
	g.reserved[c] = true
	g.depth++
	n := 1 + g.r.IntN(6)
	if g.depth > 1 {
		n = 1 + g.r.IntN(3)
	}
	w32 := g.chance(30)
	up := g.chance(60)
	if up {
		g.emit(isa.ALUMov.Imm(c, 0))
	} else {
		g.emit(isa.ALUMov.Imm(c, int32(n)))
	}
	head, exit := g.newLabel(), g.newLabel()
	g.place(head)
	if !g.mayGoto && g.depth == 1 && g.chance(20) {
		// may_goto: taken only when the loop budget of 8M runs out, never
		// here, so a no-op; kernels from 6.9 accept it. One per program,
		// in an outer loop: each doubles the paths the kernel explores,
		// and inside nested loops Linux 6.18 can take minutes, or fail
		// with EFAULT ("verifier bug").
		g.mayGoto = true
		g.emitJump(isa.Instruction{Opcode: isa.OpMayGoto}, exit)
	}
	for range 1 + g.r.IntN(3) {
		if g.mix&MixLoops != 0 && g.depth < 2 && g.chance(10) {
			g.loopBlock()
		} else {
			g.block(g.depth)
		}
		g.boundary()
	}
	g.flush(g.depth)
	class := isa.ClassJMP
	if w32 {
		class = isa.ClassJMP32
	}
	if up {
		g.emit(isa.ALUAdd.Imm(c, 1))
		op, bound := isa.JumpLT, n
		switch g.r.IntN(3) {
		case 1:
			op, bound = isa.JumpLE, n-1
		case 2:
			op = isa.JumpNE
		}
		g.emitJump(isa.Instruction{Opcode: isa.JumpOpcode(class, op, isa.SourceK), Dst: c, Imm: int64(bound)}, head)
	} else {
		g.emit(isa.ALUSub.Imm(c, 1))
		op := []isa.JumpOp{isa.JumpNE, isa.JumpSGT, isa.JumpGT}[g.r.IntN(3)]
		g.emitJump(isa.Instruction{Opcode: isa.JumpOpcode(class, op, isa.SourceK), Dst: c, Imm: 0}, head)
	}
	g.place(exit)
	g.depth--
	g.reserved[c] = false
}

// packetBlock: for xdp, reads and writes behind a data_end check (and the
// packet's length); for socket filters, ld_abs and ld_ind.
func (g *gen) packetBlock() {
	if g.typ == kernel.TypeSocketFilter {
		sz := []isa.Size{isa.SizeB, isa.SizeH, isa.SizeW}[g.r.IntN(3)]
		if g.chance(60) {
			g.emit(isa.LoadAbs(int32(g.r.IntN(100)), sz))
		} else {
			g.emit(isa.LoadInd(g.reg(), int32(g.r.IntN(40)-4), sz))
		}
		// ld_abs and ld_ind are calls to the verifier: r1-r5 are dead.
		g.reinitArgs()
		return
	}
	data, end := g.reg(), g.reg()
	for end == data {
		end = g.reg()
	}
	g.emit(isa.Load(data, isa.R6, 0, isa.SizeW), isa.Load(end, isa.R6, 4, isa.SizeW))
	if g.chance(20) {
		l := g.regExcept(data, end)
		g.emit(isa.ALUMov.Reg(l, end), isa.ALUSub.Reg(l, data))
		g.restore(data, end)
		g.restore(end, data)
		return
	}
	tmp := g.regExcept(data, end)
	n := 1 + g.r.IntN(100)
	g.emit(isa.ALUMov.Reg(tmp, data), isa.ALUAdd.Imm(tmp, int32(n)))
	skip := g.newLabel()
	if g.chance(50) {
		g.emitJump(isa.JumpGT.Reg(tmp, end, 0), skip)
	} else {
		g.emitJump(isa.JumpLT.Reg(end, tmp, 0), skip)
	}
	for range 1 + g.r.IntN(3) {
		sz := g.fitSize(n)
		off := int16(g.r.IntN(n - sz.Bytes() + 1))
		switch g.r.IntN(4) {
		case 0, 1:
			if sz != isa.SizeDW && g.chance(30) {
				g.emit(isa.LoadSX(g.regExcept(data, end, tmp), data, off, sz))
			} else {
				g.emit(isa.Load(g.regExcept(data, end, tmp), data, off, sz))
			}
		case 2:
			g.emit(isa.StoreImm(data, off, g.imm32(), sz))
		default:
			g.emit(isa.Store(data, off, g.regExcept(data, end, tmp), sz))
		}
	}
	g.place(skip)
	g.restore(data, end, tmp)
	g.restore(end, data, tmp)
	g.restore(tmp, data, end)
}

// skbReads are the __sk_buff fields a socket filter may read, as offset and
// size, narrow reads included.
var skbReads = func() [][2]int {
	var out [][2]int
	for _, off := range []int{0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64, 68, 84, 164, 176} {
		out = append(out, [2]int{off, 4}, [2]int{off, 2}, [2]int{off, 1}, [2]int{off + 3, 1})
		// A 2-byte load of the upper half of a field the kernel keeps in 16
		// bits (protocol, ...) returns the field itself there: a kernel quirk
		// ebpfvm does not mimic (see the kernel package).
		if off != 16 {
			out = append(out, [2]int{off + 2, 2})
		}
	}
	return out
}()

// ctxBlock: context reads (and __sk_buff cb writes).
func (g *gen) ctxBlock() {
	if g.typ == kernel.TypeXDP {
		g.emit(isa.Load(g.reg(), isa.R6, []int16{12, 16}[g.r.IntN(2)], isa.SizeW))
		return
	}
	if g.chance(35) {
		// cb[0..4]: 20 bytes the program may write at any size.
		sz := sizes[g.r.IntN(4)]
		off := int16(48 + sz.Bytes()*g.r.IntN(20/sz.Bytes()))
		// BPF_ST (immediate) stores into the context are refused.
		g.emit(isa.Store(isa.R6, off, g.reg(), sz))
		return
	}
	f := skbReads[g.r.IntN(len(skbReads))]
	sz, _ := isa.SizeFor(f[1])
	g.emit(isa.Load(g.reg(), isa.R6, int16(f[0]), sz))
}

// rodataStrings are the constant strings of the rodata map: snprintf
// formats (with flags, widths, every length modifier and conversion the
// kernel allows except pointers and strings) and strncmp operands.
var rodataStrings = []string{
	"%d", "%u %x", "%lld|%llx|%llu", "%-5d|%5u|", "%+d % i %08x", "%X%%%c", "%c%c%c", "%ld %lu %li %lx",
	"%016llx", "r0=%d", "", "abc", "123", "-0x1f",
}

// snprintfFormats are the indexes of rodataStrings that are formats, with
// the number of arguments each takes.
var snprintfFormats = [][2]int{{0, 1}, {1, 2}, {2, 3}, {3, 2}, {4, 3}, {5, 2}, {6, 3}, {7, 4}, {8, 1}, {9, 1}, {10, 0}}

// numberStrings are what strtol and strtoul parse: signs, bases, spaces,
// overflow, garbage.
var numberStrings = []string{"123", "-123", "  +42x", "0x1F", "-0x1f", "077", "0", "99999999999999999999", "-9223372036854775808",
	"9223372036854775807", "18446744073709551615", "z", "", "0x", "\t\n 5", "-", "1234567890123456"}

// storeBytes writes b at fp+off through r1 (a temporary here).
func (g *gen) storeBytes(off int, b []byte) {
	for len(b) > 0 {
		var chunk [8]byte
		n := copy(chunk[:], b)
		g.emit(isa.LoadImm64(isa.R1, int64(binary.LittleEndian.Uint64(chunk[:]))), isa.Store(isa.R10, int16(off), isa.R1, isa.SizeDW))
		b, off = b[n:], off+8
	}
}

// stringHelperBlock calls strtol, strtoul, snprintf or strncmp. The data
// area is split: fp-64..fp-33 holds the input (string or arguments),
// fp-32..fp-1 the output.
func (g *gen) stringHelperBlock() {
	switch g.r.IntN(3) {
	case 0: // strtol/strtoul(buf, buf_len, flags, res)
		s := numberStrings[g.r.IntN(len(numberStrings))]
		buf := []byte(s)
		if len(buf) > 24 {
			buf = buf[:24]
		}
		g.storeBytes(-dataArea, append(buf, make([]byte, 32-len(buf))...))
		n := len(buf) + g.r.IntN(2) // with or without the NUL
		if n == 0 {
			n = 1
		}
		flags := []int32{0, 8, 10, 16, 0, 10, 3}[g.r.IntN(7)] // base; 3 is invalid
		id := int32(helperStrtol)
		if g.chance(50) {
			id = helperStrtoul
		}
		g.emit(isa.ALUMov.Reg(isa.R1, isa.R10), isa.ALUAdd.Imm(isa.R1, -dataArea), isa.ALUMov.Imm(isa.R2, int32(n)),
			isa.ALUMov.Imm(isa.R3, flags), isa.ALUMov.Reg(isa.R4, isa.R10), isa.ALUAdd.Imm(isa.R4, -16), isa.HelperCall(id))
	case 1: // snprintf(out, size, fmt, data, data_len)
		f := snprintfFormats[g.r.IntN(len(snprintfFormats))]
		g.emit(isa.ALUMov.Reg(isa.R1, isa.R10), isa.ALUAdd.Imm(isa.R1, -32), isa.ALUMov.Imm(isa.R2, int32(g.r.IntN(33))))
		g.emitRef(isa.LoadPseudo(isa.R3, isa.PseudoMapValue, 0, int32(g.rodataOff[f[0]])),
			kernel.Reference{Map: mapRodata, Value: true, Offset: int64(g.rodataOff[f[0]])})
		if f[1] == 0 && g.chance(50) {
			g.emit(isa.ALUMov.Imm(isa.R4, 0), isa.ALUMov.Imm(isa.R5, 0))
		} else {
			g.emit(isa.ALUMov.Reg(isa.R4, isa.R10), isa.ALUAdd.Imm(isa.R4, -dataArea), isa.ALUMov.Imm(isa.R5, int32(8*f[1])))
		}
		g.emit(isa.HelperCall(helperSnprintf))
	default: // strncmp(s1, s1_sz, s2)
		s2 := 10 + g.r.IntN(4)
		s1 := []byte(rodataStrings[s2])
		if g.chance(50) && len(s1) > 0 {
			s1[g.r.IntN(len(s1))] ^= byte(1 + g.r.IntN(255))
		}
		g.storeBytes(-dataArea, append(s1, make([]byte, 8-len(s1)%8)...))
		g.emit(isa.ALUMov.Reg(isa.R1, isa.R10), isa.ALUAdd.Imm(isa.R1, -dataArea), isa.ALUMov.Imm(isa.R2, int32(1+g.r.IntN(8))))
		g.emitRef(isa.LoadPseudo(isa.R3, isa.PseudoMapValue, 0, int32(g.rodataOff[s2])),
			kernel.Reference{Map: mapRodata, Value: true, Offset: int64(g.rodataOff[s2])})
		g.emit(isa.HelperCall(helperStrncmp))
	}
	g.reinitArgs()
}

// metaBlock moves the xdp metadata start and reads or writes the
// metadata behind a data check.
func (g *gen) metaBlock() {
	if g.chance(50) {
		g.emit(isa.ALUMov.Reg(isa.R1, isa.R6), isa.ALUMov.Imm(isa.R2, int32(4*(g.r.IntN(12)-9))), isa.HelperCall(helperXDPAdjustMeta))
		g.reinitArgs()
		return
	}
	meta, data := g.reg(), g.reg()
	for data == meta {
		data = g.reg()
	}
	tmp := g.regExcept(meta, data)
	n := 1 + g.r.IntN(32)
	g.emit(isa.Load(meta, isa.R6, 8, isa.SizeW), isa.Load(data, isa.R6, 0, isa.SizeW),
		isa.ALUMov.Reg(tmp, meta), isa.ALUAdd.Imm(tmp, int32(n)))
	skip := g.newLabel()
	g.emitJump(isa.JumpGT.Reg(tmp, data, 0), skip)
	sz := g.fitSize(n)
	off := int16(g.r.IntN(n - sz.Bytes() + 1))
	if g.chance(50) {
		g.emit(isa.Load(g.regExcept(meta, data, tmp), meta, off, sz))
	} else {
		g.emit(isa.Store(meta, off, g.regExcept(meta, data, tmp), sz))
	}
	g.place(skip)
	g.restore(meta, data, tmp)
	g.restore(data, meta, tmp)
	g.restore(tmp, meta, data)
}

// helperBlock calls a helper with valid arguments.
func (g *gen) helperBlock() {
	if g.chance(30) {
		g.stringHelperBlock()
		return
	}
	if g.typ == kernel.TypeXDP && g.chance(20) {
		g.metaBlock()
		return
	}
	switch g.r.IntN(3) {
	case 0: // csum_diff(from, from_size, to, to_size, seed); socket filters may not call it
		if g.typ != kernel.TypeXDP {
			g.aluBlock()
			return
		}
		if g.chance(20) {
			g.emit(isa.ALUMov.Imm(isa.R1, 0), isa.ALUMov.Imm(isa.R2, 0))
		} else {
			from := g.r.IntN(dataArea)
			g.emit(isa.ALUMov.Reg(isa.R1, isa.R10), isa.ALUAdd.Imm(isa.R1, int32(-dataArea+from)),
				isa.ALUMov.Imm(isa.R2, int32(g.r.IntN(dataArea-from+1))))
		}
		to := g.r.IntN(dataArea)
		g.emit(isa.ALUMov.Reg(isa.R3, isa.R10), isa.ALUAdd.Imm(isa.R3, int32(-dataArea+to)),
			isa.ALUMov.Imm(isa.R4, int32(g.r.IntN(dataArea-to+1))))
		g.setConst(isa.R5)
		g.emit(isa.HelperCall(helperCsumDiff))
	default:
		if g.typ == kernel.TypeSocketFilter {
			// skb_load_bytes(ctx, offset, to, len)
			n := 1 + g.r.IntN(16)
			g.emit(isa.ALUMov.Reg(isa.R1, isa.R6), isa.ALUMov.Imm(isa.R2, int32(g.r.IntN(100))),
				isa.ALUMov.Reg(isa.R3, isa.R10), isa.ALUAdd.Imm(isa.R3, int32(-dataArea+g.r.IntN(dataArea-n+1))),
				isa.ALUMov.Imm(isa.R4, int32(n)), isa.HelperCall(helperSkbLoadBytes))
			break
		}
		g.emit(isa.ALUMov.Reg(isa.R1, isa.R6))
		switch g.r.IntN(5) {
		case 0:
			g.emit(isa.ALUMov.Imm(isa.R2, int32(g.r.IntN(120)-100)), isa.HelperCall(helperXDPAdjustHead))
		case 1:
			g.emit(isa.ALUMov.Imm(isa.R2, int32(g.r.IntN(120)-60)), isa.HelperCall(helperXDPAdjustTail))
		case 2:
			g.emit(isa.HelperCall(helperXDPBuffLen))
		default:
			n := 1 + g.r.IntN(16)
			id := int32(helperXDPLoadBytes)
			if g.chance(50) {
				id = helperXDPStoreBytes
			}
			g.emit(isa.ALUMov.Imm(isa.R2, int32(g.r.IntN(100))),
				isa.ALUMov.Reg(isa.R3, isa.R10), isa.ALUAdd.Imm(isa.R3, int32(-dataArea+g.r.IntN(dataArea-n+1))),
				isa.ALUMov.Imm(isa.R4, int32(n)), isa.HelperCall(id))
		}
	}
	g.reinitArgs()
}

// callBlock calls a generated subprogram, directly or as a bpf_loop
// callback.
func (g *gen) callBlock() {
	sub := subprog{label: g.newLabel(), callback: g.chance(40)}
	g.subs = append(g.subs, sub)
	if sub.callback {
		// Not 0: Linux 6.18 fails to load a program whose second bpf_loop call
		// (with another callback) has nr_loops 0 ("verifier bug: No program to
		// jit"), the callback having been removed as dead code.
		g.emit(isa.ALUMov.Imm(isa.R1, int32(1+g.r.IntN(8))))
		g.emitJump(isa.LoadPseudo(isa.R2, isa.PseudoFunc, 0, 0), sub.label)
		g.emit(isa.ALUMov.Reg(isa.R3, isa.R10), isa.ALUAdd.Imm(isa.R3, -dataArea), isa.ALUMov.Imm(isa.R4, 0),
			isa.HelperCall(helperLoop))
	} else {
		g.emitJump(isa.LocalCall(0), sub.label)
	}
	g.reinitArgs()
}

// subprograms emits the functions callBlock called, after the main one.
// A subprogram computes on its arguments and its own stack; a callback
// also adds its index into the caller's data area and stops the loop
// early at some index (a callback must return 0 or 1).
func (g *gen) subprograms() {
	saved := g.mix
	g.mix &= MixALU | MixJMP | MixMem
	for _, s := range g.subs {
		g.place(s.label)
		g.depth = 1
		g.callback = s.callback
		for _, r := range []isa.Register{isa.R0, isa.R6, isa.R7, isa.R8, isa.R9} {
			g.setConst(r)
		}
		if s.callback {
			// r1 is the index, r2 the caller's data area: keep r2 as it is
			// while r3 updates one slot.
			off := int16(8 * g.r.IntN(dataArea/8))
			g.emit(isa.Load(isa.R3, isa.R2, off, isa.SizeDW), isa.ALUAdd.Reg(isa.R3, isa.R1), isa.Store(isa.R2, off, isa.R3, isa.SizeDW))
			g.setConst(isa.R2)
			g.setConst(isa.R3)
		}
		g.setConst(isa.R4)
		g.setConst(isa.R5)
		if s.callback {
			g.setConst(isa.R1) // the index is no longer needed
		}
		for off := -dataArea; off < 0; off += 8 {
			g.emit(isa.Store(isa.R10, int16(off), g.reg(), isa.SizeDW))
		}
		for range 1 + g.r.IntN(4) {
			g.block(1)
			g.boundary()
		}
		g.flush(-1)
		if s.callback {
			// Continue (0) or stop (1), from a value the callback computed.
			g.emit(isa.ALURsh.Imm(isa.R0, 63))
		}
		g.emit(isa.Return())
	}
	g.depth = 0
	g.callback = false
	g.mix = saved
}
