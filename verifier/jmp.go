package verifier

import (
	"math/bits"

	"github.com/ebpfvm/ebpfvm/isa"
)

// The kernel's markers for packet pointers compared with data_end.
const (
	atPktEnd     = -1 // pkt >= pkt_end
	beyondPktEnd = -2 // pkt > pkt_end
)

// checkCondJmp verifies a conditional jump. It reports true when only the
// branch target is reachable; when both sides are, the target's side is
// queued and the current path falls through.
func (e *env) checkCondJmp(ins isa.Instruction) (bool, error) {
	i := e.insnIdx
	op := ins.Opcode.JumpOp()
	if op == isa.JumpCond {
		q, err := e.pushStack(i+1, i)
		if err != nil {
			return false, err
		}
		q.mayGotoDepth++
		return true, nil
	}
	if err := e.checkRegRead(ins.Dst); err != nil {
		return false, err
	}
	regs := e.regs()
	dst := &regs[ins.Dst]
	var src *reg
	var fake reg
	srcX := ins.Opcode.Source() == isa.SourceX
	if srcX {
		if err := e.checkRegRead(ins.Src); err != nil {
			return false, err
		}
		src = &regs[ins.Src]
		if !(dst.isPktAny() && src.isPktAny()) && e.isPointerValue(src) {
			return false, e.errorf("R%d pointer comparison prohibited", ins.Src)
		}
	} else {
		fake = scalarConst(uint64(ins.Imm))
		src = &fake
	}
	jmp32 := ins.Opcode.Class() == isa.ClassJMP32
	switch isBranchTaken(dst, src, op, jmp32) {
	case 1:
		e.logInsnState(e.cur)
		return true, nil
	case 0:
		e.logInsnState(e.cur)
		return false, nil
	}
	var linked []linkedReg
	if srcX && src.typ == scalarValue && src.id != 0 {
		linked = e.collectLinked(e.cur, src.id, linked)
	}
	if dst.typ == scalarValue && dst.id != 0 {
		linked = e.collectLinked(e.cur, dst.id, linked)
	}
	other, err := e.pushStack(e.branchTarget(i), i)
	if err != nil {
		return false, err
	}
	oregs := &other.cur().regs
	odst := &oregs[ins.Dst]
	if srcX {
		regSetMinMax(odst, &oregs[ins.Src], dst, src, op, jmp32)
	} else {
		ofake := fake
		regSetMinMax(odst, &ofake, dst, &fake, op, jmp32)
	}
	if srcX && src.typ == scalarValue && src.id != 0 {
		syncLinked(e.cur, src, linked)
		syncLinked(other, &oregs[ins.Src], linked)
	}
	if dst.typ == scalarValue && dst.id != 0 {
		syncLinked(e.cur, dst, linked)
		syncLinked(other, odst, linked)
	}
	// A pointer that may be NULL compared for equality with one that is
	// not is not NULL when they are equal.
	if !jmp32 && srcX && src.isPointer() && dst.isPointer() && src.maybeNull() != dst.maybeNull() {
		var eq *[numRegs]reg
		switch op {
		case isa.JumpEq:
			eq = oregs
		case isa.JumpNE:
			eq = regs
		}
		if eq != nil {
			if src.maybeNull() {
				e.markPtrNotNull(&eq[ins.Src])
			} else {
				e.markPtrNotNull(&eq[ins.Dst])
			}
		}
	}
	if !jmp32 && !srcX && ins.Imm == 0 && (op == isa.JumpEq || op == isa.JumpNE) && dst.maybeNull() {
		e.markPtrOrNullRegs(e.cur, int(ins.Dst), op == isa.JumpNE)
		e.markPtrOrNullRegs(other, int(ins.Dst), op == isa.JumpEq)
	} else if !e.tryMatchPktPointers(ins, dst, &regs[ins.Src], e.cur, other) && e.isPointerValue(dst) {
		return false, e.errorf("R%d pointer comparison prohibited", ins.Dst)
	}
	e.logInsnState(e.cur)
	return false, nil
}

// regNotNull reports pointer types that are never NULL.
func regNotNull(r *reg) bool {
	if r.maybeNull() {
		return false
	}
	switch r.typ {
	case ptrToMapValue, ptrToMapKey, ptrToMem, constPtrToMap:
		return true
	}
	return false
}

