package verifier

import (
	"math"
	"math/bits"

	"github.com/ebpfvm/ebpfvm/isa"
)

func (e *env) regs() *[numRegs]reg { return &e.cur.cur().regs }

// checkRegRead is the kernel's check_reg_arg(SRC_OP).
func (e *env) checkRegRead(r isa.Register) error {
	e.log.scratchReg(int(r))
	if e.regs()[r].typ == notInit {
		return e.errorf("R%d !read_ok", r)
	}
	return nil
}

// checkRegWrite is check_reg_arg(DST_OP_NO_MARK): r10 cannot be written.
func (e *env) checkRegWrite(r isa.Register) error {
	e.log.scratchReg(int(r))
	if r == isa.R10 {
		return e.errorf("frame pointer is read only")
	}
	return nil
}

// isPointerValue reports a pointer the program must not learn the value
// of: any pointer, for unprivileged loaders.
func (e *env) isPointerValue(r *reg) bool {
	return !e.allowPtrLeaks && r.typ != scalarValue
}

var aluNames = [16]string{"+=", "-=", "*=", "/=", "|=", "&=", "<<=", ">>=", "neg", "%=", "^=", "=", "s>>=", "endian", "", ""}

func (e *env) checkALU(ins isa.Instruction) error {
	regs := e.regs()
	op := ins.Opcode.ALUOp()
	alu64 := ins.Opcode.Class() == isa.ClassALU64
	dst := &regs[ins.Dst]
	switch op {
	case isa.ALUEnd, isa.ALUNeg:
		if err := e.checkRegRead(ins.Dst); err != nil {
			return err
		}
		if e.isPointerValue(dst) {
			return e.errorf("R%d pointer arithmetic prohibited", ins.Dst)
		}
		if err := e.checkRegWrite(ins.Dst); err != nil {
			return err
		}
		if dst.typ == scalarValue {
			src := *dst
			e.scalarALU(ins, dst, &src)
			// The value changed: copies sharing the id no longer
			// hold it. A little-endian conversion to 64 bits on a
			// little-endian machine changes nothing.
			if op == isa.ALUNeg || ins.Opcode.Class() == isa.ClassALU64 ||
				ins.Opcode.Source() == isa.SourceX || ins.Imm != 64 {
				dst.id, dst.off = 0, 0
			}
		} else {
			dst.markUnknown()
		}
	case isa.ALUMov:
		return e.checkMov(ins)
	default:
		if ins.Opcode.Source() == isa.SourceX {
			if err := e.checkRegRead(ins.Src); err != nil {
				return err
			}
		}
		if err := e.checkRegRead(ins.Dst); err != nil {
			return err
		}
		if (op == isa.ALUMod || op == isa.ALUDiv) && ins.Opcode.Source() == isa.SourceK && ins.Imm == 0 {
			return e.errorf("div by zero")
		}
		if (op == isa.ALULsh || op == isa.ALURsh || op == isa.ALUArsh) && ins.Opcode.Source() == isa.SourceK {
			size := int64(32)
			if alu64 {
				size = 64
			}
			if ins.Imm < 0 || ins.Imm >= size {
				return e.errorf("invalid shift %d", ins.Imm)
			}
		}
		if err := e.checkRegWrite(ins.Dst); err != nil {
			return err
		}
		if err := e.adjustRegMinMax(ins); err != nil {
			return err
		}
	}
	regs[ins.Dst].sanitize()
	return nil
}

