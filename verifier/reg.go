package verifier

import (
	"math"
	"math/bits"
)

// regType is what a register (or a spilled stack slot) holds, as the
// kernel's enum bpf_reg_type without its flags.
type regType uint8

const (
	notInit regType = iota
	scalarValue
	ptrToCtx
	constPtrToMap
	ptrToMapValue
	ptrToMapKey
	ptrToStack
	ptrToPacketMeta
	ptrToPacket
	ptrToPacketEnd
	ptrToMem
	ptrToFunc
	ptrToSockCommon
	// ptrToRawMem is the input memory of a raw program (r1 of the
	// conformance suite's convention): its length is only known at run
	// time, so accesses through it are left to the run-time checks.
	ptrToRawMem
)

// Register type flags (the kernel's PTR_MAYBE_NULL, MEM_RINGBUF, MEM_RDONLY).
const (
	flagMaybeNull uint8 = 1 << iota
	flagRingbuf
	flagRdonly
)

// idAddConst64 and idAddConst32 mark a scalar id whose register was
// derived from the linked register by adding the constant held in off, in
// 64- or 32-bit arithmetic (the kernel's BPF_ADD_CONST64/32).
const (
	idAddConst64 uint32 = 1 << 31
	idAddConst32 uint32 = 1 << 30
	idAddConst          = idAddConst64 | idAddConst32
)

// reg is the abstract value of a register: its type and, for scalars and
// pointer offsets, a tnum plus signed and unsigned 64- and 32-bit bounds.
// It is a plain value so that states copy cheaply.
type reg struct {
	typ     regType
	flags   uint8
	frameno uint8 // the frame a stack pointer points into
	off     int32 // fixed offset of a pointer; delta of an idAddConst scalar
	varOff  tnum
	smin    int64
	smax    int64
	umin    uint64
	umax    uint64
	s32min  int32
	s32max  int32
	u32min  uint32
	u32max  uint32
	id      uint32
	refObj  uint32
	rng     int32 // packet range: bytes past the pointer proven inside the packet
	mapIdx  int32 // index into env.maps, -1 if none
	memSize uint32
	subprog int32 // subprogram of a function pointer
}

func (r *reg) maybeNull() bool { return r.flags&flagMaybeNull != 0 }

func (r *reg) isPointer() bool { return r.typ != scalarValue && r.typ != notInit }

func (r *reg) isPkt() bool    { return r.typ == ptrToPacket || r.typ == ptrToPacketMeta }
func (r *reg) isPktAny() bool { return r.isPkt() || r.typ == ptrToPacketEnd }

// isNull reports whether the register is the scalar constant 0.
func (r *reg) isNull() bool { return r.typ == scalarValue && r.varOff.equalsConst(0) }

func (r *reg) isConst(sub32 bool) bool {
	if r.typ != scalarValue {
		return false
	}
	if sub32 {
		return r.varOff.subregIsConst()
	}
	return r.varOff.isConst()
}

func (r *reg) constValue(sub32 bool) uint64 {
	if sub32 {
		return r.varOff.subreg().value
	}
	return r.varOff.value
}

func (r *reg) markUnbounded() {
	r.smin, r.smax = math.MinInt64, math.MaxInt64
	r.umin, r.umax = 0, math.MaxUint64
	r.mark32Unbounded()
}

func (r *reg) mark64Unbounded() {
	r.smin, r.smax = math.MinInt64, math.MaxInt64
	r.umin, r.umax = 0, math.MaxUint64
}

func (r *reg) mark32Unbounded() {
	r.s32min, r.s32max = math.MinInt32, math.MaxInt32
	r.u32min, r.u32max = 0, math.MaxUint32
}

// markUnknown makes the register an unknown scalar.
func (r *reg) markUnknown() {
	*r = reg{typ: scalarValue, varOff: tnumUnknown, mapIdx: -1}
	r.markUnbounded()
}

func (r *reg) markNotInit() {
	r.markUnknown()
	r.typ = notInit
}

// setKnown sets the variable part of the register to the constant v,
// keeping only the type.
func (r *reg) setKnown(v uint64) {
	t, fl := r.typ, r.flags
	*r = reg{typ: t, flags: fl, mapIdx: -1}
	r.setKnownBounds(v)
}

func (r *reg) setKnownBounds(v uint64) {
	r.varOff = tnumConst(v)
	r.smin, r.smax = int64(v), int64(v)
	r.umin, r.umax = v, v
	r.s32min, r.s32max = int32(v), int32(v)
	r.u32min, r.u32max = uint32(v), uint32(v)
}