func flipOp(op isa.JumpOp) isa.JumpOp {
	switch op {
	case isa.JumpGE:
		return isa.JumpLE
	case isa.JumpGT:
		return isa.JumpLT
	case isa.JumpLE:
		return isa.JumpGE
	case isa.JumpLT:
		return isa.JumpGT
	case isa.JumpSGE:
		return isa.JumpSLE
	case isa.JumpSGT:
		return isa.JumpSLT
	case isa.JumpSLE:
		return isa.JumpSGE
	case isa.JumpSLT:
		return isa.JumpSGT
	}
	return op
}

// jsetRev stands for the negation of jset, which has no opcode (the kernel
// uses BPF_JSET | BPF_X).
const jsetRev isa.JumpOp = 0xf0

func revOp(op isa.JumpOp) isa.JumpOp {
	switch op {
	case isa.JumpEq:
		return isa.JumpNE
	case isa.JumpNE:
		return isa.JumpEq
	case isa.JumpSet:
		return jsetRev
	case jsetRev:
		return isa.JumpSet
	case isa.JumpGE:
		return isa.JumpLT
	case isa.JumpGT:
		return isa.JumpLE
	case isa.JumpLE:
		return isa.JumpGT
	case isa.JumpLT:
		return isa.JumpGE
	case isa.JumpSGE:
		return isa.JumpSLT
	case isa.JumpSGT:
		return isa.JumpSLE
	case isa.JumpSLE:
		return isa.JumpSGT
	case isa.JumpSLT:
		return isa.JumpSGE
	}
	return 0
}

// isBranchTaken returns 1 if the jump is always taken, 0 if never, -1 if
// it depends (is_branch_taken).
func isBranchTaken(r1, r2 *reg, op isa.JumpOp, jmp32 bool) int {
	if r1.isPktAny() && r2.isPktAny() && !jmp32 {
		return isPktPtrBranchTaken(r1, r2, op)
	}
	if r1.isPointer() || r2.isPointer() {
		if !r2.isConst(jmp32) {
			op = flipOp(op)
			r1, r2 = r2, r1
		}
		if !r2.isConst(jmp32) || !regNotNull(r1) || r2.constValue(jmp32) != 0 {
			return -1
		}
		switch op {
		case isa.JumpEq:
			return 0
		case isa.JumpNE:
			return 1
		}
		return -1
	}
	return isScalarBranchTaken(r1, r2, op, jmp32)
}