func (e *env) checkMov(ins isa.Instruction) error {
	regs := e.regs()
	alu64 := ins.Opcode.Class() == isa.ClassALU64
	if ins.Opcode.Source() == isa.SourceX {
		if alu64 && ins.Offset == 1 {
			return e.errorf("addr_space_cast insn can only be used in a program that has an associated arena")
		}
		if err := e.checkRegRead(ins.Src); err != nil {
			return err
		}
	}
	if err := e.checkRegWrite(ins.Dst); err != nil {
		return err
	}
	dst := &regs[ins.Dst]
	if ins.Opcode.Source() == isa.SourceK {
		if alu64 {
			*dst = scalarConst(uint64(ins.Imm))
		} else {
			*dst = scalarConst(uint64(uint32(ins.Imm)))
		}
		return nil
	}
	src := &regs[ins.Src]
	switch {
	case alu64 && ins.Offset == 0:
		e.assignScalarID(src)
		*dst = *src
	case alu64:
		if e.isPointerValue(src) {
			return e.errorf("R%d sign-extension part of pointer", ins.Src)
		}
		if src.typ != scalarValue {
			dst.markUnknown()
			return nil
		}
		noSext := src.umax < uint64(1)<<(ins.Offset-1)
		if noSext {
			e.assignScalarID(src)
		}
		*dst = *src
		if !noSext {
			dst.id = 0
		}
		dst.coerceToSizeSx(int(ins.Offset) / 8)
	default:
		if e.isPointerValue(src) {
			return e.errorf("R%d partial copy of pointer", ins.Src)
		}
		if src.typ != scalarValue {
			dst.markUnknown()
		} else if ins.Offset == 0 {
			u32 := src.width() <= 32
			if u32 {
				e.assignScalarID(src)
			}
			*dst = *src
			if !u32 {
				dst.id = 0
			}
		} else {
			noSext := src.umax < uint64(1)<<(ins.Offset-1)
			if noSext {
				e.assignScalarID(src)
			}
			*dst = *src
			if !noSext {
				dst.id = 0
			}
			dst.coerceSubregToSizeSx(int(ins.Offset) / 8)
		}
		dst.zext32()
		dst.sync()
	}
	return nil
}

// assignScalarID gives a scalar an id before it is copied, so that bounds
// learnt on one copy reach the others (assign_scalar_id_before_mov).
func (e *env) assignScalarID(r *reg) {
	if r.typ != scalarValue {
		return
	}
	if r.id&idAddConst != 0 {
		r.id = 0
		r.off = 0
	}
	if r.id == 0 && !r.varOff.isConst() {
		r.id = e.newID()
	}
}

// adjustRegMinMax handles the ALU operations other than mov, neg and end
// (adjust_reg_min_max_vals).
func (e *env) adjustRegMinMax(ins isa.Instruction) error {
	regs := e.regs()
	dst := &regs[ins.Dst]
	alu64 := ins.Opcode.Class() == isa.ClassALU64
	op := ins.Opcode.ALUOp()
	var src reg
	if ins.Opcode.Source() == isa.SourceX {
		s := &regs[ins.Src]
		if s.typ != scalarValue {
			if dst.typ != scalarValue {
				if op == isa.ALUSub && e.allowPtrLeaks {
					dst.markUnknown()
					return nil
				}
				return e.errorf("R%d pointer %s pointer prohibited", ins.Dst, aluNames[op>>4])
			}
			off := *dst
			return e.adjustPtrMinMax(ins, s, &off)
		}
		if dst.typ != scalarValue {
			off := *s
			return e.adjustPtrMinMax(ins, dst, &off)
		}
		src = *s
	} else {
		src = scalarConst(uint64(ins.Imm))
		if dst.typ != scalarValue {
			return e.adjustPtrMinMax(ins, dst, &src)
		}
	}
	if !e.bypassSpecV1 && ins.Opcode.Source() == isa.SourceX && (op == isa.ALUAdd || op == isa.ALUSub) {
		if err := e.updateALUSanitation(aluNonPointer, 0); err != nil {
			return e.sanitizeErr(ins, err.(sanitizeReason), nil, nil)
		}
	}
	if (op == isa.ALUAnd || op == isa.ALUOr) && src.varOff.isConst() {
		if err := e.maybeForkScalars(ins, dst); err != nil {
			return err
		}
	}
	dstUmax := dst.umax
	e.scalarALU(ins, dst, &src)
	// Remember a constant added to a copy, so that bounds learnt on the
	// original also bound the copy (r1 = r2; r1 += 1; if r2 < 10 ...).
	sameReg := ins.Opcode.Source() == isa.SourceX && ins.Src == ins.Dst
	if e.bpfCapable && (op == isa.ALUAdd || op == isa.ALUSub) && dst.id != 0 && src.isConst(!alu64) && !sameReg {
		v := src.constValue(!alu64)
		off := int32(v)
		link := true
		switch {
		case alu64 && (int64(v) < math.MinInt32 || int64(v) > math.MaxInt32):
			link = false
		case !alu64 && dstUmax > math.MaxUint32:
			// A 32-bit operation on a value with upper bits
			// breaks the constant difference.
			link = false
		case op == isa.ALUSub && off == math.MinInt32:
			link = false
		case dst.id&idAddConst != 0:
			// One delta per register.
			link = false
		}
		if op == isa.ALUSub {
			off = -off
		}
		if link {
			if alu64 {
				dst.id |= idAddConst64
			} else {
				dst.id |= idAddConst32
			}
			dst.off = off
		} else {
			dst.id, dst.off = 0, 0
		}
	} else {
		dst.id, dst.off = 0, 0
	}
	return nil
}