func (r *reg) set32Known(v uint64) {
	r.varOff = r.varOff.constSubreg(uint32(v))
	r.s32min, r.s32max = int32(v), int32(v)
	r.u32min, r.u32max = uint32(v), uint32(v)
}

func scalarConst(v uint64) reg {
	r := reg{typ: scalarValue, mapIdx: -1}
	r.setKnownBounds(v)
	return r
}

// pointerReg is a pointer of type t at offset 0 (the kernel's
// mark_reg_known_zero followed by setting the type).
func pointerReg(t regType) reg {
	r := reg{typ: t, mapIdx: -1}
	r.setKnownBounds(0)
	return r
}

func unknownScalar() reg {
	var r reg
	r.markUnknown()
	return r
}

func (r *reg) update32Bounds() {
	v := r.varOff.subreg()
	r.s32min = max(r.s32min, int32(uint32(v.value)|uint32(v.mask)&(1<<31)))
	r.s32max = min(r.s32max, int32(uint32(v.value)|uint32(v.mask)&math.MaxInt32))
	r.u32min = max(r.u32min, uint32(v.value))
	r.u32max = min(r.u32max, uint32(v.value|v.mask))
}

func (r *reg) update64Bounds() {
	r.smin = max(r.smin, int64(r.varOff.value|r.varOff.mask&(1<<63)))
	r.smax = min(r.smax, int64(r.varOff.value|r.varOff.mask&math.MaxInt64))
	r.umin = max(r.umin, r.varOff.value)
	r.umax = min(r.umax, r.varOff.value|r.varOff.mask)
	// When the unsigned range and the tnum share a single value, the
	// register is that constant.
	next := r.varOff.step(r.umin)
	uminIn := r.varOff.contains(r.umin)
	tmax := r.varOff.value | r.varOff.mask
	switch {
	case uminIn && next > r.umax:
		r.setKnownBounds(r.umin)
	case !uminIn && next == tmax:
		r.setKnownBounds(tmax)
	case !uminIn && next <= r.umax && r.varOff.step(next) > r.umax:
		r.setKnownBounds(next)
	}
}

func (r *reg) updateBounds() {
	r.update32Bounds()
	r.update64Bounds()
}

// deduce32 derives 32-bit bounds from the 64-bit ones and the signed ones
// from the unsigned ones, as __reg32_deduce_bounds does.
func (r *reg) deduce32() {
	if r.umin>>32 == r.umax>>32 {
		r.u32min = max(r.u32min, uint32(r.umin))
		r.u32max = min(r.u32max, uint32(r.umax))
		if int32(r.umin) <= int32(r.umax) {
			r.s32min = max(r.s32min, int32(r.umin))
			r.s32max = min(r.s32max, int32(r.umax))
		}
	}
	if r.smin>>32 == r.smax>>32 {
		if uint32(r.smin) <= uint32(r.smax) {
			r.u32min = max(r.u32min, uint32(r.smin))
			r.u32max = min(r.u32max, uint32(r.smax))
		}
		if int32(r.smin) <= int32(r.smax) {
			r.s32min = max(r.s32min, int32(r.smin))
			r.s32max = min(r.s32max, int32(r.smax))
		}
	}
	if uint32(r.umin>>32)+1 == uint32(r.umax>>32) && int32(r.umin) < 0 && int32(r.umax) >= 0 {
		r.s32min = max(r.s32min, int32(r.umin))
		r.s32max = min(r.s32max, int32(r.umax))
	}
	if uint32(uint64(r.smin)>>32)+1 == uint32(uint64(r.smax)>>32) && int32(r.smin) < 0 && int32(r.smax) >= 0 {
		r.s32min = max(r.s32min, int32(r.smin))
		r.s32max = min(r.s32max, int32(r.smax))
	}
	if int32(r.u32min) <= int32(r.u32max) {
		r.s32min = max(r.s32min, int32(r.u32min))
		r.s32max = min(r.s32max, int32(r.u32max))
	}
	if uint32(r.s32min) <= uint32(r.s32max) {
		r.u32min = max(uint32(r.s32min), r.u32min)
		r.u32max = min(uint32(r.s32max), r.u32max)
	} else if r.u32max < uint32(r.s32min) {
		// The signed range wraps around and the unsigned one lies
		// within its non-negative half.
		r.s32min = int32(r.u32min)
		r.u32max = min(r.u32max, uint32(r.s32max))
	} else if uint32(r.s32max) < r.u32min {
		// ... or within its negative half.
		r.s32max = int32(r.u32max)
		r.u32min = max(r.u32min, uint32(r.s32min))
	}
}

