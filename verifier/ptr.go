package verifier

import (
	"fmt"

	"github.com/ebpfvm/ebpfvm/isa"
)

// Spectre masking state of an instruction doing pointer arithmetic, as the
// kernel records it for unprivileged programs (BPF_ALU_*).
const (
	aluSanitizeSrc uint32 = 1 << iota
	aluSanitizeDst
	aluNegValue
	aluNonPointer
	aluImmediate
)

// sanitizeReason is why unprivileged pointer arithmetic is refused.
type sanitizeReason int

const (
	reasonBounds sanitizeReason = iota + 1
	reasonType
	reasonPaths
	reasonLimit
)

func (r sanitizeReason) Error() string { return fmt.Sprintf("sanitize reason %d", int(r)) }

func (e *env) updateALUSanitation(state, limit uint32) error {
	aux := &e.aux[e.insnIdx]
	if aux.aluState != 0 && (aux.aluState != state || aux.aluLimit != limit) {
		return reasonPaths
	}
	aux.aluState, aux.aluLimit = state, limit
	return nil
}

func (e *env) sanitizeErr(ins isa.Instruction, reason sanitizeReason, offReg, dstReg *reg) error {
	const tail = "pointer arithmetic with it prohibited for !root"
	op := "add"
	if ins.Opcode.ALUOp() == isa.ALUSub {
		op = "sub"
	}
	switch reason {
	case reasonBounds:
		r := ins.Src
		if offReg == dstReg {
			r = ins.Dst
		}
		return e.errorf("R%d has unknown scalar with mixed signed bounds, %s", r, tail)
	case reasonType:
		r := ins.Dst
		if offReg == dstReg {
			r = ins.Src
		}
		return e.errorf("R%d has pointer with unsupported alu operation, %s", r, tail)
	case reasonPaths:
		return e.errorf("R%d tried to %s from different maps, paths or scalars, %s", ins.Dst, op, tail)
	default:
		return e.errorf("R%d tried to %s beyond pointer bounds, %s", ins.Dst, op, tail)
	}
}

// ptrLimit is the kernel's retrieve_ptr_limit: how far the pointer may move
// in the masked direction.
func (e *env) ptrLimit(p *reg, maskToLeft bool) (uint32, error) {
	var max, limit uint32
	switch p.typ {
	case ptrToStack:
		max = maxStack
		if maskToLeft {
			max++
		}
		limit = uint32(-(int64(p.varOff.value) + int64(p.off)))
	case ptrToMapValue:
		max = e.maps[p.mapIdx].ValueSize
		if maskToLeft {
			limit = uint32(p.smin) + uint32(p.off)
		} else {
			limit = uint32(p.umax) + uint32(p.off)
		}
	default:
		return 0, reasonType
	}
	if limit >= max {
		return 0, reasonLimit
	}
	return limit, nil
}

// checkRegSaneOffset refuses pointer arithmetic whose offsets could
// overflow the verifier's bookkeeping.
func (e *env) checkRegSaneOffset(r *reg, t regType, flags uint8) error {
	ts := regTypeStr(t, flags)
	val := int64(r.varOff.value)
	if r.varOff.isConst() && (val >= maxVarOff || val <= -maxVarOff) {
		return e.errorf("math between %s pointer and %d is not allowed", ts, val)
	}
	if r.off >= maxVarOff || r.off <= -maxVarOff {
		return e.errorf("%s pointer offset %d is not allowed", ts, r.off)
	}
	if r.smin == minInt64 {
		return e.errorf("math between %s pointer and register with unbounded min value is not allowed", ts)
	}
	if r.smin >= maxVarOff || r.smin <= -maxVarOff {
		return e.errorf("value %d makes %s pointer be out of bounds", r.smin, ts)
	}
	return nil
}

const minInt64 = -1 << 63