// maybeForkScalars splits a scalar known to be 0 or -1 before an and/or
// with a constant into two paths, one per value, which the bit operations
// could not otherwise tell apart (maybe_fork_scalars). The other path
// executes the instruction again with the register 0.
func (e *env) maybeForkScalars(ins isa.Instruction, dst *reg) error {
	var alu32 bool
	switch {
	case dst.smin == -1 && dst.smax == 0:
	case dst.s32min == -1 && dst.s32max == 0:
		alu32 = true
	default:
		return nil
	}
	other, err := e.pushStack(e.insnIdx, e.insnIdx)
	if err != nil {
		return err
	}
	o := &other.cur().regs[ins.Dst]
	if alu32 {
		o.mark32Known(0)
		dst.mark32Known(math.MaxUint64)
	} else {
		o.setKnown(0)
		dst.setKnown(math.MaxUint64)
	}
	return nil
}

// safeToCompute reports whether the kernel computes bounds for the
// operation; otherwise the result is an unknown scalar.
func safeToCompute(ins isa.Instruction, src *reg) bool {
	bitness := uint64(32)
	srcConst := false
	if ins.Opcode.Class() == isa.ClassALU64 {
		bitness = 64
		srcConst = src.varOff.isConst() && src.smin == src.smax && src.umin == src.umax
	} else {
		srcConst = src.varOff.subregIsConst() && src.s32min == src.s32max && src.u32min == src.u32max
	}
	switch ins.Opcode.ALUOp() {
	case isa.ALUAdd, isa.ALUSub, isa.ALUNeg, isa.ALUAnd, isa.ALUXor, isa.ALUOr, isa.ALUMul, isa.ALUEnd:
		return true
	case isa.ALULsh, isa.ALURsh, isa.ALUArsh:
		return srcConst && src.umax < bitness
	}
	return false
}

// scalarALU computes dst op= src on two scalars (adjust_scalar_min_max_vals).
func (e *env) scalarALU(ins isa.Instruction, dst, src *reg) {
	if !safeToCompute(ins, src) {
		dst.markUnknown()
		return
	}
	alu32 := ins.Opcode.Class() != isa.ClassALU64
	switch ins.Opcode.ALUOp() {
	case isa.ALUAdd:
		add32(dst, src)
		add64(dst, src)
		dst.varOff = tnumAdd(dst.varOff, src.varOff)
	case isa.ALUSub:
		sub32(dst, src)
		sub64(dst, src)
		dst.varOff = tnumSub(dst.varOff, src.varOff)
	case isa.ALUNeg:
		old := *dst
		dst.setKnownBounds(0)
		sub32(dst, &old)
		sub64(dst, &old)
		dst.varOff = tnumNeg(old.varOff)
	case isa.ALUMul:
		dst.varOff = tnumMul(dst.varOff, src.varOff)
		mul32(dst, src)
		mul64(dst, src)
	case isa.ALUAnd:
		dst.varOff = tnumAnd(dst.varOff, src.varOff)
		and32(dst, src)
		and64(dst, src)
	case isa.ALUOr:
		dst.varOff = tnumOr(dst.varOff, src.varOff)
		or32(dst, src)
		or64(dst, src)
	case isa.ALUXor:
		dst.varOff = tnumXor(dst.varOff, src.varOff)
		xor32(dst, src)
		xor64(dst, src)
	case isa.ALULsh:
		if alu32 {
			lsh32(dst, src)
		} else {
			lsh64(dst, src)
		}
	case isa.ALURsh:
		if alu32 {
			rsh32(dst, src)
		} else {
			rsh64(dst, src)
		}
	case isa.ALUArsh:
		if alu32 {
			arsh32(dst, src)
		} else {
			arsh64(dst, src)
		}
	case isa.ALUEnd:
		byteSwap(ins, dst)
		// The swap truncated by itself; le64 must keep its upper half.
		alu32 = false
	}
	if alu32 {
		dst.zext32()
	}
	dst.sync()
}