func (r *reg) deduce64() {
	if int64(r.umin) <= int64(r.umax) {
		r.smin = max(r.smin, int64(r.umin))
		r.smax = min(r.smax, int64(r.umax))
	}
	if uint64(r.smin) <= uint64(r.smax) {
		r.umin = max(uint64(r.smin), r.umin)
		r.umax = min(uint64(r.smax), r.umax)
	} else if r.umax < uint64(r.smin) {
		// The unsigned range overlaps only the non-negative part of the
		// signed one.
		r.smin = int64(r.umin)
		r.umax = min(r.umax, uint64(r.smax))
	} else if uint64(r.smax) < r.umin {
		r.smax = int64(r.umax)
		r.umin = max(r.umin, uint64(r.smin))
	}
}

func (r *reg) deduceMixed() {
	newUmin := r.umin&^0xffffffff | uint64(r.u32min)
	newUmax := r.umax&^0xffffffff | uint64(r.u32max)
	r.umin = max(r.umin, newUmin)
	r.umax = min(r.umax, newUmax)
	newSmin := int64(uint64(r.smin)&^0xffffffff | uint64(r.u32min))
	newSmax := int64(uint64(r.smax)&^0xffffffff | uint64(r.u32max))
	r.smin = max(r.smin, newSmin)
	r.smax = min(r.smax, newSmax)
	if r.s32min >= 0 && r.smin >= math.MinInt32 && r.smax <= math.MaxInt32 {
		r.smin = int64(r.s32min)
		r.smax = int64(r.s32max)
		r.umin = uint64(int64(r.s32min))
		r.umax = uint64(int64(r.s32max))
		r.varOff = tnumIntersect(r.varOff, tnumRange(uint64(r.smin), uint64(r.smax)))
	}
}

func (r *reg) deduceBounds() {
	r.deduce32()
	r.deduce64()
	r.deduceMixed()
}

func (r *reg) boundOffset() {
	v64 := tnumIntersect(r.varOff, tnumRange(r.umin, r.umax))
	v32 := tnumIntersect(v64.subreg(), tnumRange(uint64(r.u32min), uint64(r.u32max)))
	r.varOff = tnumOr(v64.clearSubreg(), v32)
}

// sync propagates knowledge between the tnum and the four ranges
// (reg_bounds_sync).
func (r *reg) sync() {
	r.updateBounds()
	r.deduceBounds()
	r.deduceBounds()
	r.deduceBounds()
	r.boundOffset()
	r.updateBounds()
}

// sane reports whether the bounds are consistent; inconsistent bounds only
// arise on paths that cannot execute, where the kernel resets the register
// to unbounded rather than failing.
func (r *reg) sane() bool {
	if r.umin > r.umax || r.smin > r.smax || r.u32min > r.u32max || r.s32min > r.s32max {
		return false
	}
	if r.varOff.isConst() {
		v := r.varOff.value
		if r.umin != v || r.umax != v || r.smin != int64(v) || r.smax != int64(v) {
			return false
		}
	}
	if r.varOff.subregIsConst() {
		v := uint32(r.varOff.value)
		if r.u32min != v || r.u32max != v || r.s32min != int32(v) || r.s32max != int32(v) {
			return false
		}
	}
	return true
}

func (r *reg) sanitize() {
	if !r.sane() {
		r.markUnbounded()
	}
}

// assign32Into64 copies the 32-bit bounds into the 64-bit ones after a
// zero extension.
func (r *reg) assign32Into64() {
	r.umin = uint64(r.u32min)
	r.umax = uint64(r.u32max)
	if r.s32min >= 0 && r.s32max >= 0 {
		r.smin = int64(r.s32min)
		r.smax = int64(r.s32max)
	} else {
		r.smin = 0
		r.smax = math.MaxUint32
	}
}

func (r *reg) zext32() {
	r.varOff = r.varOff.subreg()
	r.assign32Into64()
}