func isPktPtrBranchTaken(dst, src *reg, op isa.JumpOp) int {
	var pkt *reg
	switch {
	case src.typ == ptrToPacketEnd:
		pkt = dst
	case dst.typ == ptrToPacketEnd:
		pkt = src
		op = flipOp(op)
	default:
		return -1
	}
	if pkt.rng >= 0 {
		return -1
	}
	switch op {
	case isa.JumpLE, isa.JumpGT:
		if pkt.rng == beyondPktEnd {
			return b2i(op == isa.JumpGT)
		}
	case isa.JumpLT, isa.JumpGE:
		if pkt.rng == beyondPktEnd || pkt.rng == atPktEnd {
			return b2i(op == isa.JumpGE)
		}
	}
	return -1
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func isScalarBranchTaken(r1, r2 *reg, op isa.JumpOp, jmp32 bool) int {
	t1, t2 := r1.varOff, r2.varOff
	umin1, umax1, smin1, smax1 := r1.umin, r1.umax, r1.smin, r1.smax
	umin2, umax2, smin2, smax2 := r2.umin, r2.umax, r2.smin, r2.smax
	if jmp32 {
		t1, t2 = t1.subreg(), t2.subreg()
		umin1, umax1, smin1, smax1 = uint64(r1.u32min), uint64(r1.u32max), int64(r1.s32min), int64(r1.s32max)
		umin2, umax2, smin2, smax2 = uint64(r2.u32min), uint64(r2.u32max), int64(r2.s32min), int64(r2.s32max)
	}
	disjoint := func() bool {
		if !tnumOverlap(t1, t2) || umin1 > umax2 || umax1 < umin2 || smin1 > smax2 || smax1 < smin2 {
			return true
		}
		return !jmp32 && (r1.u32min > r2.u32max || r1.u32max < r2.u32min ||
			r1.s32min > r2.s32max || r1.s32max < r2.s32min)
	}
	switch op {
	case isa.JumpEq:
		if t1.isConst() && t2.isConst() {
			return b2i(t1.value == t2.value)
		}
		if disjoint() {
			return 0
		}
	case isa.JumpNE:
		if t1.isConst() && t2.isConst() {
			return b2i(t1.value != t2.value)
		}
		if disjoint() {
			return 1
		}
	case isa.JumpSet:
		if !r2.isConst(jmp32) {
			r1, r2 = r2, r1
			t1, t2 = t2, t1
		}
		if !r2.isConst(jmp32) {
			return -1
		}
		if ^t1.mask&t1.value&t2.value != 0 {
			return 1
		}
		if (t1.mask|t1.value)&t2.value == 0 {
			return 0
		}
	case isa.JumpGT:
		if umin1 > umax2 {
			return 1
		} else if umax1 <= umin2 {
			return 0
		}
	case isa.JumpSGT:
		if smin1 > smax2 {
			return 1
		} else if smax1 <= smin2 {
			return 0
		}
	case isa.JumpLT:
		if umax1 < umin2 {
			return 1
		} else if umin1 >= umax2 {
			return 0
		}
	case isa.JumpSLT:
		if smax1 < smin2 {
			return 1
		} else if smin1 >= smax2 {
			return 0
		}
	case isa.JumpGE:
		if umin1 >= umax2 {
			return 1
		} else if umax1 < umin2 {
			return 0
		}
	case isa.JumpSGE:
		if smin1 >= smax2 {
			return 1
		} else if smax1 < smin2 {
			return 0
		}
	case isa.JumpLE:
		if umax1 <= umin2 {
			return 1
		} else if umin1 > umax2 {
			return 0
		}
	case isa.JumpSLE:
		if smax1 <= smin2 {
			return 1
		} else if smin1 > smax2 {
			return 0
		}
	}
	return -1
}

// refineCondOp narrows two scalars by what "r1 op r2" being true tells
// (regs_refine_cond_op).
func refineCondOp(r1, r2 *reg, op isa.JumpOp, jmp32 bool) {
	switch op {
	case isa.JumpGE, isa.JumpGT, isa.JumpSGE, isa.JumpSGT:
		op = flipOp(op)
		r1, r2 = r2, r1
	}
	switch op {
	case isa.JumpEq:
		if jmp32 {
			r1.u32min = max(r1.u32min, r2.u32min)
			r1.u32max = min(r1.u32max, r2.u32max)
			r1.s32min = max(r1.s32min, r2.s32min)
			r1.s32max = min(r1.s32max, r2.s32max)
			r2.u32min, r2.u32max, r2.s32min, r2.s32max = r1.u32min, r1.u32max, r1.s32min, r1.s32max
			t := tnumIntersect(r1.varOff.subreg(), r2.varOff.subreg())
			r1.varOff = r1.varOff.withSubreg(t)
			r2.varOff = r2.varOff.withSubreg(t)
		} else {
			r1.umin = max(r1.umin, r2.umin)
			r1.umax = min(r1.umax, r2.umax)
			r1.smin = max(r1.smin, r2.smin)
			r1.smax = min(r1.smax, r2.smax)
			r2.umin, r2.umax, r2.smin, r2.smax = r1.umin, r1.umax, r1.smin, r1.smax
			r1.varOff = tnumIntersect(r1.varOff, r2.varOff)
			r2.varOff = r1.varOff
		}
	case isa.JumpNE:
		if !r2.isConst(jmp32) {
			r1, r2 = r2, r1
		}
		if !r2.isConst(jmp32) {
			return
		}
		v := r2.constValue(jmp32)
		if jmp32 {
			if r1.u32min == uint32(v) {
				r1.u32min++
			}
			if r1.u32max == uint32(v) {
				r1.u32max--
			}
			if r1.s32min == int32(v) {
				r1.s32min++
			}
			if r1.s32max == int32(v) {
				r1.s32max--
			}
		} else {
			if r1.umin == v {
				r1.umin++
			}
			if r1.umax == v {
				r1.umax--
			}
			if r1.smin == int64(v) {
				r1.smin++
			}
			if r1.smax == int64(v) {
				r1.smax--
			}
		}
	case isa.JumpSet:
		if !r2.isConst(jmp32) {
			r1, r2 = r2, r1
		}
		if !r2.isConst(jmp32) {
			return
		}
		v := r2.constValue(jmp32)
		if v == 0 || bits.OnesCount64(v) != 1 {
			return
		}
		if jmp32 {
			r1.varOff = r1.varOff.withSubreg(tnumOr(r1.varOff.subreg(), tnumConst(v)))
		} else {
			r1.varOff = tnumOr(r1.varOff, tnumConst(v))
		}
	case jsetRev:
		if !r2.isConst(jmp32) {
			r1, r2 = r2, r1
		}
		if !r2.isConst(jmp32) {
			return
		}
		v := r2.constValue(jmp32)
		r1.markUnbounded()
		if jmp32 {
			r1.varOff = r1.varOff.withSubreg(tnumAnd(r1.varOff.subreg(), tnumConst(^v)))
		} else {
			r1.varOff = tnumAnd(r1.varOff, tnumConst(^v))
		}
	case isa.JumpLE:
		if jmp32 {
			r1.u32max = min(r1.u32max, r2.u32max)
			r2.u32min = max(r1.u32min, r2.u32min)
		} else {
			r1.umax = min(r1.umax, r2.umax)
			r2.umin = max(r1.umin, r2.umin)
		}
	case isa.JumpLT:
		if jmp32 {
			r1.u32max = min(r1.u32max, r2.u32max-1)
			r2.u32min = max(r1.u32min+1, r2.u32min)
		} else {
			r1.umax = min(r1.umax, r2.umax-1)
			r2.umin = max(r1.umin+1, r2.umin)
		}
	case isa.JumpSLE:
		if jmp32 {
			r1.s32max = min(r1.s32max, r2.s32max)
			r2.s32min = max(r1.s32min, r2.s32min)
		} else {
			r1.smax = min(r1.smax, r2.smax)
			r2.smin = max(r1.smin, r2.smin)
		}
	case isa.JumpSLT:
		if jmp32 {
			r1.s32max = min(r1.s32max, r2.s32max-1)
			r2.s32min = max(r1.s32min+1, r2.s32min)
		} else {
			r1.smax = min(r1.smax, r2.smax-1)
			r2.smin = max(r1.smin+1, r2.smin)
		}
	}
}

// regSetMinMax refines both branches' registers (reg_set_min_max); only
// scalars are refined.
func regSetMinMax(t1, t2, f1, f2 *reg, op isa.JumpOp, jmp32 bool) {
	if f1.typ != scalarValue || f2.typ != scalarValue {
		return
	}
	refineCondOp(f1, f2, revOp(op), jmp32)
	f1.sync()
	f2.sync()
	refineCondOp(t1, t2, op, jmp32)
	t1.sync()
	t2.sync()
	for _, r := range []*reg{t1, t2, f1, f2} {
		r.sanitize()
	}
}

type linkedReg struct {
	frame, index int
	isReg        bool
}

const maxLinkedRegs = 6

// collectLinked gathers the scalars sharing an id (at most six, as the
// kernel: the others lose their link).
func (e *env) collectLinked(st *vstate, id uint32, out []linkedReg) []linkedReg {
	id &^= idAddConst
	add := func(r *reg, fr, idx int, isReg bool) {
		if r.typ != scalarValue || r.id&^idAddConst != id {
			return
		}
		if len(out) < maxLinkedRegs {
			out = append(out, linkedReg{fr, idx, isReg})
		} else {
			r.id = 0
		}
	}
	for fr := st.curframe; fr >= 0; fr-- {
		f := st.frames[fr]
		// Dead registers are left out, as the kernel does: they cannot
		// matter, but they would take places among the six.
		live := e.aux[st.frameInsn(fr)].liveRegs
		for r := 0; r < int(isa.R10); r++ {
			if live&(1<<r) != 0 {
				add(&f.regs[r], fr, r, true)
			}
		}
		for s := range f.stack {
			if f.stack[s].isSpilled() {
				add(&f.stack[s].spill, fr, s, false)
			}
		}
	}
	return out
}

// syncLinked copies what was learnt about known to its linked registers,
// adjusted by their constant deltas (sync_linked_regs).
func syncLinked(st *vstate, known *reg, linked []linkedReg) {
	for _, l := range linked {
		f := st.frames[l.frame]
		var r *reg
		if l.isReg {
			r = &f.regs[l.index]
		} else {
			if l.index >= len(f.stack) {
				continue
			}
			r = &f.stack[l.index].spill
		}
		if r.typ != scalarValue || r == known || r.id&^idAddConst != known.id&^idAddConst {
			continue
		}
		// A 32-bit delta and a 64-bit one do not compose.
		if (r.id^known.id)&idAddConst == idAddConst {
			continue
		}
		if (r.id&idAddConst == 0 && known.id&idAddConst == 0) || r.off == known.off {
			fr := r.frameno
			*r = *known
			r.frameno = fr
			continue
		}
		savedOff, savedID := r.off, r.id
		delta := scalarConst(uint64(int64(r.off) - int64(known.off)))
		*r = *known
		r.off, r.id = savedOff, savedID
		add32(r, &delta)
		add64(r, &delta)
		r.varOff = tnumAdd(r.varOff, delta.varOff)
		if (r.id|known.id)&idAddConst32 != 0 {
			r.zext32()
		}
		r.sync()
		r.sanitize()
	}
}

func (e *env) markPtrNotNull(r *reg) {
	if r.typ == ptrToMapValue {
		if m := e.maps[r.mapIdx]; m.Inner != nil {
			r.typ = constPtrToMap
			r.mapIdx = e.internMap(m.Inner)
		}
	}
	r.flags &^= flagMaybeNull
}

// internMap returns the index of m in e.maps, adding it if needed.
func (e *env) internMap(m *Map) int32 {
	for i, x := range e.maps {
		if x == m {
			return int32(i)
		}
	}
	e.maps = append(e.maps, m)
	return int32(len(e.maps) - 1)
}

// markPtrOrNullRegs resolves a NULL check: every copy of the checked
// pointer becomes NULL or not NULL (mark_ptr_or_null_regs).
func (e *env) markPtrOrNullRegs(st *vstate, regno int, isNull bool) {
	r := &st.cur().regs[regno]
	id, refObj := r.id, r.refObj
	if refObj != 0 && refObj == id && isNull {
		if k := st.findRef(id); k >= 0 {
			st.refs = append(st.refs[:k], st.refs[k+1:]...)
		}
	}
	st.forEachReg(func(r *reg) {
		if !r.maybeNull() || r.id != id {
			return
		}
		if isNull {
			*r = scalarConst(0)
			return
		}
		e.markPtrNotNull(r)
		r.id = 0
	})
}

// findGoodPktPointers gives every copy of a packet pointer the range a
// comparison with data_end proved.
func findGoodPktPointers(st *vstate, dst *reg, t regType, rightOpen bool) {
	if dst.off < 0 || (dst.off == 0 && rightOpen) {
		return
	}
	if dst.umax > 0xffff || dst.umax+uint64(dst.off) > 0xffff {
		return
	}
	newRange := dst.off
	if rightOpen {
		newRange++
	}
	id := dst.id
	st.forEachReg(func(r *reg) {
		if r.typ == t && r.id == id {
			r.rng = max(r.rng, newRange)
		}
	})
}

func markPktEnd(st *vstate, regno isa.Register, open bool) {
	r := &st.cur().regs[regno]
	if r.typ != ptrToPacket {
		return
	}
	if open {
		r.rng = beyondPktEnd
	} else {
		r.rng = atPktEnd
	}
}

func isInitPktPointer(r *reg, t regType) bool {
	return r.typ == t && r.id == 0 && r.off == 0 && r.varOff.equalsConst(0)
}

// tryMatchPktPointers recognises comparisons of packet pointers with
// data_end (or of meta with data) and sets ranges on both branches.
func (e *env) tryMatchPktPointers(ins isa.Instruction, dst, src *reg, this, other *vstate) bool {
	if ins.Opcode.Source() != isa.SourceX || ins.Opcode.Class() == isa.ClassJMP32 {
		return false
	}
	// Snapshot the registers: this branch's may change below.
	d, s := *dst, *src
	fwd := (d.typ == ptrToPacket && s.typ == ptrToPacketEnd) ||
		(d.typ == ptrToPacketMeta && isInitPktPointer(&s, ptrToPacket))
	rev := (d.typ == ptrToPacketEnd && s.typ == ptrToPacket) ||
		(isInitPktPointer(&d, ptrToPacket) && s.typ == ptrToPacketMeta)
	if !fwd && !rev {
		return false
	}
	switch ins.Opcode.JumpOp() {
	case isa.JumpGT:
		if fwd {
			findGoodPktPointers(this, &d, d.typ, false)
			markPktEnd(other, ins.Dst, true)
		} else {
			findGoodPktPointers(other, &s, s.typ, true)
			markPktEnd(this, ins.Src, false)
		}
	case isa.JumpLT:
		if fwd {
			findGoodPktPointers(other, &d, d.typ, true)
			markPktEnd(this, ins.Dst, false)
		} else {
			findGoodPktPointers(this, &s, s.typ, false)
			markPktEnd(other, ins.Src, true)
		}
	case isa.JumpGE:
		if fwd {
			findGoodPktPointers(this, &d, d.typ, true)
			markPktEnd(other, ins.Dst, false)
		} else {
			findGoodPktPointers(other, &s, s.typ, false)
			markPktEnd(this, ins.Src, true)
		}
	case isa.JumpLE:
		if fwd {
			findGoodPktPointers(other, &d, d.typ, false)
			markPktEnd(this, ins.Dst, true)
		} else {
			findGoodPktPointers(this, &s, s.typ, true)
			markPktEnd(other, ins.Src, false)
		}
	default:
		return false
	}
	return true
}