// byteSwap tracks a byte swap bit by bit (scalar_byte_swap). The machine
// is little-endian: to_le only truncates, to_be and bswap swap.
func byteSwap(ins isa.Instruction, dst *reg) {
	swap := ins.Opcode.Class() == isa.ClassALU64 || ins.Opcode.Source() == isa.SourceX
	if swap {
		switch ins.Imm {
		case 16:
			dst.varOff = dst.varOff.bswap16()
		case 32:
			dst.varOff = dst.varOff.bswap32()
		case 64:
			dst.varOff = dst.varOff.bswap64()
		}
		// The ranges mean nothing after a swap; sync rebuilds them
		// from the tnum.
		dst.markUnbounded()
	}
	if ins.Imm == 16 || ins.Imm == 32 {
		dst.coerceToSize(int(ins.Imm) / 8)
	}
}

func add32(d, s *reg) {
	smin, o1 := addOverflow32(d.s32min, s.s32min)
	smax, o2 := addOverflow32(d.s32max, s.s32max)
	if o1 || o2 {
		d.s32min, d.s32max = math.MinInt32, math.MaxInt32
	} else {
		d.s32min, d.s32max = smin, smax
	}
	umin, c1 := bits.Add32(d.u32min, s.u32min, 0)
	umax, c2 := bits.Add32(d.u32max, s.u32max, 0)
	d.u32min, d.u32max = umin, umax
	if c1 == 0 && c2 != 0 {
		d.u32min, d.u32max = 0, math.MaxUint32
	}
}

func add64(d, s *reg) {
	smin, o1 := addOverflow64(d.smin, s.smin)
	smax, o2 := addOverflow64(d.smax, s.smax)
	if o1 || o2 {
		d.smin, d.smax = math.MinInt64, math.MaxInt64
	} else {
		d.smin, d.smax = smin, smax
	}
	umin, c1 := bits.Add64(d.umin, s.umin, 0)
	umax, c2 := bits.Add64(d.umax, s.umax, 0)
	d.umin, d.umax = umin, umax
	if c1 == 0 && c2 != 0 {
		d.umin, d.umax = 0, math.MaxUint64
	}
}

func sub32(d, s *reg) {
	smin, o1 := subOverflow32(d.s32min, s.s32max)
	smax, o2 := subOverflow32(d.s32max, s.s32min)
	if o1 || o2 {
		d.s32min, d.s32max = math.MinInt32, math.MaxInt32
	} else {
		d.s32min, d.s32max = smin, smax
	}
	umin, b1 := bits.Sub32(d.u32min, s.u32max, 0)
	umax, b2 := bits.Sub32(d.u32max, s.u32min, 0)
	d.u32min, d.u32max = umin, umax
	if b1 != 0 && b2 == 0 {
		d.u32min, d.u32max = 0, math.MaxUint32
	}
}

func sub64(d, s *reg) {
	smin, o1 := subOverflow64(d.smin, s.smax)
	smax, o2 := subOverflow64(d.smax, s.smin)
	if o1 || o2 {
		d.smin, d.smax = math.MinInt64, math.MaxInt64
	} else {
		d.smin, d.smax = smin, smax
	}
	umin, b1 := bits.Sub64(d.umin, s.umax, 0)
	umax, b2 := bits.Sub64(d.umax, s.umin, 0)
	d.umin, d.umax = umin, umax
	if b1 != 0 && b2 == 0 {
		d.umin, d.umax = 0, math.MaxUint64
	}
}

func addOverflow64(a, b int64) (int64, bool) {
	c := a + b
	return c, (c > a) != (b > 0)
}