// coerceToSize truncates the register to size bytes, as a zero-extending
// load of that size does.
func (r *reg) coerceToSize(size int) {
	r.varOff = r.varOff.cast(size)
	mask := uint64(1)<<(size*8) - 1
	if r.umin&^mask == r.umax&^mask {
		r.umin &= mask
		r.umax &= mask
	} else {
		r.umin = 0
		r.umax = mask
	}
	r.smin = int64(r.umin)
	r.smax = int64(r.umax)
	if size < 4 {
		r.mark32Unbounded()
	}
	r.sync()
}

func sext(v uint64, size int) int64 {
	s := 64 - 8*size
	return int64(v<<s) >> s
}

func (r *reg) setSext64Default(size int) {
	lo, hi := int64(-1)<<(size*8-1), int64(1)<<(size*8-1)-1
	r.smin, r.smax = lo, hi
	r.s32min, r.s32max = int32(lo), int32(hi)
	r.umin, r.umax = 0, math.MaxUint64
	r.u32min, r.u32max = 0, math.MaxUint32
	r.varOff = tnumUnknown
}

// coerceToSizeSx sign-extends the low size bytes (sign-extending loads and
// moves).
func (r *reg) coerceToSizeSx(size int) {
	if r.varOff.isConst() {
		v := uint64(sext(r.varOff.value, size))
		r.varOff = tnumConst(v)
		r.smin, r.smax = int64(v), int64(v)
		r.umin, r.umax = v, v
		r.s32min, r.s32max = int32(v), int32(v)
		r.u32min, r.u32max = uint32(v), uint32(v)
		return
	}
	n := uint(size * 8)
	if (uint64(r.smax)>>n)<<n != (uint64(r.smin)>>n)<<n {
		r.setSext64Default(size)
		return
	}
	a, b := sext(uint64(r.smax), size), sext(uint64(r.smin), size)
	smax, smin := max(a, b), min(a, b)
	if (smax >= 0) == (smin >= 0) {
		r.smin, r.smax = smin, smax
		r.s32min, r.s32max = int32(smin), int32(smax)
		r.umin, r.umax = uint64(smin), uint64(smax)
		r.u32min, r.u32max = uint32(smin), uint32(smax)
		r.varOff = tnumRange(uint64(smin), uint64(smax))
		return
	}
	r.setSext64Default(size)
}

func (r *reg) coerceSubregToSizeSx(size int) {
	if r.varOff.isConst() {
		v := uint32(sext(r.varOff.value, size))
		r.varOff = tnumConst(uint64(v))
		r.s32min, r.s32max = int32(v), int32(v)
		r.u32min, r.u32max = v, v
		return
	}
	n := uint(size * 8)
	if (uint32(r.s32max)>>n)<<n != (uint32(r.s32min)>>n)<<n {
		r.setSext32Default(size)
		return
	}
	a, b := int32(sext(uint64(uint32(r.s32max)), size)), int32(sext(uint64(uint32(r.s32min)), size))
	smax, smin := max(a, b), min(a, b)
	if (smin >= 0) == (smax >= 0) {
		r.s32min, r.s32max = smin, smax
		r.u32min, r.u32max = uint32(smin), uint32(smax)
		r.varOff = tnumRange(uint64(int64(smin)), uint64(int64(smax))).subreg()
		return
	}
	r.setSext32Default(size)
}

func (r *reg) setSext32Default(size int) {
	if size == 1 {
		r.s32min, r.s32max = math.MinInt8, math.MaxInt8
	} else {
		r.s32min, r.s32max = math.MinInt16, math.MaxInt16
	}
	r.u32min, r.u32max = 0, math.MaxUint32
	r.varOff = tnumUnknown.subreg()
}

// width is the number of significant bits of the register's unsigned
// maximum (the kernel's get_reg_width).
func (r *reg) width() int { return bits.Len64(r.umax) }

// rangeWithin reports whether cur's ranges lie inside old's.
func rangeWithin(old, cur *reg) bool {
	return old.umin <= cur.umin && old.umax >= cur.umax &&
		old.smin <= cur.smin && old.smax >= cur.smax &&
		old.u32min <= cur.u32min && old.u32max >= cur.u32max &&
		old.s32min <= cur.s32min && old.s32max >= cur.s32max
}

// mark32Known sets the low half of the register to the constant v, keeping
// what is known of the upper half (__mark_reg32_known).
func (r *reg) mark32Known(v uint64) {
	r.varOff = r.varOff.constSubreg(uint32(v))
	r.s32min, r.s32max = int32(v), int32(v)
	r.u32min, r.u32max = uint32(v), uint32(v)
}