// adjustPtrMinMax computes pointer +/- scalar (adjust_ptr_min_max_vals).
// ptr and off are copies, so that dst may be either.
func (e *env) adjustPtrMinMax(ins isa.Instruction, ptrIn, offIn *reg) error {
	dst := &e.regs()[ins.Dst]
	ptr, off := *ptrIn, *offIn
	op := ins.Opcode.ALUOp()
	known := off.varOff.isConst()
	smin, smax, umin, umax := off.smin, off.smax, off.umin, off.umax
	if (known && (smin != smax || umin != umax)) || smin > smax || umin > umax {
		dst.markUnknown()
		return nil
	}
	if ins.Opcode.Class() != isa.ClassALU64 {
		if op == isa.ALUSub && e.allowPtrLeaks {
			dst.markUnknown()
			return nil
		}
		return e.errorf("R%d 32-bit pointer arithmetic prohibited", ins.Dst)
	}
	if ptr.maybeNull() {
		return e.errorf("R%d pointer arithmetic on %s prohibited, null-check it first", ins.Dst, ptr.typeStr())
	}
	switch ptr.typ {
	case ptrToCtx, ptrToMapValue, ptrToMapKey, ptrToStack, ptrToPacketMeta, ptrToPacket, ptrToMem, ptrToFunc, ptrToRawMem:
	case constPtrToMap:
		if known && smin == 0 && op == isa.ALUAdd {
			break
		}
		fallthrough
	default:
		return e.errorf("R%d pointer arithmetic on %s prohibited", ins.Dst, ptr.typeStr())
	}
	res := ptr
	res.id = ptr.id
	if err := e.checkRegSaneOffset(&off, ptr.typ, ptr.flags); err != nil {
		return err
	}
	if err := e.checkRegSaneOffset(&ptr, ptr.typ, ptr.flags); err != nil {
		return err
	}
	res.mark32Unbounded()
	sanitize := !e.bypassSpecV1 && ins.Opcode.Source() == isa.SourceX && (op == isa.ALUAdd || op == isa.ALUSub)
	var tmpState, tmpLimit uint32
	maskToLeft := false
	if sanitize {
		offIsNeg := off.smin < 0
		if !known && (off.smin < 0) != (off.smax < 0) {
			return e.sanitizeErr(ins, reasonBounds, offIn, dst)
		}
		maskToLeft = (op == isa.ALUAdd && offIsNeg) || (op == isa.ALUSub && !offIsNeg)
		limit, err := e.ptrLimit(&ptr, maskToLeft)
		if err != nil {
			return e.sanitizeErr(ins, err.(sanitizeReason), offIn, dst)
		}
		tmpLimit = limit
		if offIsNeg {
			tmpState |= aluNegValue
		}
		if known {
			tmpState |= aluImmediate
		}
		if ptrIn == dst {
			tmpState |= aluSanitizeSrc
		} else {
			tmpState |= aluSanitizeDst
		}
	}
	switch op {
	case isa.ALUAdd:
		if known && int64(ptr.off)+smin == int64(int32(int64(ptr.off)+smin)) {
			res.off = ptr.off + int32(smin)
			break
		}
		res.smin, res.smax = addOrUnbounded(ptr.smin, smin, ptr.smax, smax)
		res.umin, res.umax = addOrUnboundedU(ptr.umin, umin, ptr.umax, umax)
		res.varOff = tnumAdd(ptr.varOff, off.varOff)
		if ptr.isPkt() {
			res.id = e.newID()
			res.rng = 0
		}
	case isa.ALUSub:
		if ptrIn != dst {
			return e.errorf("R%d tried to subtract pointer from scalar", ins.Dst)
		}
		if ptr.typ == ptrToStack {
			return e.errorf("R%d subtraction from stack pointer prohibited", ins.Dst)
		}
		if known && int64(ptr.off)-smin == int64(int32(int64(ptr.off)-smin)) {
			res.off = ptr.off - int32(smin)
			break
		}
		a, o1 := subOverflow64(ptr.smin, smax)
		b, o2 := subOverflow64(ptr.smax, smin)
		if o1 || o2 {
			res.smin, res.smax = minInt64, maxInt64
		} else {
			res.smin, res.smax = a, b
		}
		if ptr.umin < umax {
			res.umin, res.umax = 0, ^uint64(0)
		} else {
			res.umin, res.umax = ptr.umin-umax, ptr.umax-umin
		}
		res.varOff = tnumSub(ptr.varOff, off.varOff)
		if ptr.isPkt() {
			res.id = e.newID()
			if smin < 0 {
				res.rng = 0
			}
		}
	case isa.ALUAnd, isa.ALUOr, isa.ALUXor:
		return e.errorf("R%d bitwise operator %s on pointer prohibited", ins.Dst, aluNames[op>>4])
	default:
		return e.errorf("R%d pointer arithmetic with %s operator prohibited", ins.Dst, aluNames[op>>4])
	}
	if err := e.checkRegSaneOffset(&res, ptr.typ, ptr.flags); err != nil {
		return err
	}
	res.sync()
	*dst = res
	if !e.bypassSpecV1 {
		if err := e.sanitizeCheckBounds(ins, dst); err != nil {
			return err
		}
	}
	if sanitize {
		limit, err := e.ptrLimit(dst, maskToLeft)
		if err != nil {
			return e.sanitizeErr(ins, err.(sanitizeReason), offIn, dst)
		}
		d := int64(tmpLimit) - int64(limit)
		if d < 0 {
			d = -d
		}
		if err := e.updateALUSanitation(tmpState, uint32(d)); err != nil {
			return e.sanitizeErr(ins, reasonPaths, offIn, dst)
		}
	}
	return nil
}

const maxInt64 = 1<<63 - 1

func addOrUnbounded(a1, b1, a2, b2 int64) (int64, int64) {
	x, o1 := addOverflow64(a1, b1)
	y, o2 := addOverflow64(a2, b2)
	if o1 || o2 {
		return minInt64, maxInt64
	}
	return x, y
}

func addOrUnboundedU(a1, b1, a2, b2 uint64) (uint64, uint64) {
	x, y := a1+b1, a2+b2
	if x < a1 || y < a2 {
		return 0, ^uint64(0)
	}
	return x, y
}

// sanitizeCheckBounds makes unprivileged pointer arithmetic keep the
// pointer inside its object, so that it can be masked.
func (e *env) sanitizeCheckBounds(ins isa.Instruction, dst *reg) error {
	switch dst.typ {
	case ptrToStack:
		off := int64(dst.off) + int64(dst.varOff.value)
		if !dst.varOff.isConst() {
			return e.errorf("R%d variable stack access prohibited for !root, var_off=%s off=%d", ins.Dst, dst.varOff, off)
		}
		if off >= 0 || off < -maxStack {
			return e.errorf("R%d stack pointer arithmetic goes out of range, prohibited for !root; off=%d", ins.Dst, off)
		}
	case ptrToMapValue:
		if !e.memRegionOK(dst, int64(dst.off), 1, int64(e.maps[dst.mapIdx].ValueSize), false) {
			return e.errorf("R%d pointer arithmetic of map value goes out of range, prohibited for !root", ins.Dst)
		}
	}
	return nil
}