func subOverflow64(a, b int64) (int64, bool) {
	c := a - b
	return c, (c < a) != (b > 0)
}

func addOverflow32(a, b int32) (int32, bool) {
	c := int64(a) + int64(b)
	return int32(c), c != int64(int32(c))
}

func subOverflow32(a, b int32) (int32, bool) {
	c := int64(a) - int64(b)
	return int32(c), c != int64(int32(c))
}

func mulOverflow64(a, b int64) (int64, bool) {
	c := a * b
	if a == 0 || b == 0 {
		return 0, false
	}
	if (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		return c, true
	}
	return c, c/b != a
}

func mul32(d, s *reg) {
	umax, o1 := mulOverflowU32(d.u32max, s.u32max)
	umin, o2 := mulOverflowU32(d.u32min, s.u32min)
	if o1 || o2 {
		d.u32min, d.u32max = 0, math.MaxUint32
	} else {
		d.u32min, d.u32max = umin, umax
	}
	p := [4]int64{
		int64(d.s32min) * int64(s.s32min), int64(d.s32min) * int64(s.s32max),
		int64(d.s32max) * int64(s.s32min), int64(d.s32max) * int64(s.s32max),
	}
	ovf := false
	lo, hi := p[0], p[0]
	for _, v := range p {
		if v != int64(int32(v)) {
			ovf = true
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	if ovf {
		d.s32min, d.s32max = math.MinInt32, math.MaxInt32
	} else {
		d.s32min, d.s32max = int32(lo), int32(hi)
	}
}

func mulOverflowU32(a, b uint32) (uint32, bool) {
	c := uint64(a) * uint64(b)
	return uint32(c), c > math.MaxUint32
}

func mul64(d, s *reg) {
	hi1, umax := bits.Mul64(d.umax, s.umax)
	hi2, umin := bits.Mul64(d.umin, s.umin)
	if hi1 != 0 || hi2 != 0 {
		d.umin, d.umax = 0, math.MaxUint64
	} else {
		d.umin, d.umax = umin, umax
	}
	var p [4]int64
	ovf := false
	for k, pair := range [4][2]int64{{d.smin, s.smin}, {d.smin, s.smax}, {d.smax, s.smin}, {d.smax, s.smax}} {
		v, o := mulOverflow64(pair[0], pair[1])
		p[k] = v
		ovf = ovf || o
	}
	if ovf {
		d.smin, d.smax = math.MinInt64, math.MaxInt64
		return
	}
	d.smin, d.smax = min(p[0], p[1], p[2], p[3]), max(p[0], p[1], p[2], p[3])
}

func and32(d, s *reg) {
	if s.varOff.subregIsConst() && d.varOff.subregIsConst() {
		d.set32Known(d.varOff.subreg().value)
		return
	}
	v := d.varOff.subreg()
	d.u32min = uint32(v.value)
	d.u32max = min(d.u32max, s.u32max)
	set32SignedFromUnsigned(d)
}

func and64(d, s *reg) {
	if s.varOff.isConst() && d.varOff.isConst() {
		d.setKnownBoundsKeepTnum()
		return
	}
	d.umin = d.varOff.value
	d.umax = min(d.umax, s.umax)
	set64SignedFromUnsigned(d)
	d.updateBounds()
}

func or32(d, s *reg) {
	if s.varOff.subregIsConst() && d.varOff.subregIsConst() {
		d.set32Known(d.varOff.subreg().value)
		return
	}
	v := d.varOff.subreg()
	d.u32min = max(d.u32min, s.u32min)
	d.u32max = uint32(v.value | v.mask)
	set32SignedFromUnsigned(d)
}

func or64(d, s *reg) {
	if s.varOff.isConst() && d.varOff.isConst() {
		d.setKnownBoundsKeepTnum()
		return
	}
	d.umin = max(d.umin, s.umin)
	d.umax = d.varOff.value | d.varOff.mask
	set64SignedFromUnsigned(d)
	d.updateBounds()
}

func xor32(d, s *reg) {
	if s.varOff.subregIsConst() && d.varOff.subregIsConst() {
		d.set32Known(d.varOff.subreg().value)
		return
	}
	v := d.varOff.subreg()
	d.u32min = uint32(v.value)
	d.u32max = uint32(v.value | v.mask)
	set32SignedFromUnsigned(d)
}

func xor64(d, s *reg) {
	if s.varOff.isConst() && d.varOff.isConst() {
		d.setKnownBoundsKeepTnum()
		return
	}
	d.umin = d.varOff.value
	d.umax = d.varOff.value | d.varOff.mask
	set64SignedFromUnsigned(d)
	d.updateBounds()
}

// setKnownBoundsKeepTnum is __mark_reg_known(dst, dst->var_off.value) for
// a scalar: all bounds collapse onto the known value, ids are dropped.
func (r *reg) setKnownBoundsKeepTnum() {
	v := r.varOff.value
	r.setKnown(v)
}

func set32SignedFromUnsigned(d *reg) {
	if int32(d.u32min) <= int32(d.u32max) {
		d.s32min, d.s32max = int32(d.u32min), int32(d.u32max)
	} else {
		d.s32min, d.s32max = math.MinInt32, math.MaxInt32
	}
}

func set64SignedFromUnsigned(d *reg) {
	if int64(d.umin) <= int64(d.umax) {
		d.smin, d.smax = int64(d.umin), int64(d.umax)
	} else {
		d.smin, d.smax = math.MinInt64, math.MaxInt64
	}
}

func lsh32Bounds(d *reg, umin, umax uint64) {
	d.s32min, d.s32max = math.MinInt32, math.MaxInt32
	if umax > 31 || uint64(d.u32max) > 1<<(31-umax) {
		d.u32min, d.u32max = 0, math.MaxUint32
	} else {
		d.u32min <<= umin
		d.u32max <<= umax
	}
}

func lsh32(d, s *reg) {
	umax, umin := uint64(s.u32max), uint64(s.u32min)
	sub := d.varOff.subreg()
	lsh32Bounds(d, umin, umax)
	d.varOff = sub.lshift(uint8(umin)).subreg()
	d.mark64Unbounded()
	d.update32Bounds()
}

func lsh64Bounds(d *reg, umin, umax uint64) {
	if umin == 32 && umax == 32 && d.s32max >= 0 {
		d.smax = int64(d.s32max) << 32
	} else {
		d.smax = math.MaxInt64
	}
	if umin == 32 && umax == 32 && d.s32min >= 0 {
		d.smin = int64(d.s32min) << 32
	} else {
		d.smin = math.MinInt64
	}
	if d.umax > 1<<(63-umax) {
		d.umin, d.umax = 0, math.MaxUint64
	} else {
		d.umin <<= umin
		d.umax <<= umax
	}
}

func lsh64(d, s *reg) {
	umax, umin := s.umax, s.umin
	lsh64Bounds(d, umin, umax)
	lsh32Bounds(d, umin, umax)
	d.varOff = d.varOff.lshift(uint8(umin))
	d.updateBounds()
}

func rsh32(d, s *reg) {
	sub := d.varOff.subreg()
	umax, umin := s.u32max, s.u32min
	d.s32min, d.s32max = math.MinInt32, math.MaxInt32
	d.varOff = sub.rshift(uint8(umin))
	d.u32min >>= umax
	d.u32max >>= umin
	d.mark64Unbounded()
	d.update32Bounds()
}

func rsh64(d, s *reg) {
	umax, umin := s.umax, s.umin
	d.smin, d.smax = math.MinInt64, math.MaxInt64
	d.varOff = d.varOff.rshift(uint8(umin))
	d.umin >>= umax
	d.umax >>= umin
	d.mark32Unbounded()
	d.updateBounds()
}

func arsh32(d, s *reg) {
	umin := s.u32min
	d.s32min >>= umin
	d.s32max >>= umin
	d.varOff = d.varOff.subreg().arshift(uint8(umin), 32)
	d.u32min, d.u32max = 0, math.MaxUint32
	d.mark64Unbounded()
	d.update32Bounds()
}

func arsh64(d, s *reg) {
	umin := s.umin
	d.smin >>= umin
	d.smax >>= umin
	d.varOff = d.varOff.arshift(uint8(umin), 64)
	d.umin, d.umax = 0, math.MaxUint64
	d.mark32Unbounded()
	d.updateBounds()
}
