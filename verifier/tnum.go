package verifier

import (
	"fmt"
	"math/bits"
)

// tnum is a tristate number: each bit is known 0, known 1, or unknown
// (set in mask). The operations mirror the kernel's kernel/bpf/tnum.c so
// that bounds evolve exactly as the kernel's do.
type tnum struct {
	value, mask uint64
}

var tnumUnknown = tnum{0, ^uint64(0)}

func tnumConst(v uint64) tnum { return tnum{v, 0} }

// tnumRange is the smallest tnum holding every value in [min, max].
func tnumRange(min, max uint64) tnum {
	chi := min ^ max
	n := bits.Len64(chi)
	if n > 63 {
		return tnumUnknown
	}
	delta := uint64(1)<<n - 1
	return tnum{min &^ delta, delta}
}

func (a tnum) isConst() bool   { return a.mask == 0 }
func (a tnum) isUnknown() bool { return a.mask == ^uint64(0) }
func (a tnum) equalsConst(v uint64) bool {
	return a.mask == 0 && a.value == v
}

func (a tnum) lshift(s uint8) tnum { return tnum{a.value << s, a.mask << s} }
func (a tnum) rshift(s uint8) tnum { return tnum{a.value >> s, a.mask >> s} }

func (a tnum) arshift(s uint8, bitness int) tnum {
	if bitness == 32 {
		return tnum{uint64(uint32(int32(uint32(a.value)) >> s)), uint64(uint32(int32(uint32(a.mask)) >> s))}
	}
	return tnum{uint64(int64(a.value) >> s), uint64(int64(a.mask) >> s)}
}

func tnumAdd(a, b tnum) tnum {
	sm := a.mask + b.mask
	sv := a.value + b.value
	sigma := sm + sv
	chi := sigma ^ sv
	mu := chi | a.mask | b.mask
	return tnum{sv &^ mu, mu}
}

func tnumSub(a, b tnum) tnum {
	dv := a.value - b.value
	alpha := dv + a.mask
	beta := dv - b.mask
	chi := alpha ^ beta
	mu := chi | a.mask | b.mask
	return tnum{dv &^ mu, mu}
}

func tnumNeg(a tnum) tnum { return tnumSub(tnum{}, a) }

func tnumAnd(a, b tnum) tnum {
	alpha := a.value | a.mask
	beta := b.value | b.mask
	v := a.value & b.value
	return tnum{v, alpha & beta &^ v}
}

func tnumOr(a, b tnum) tnum {
	v := a.value | b.value
	mu := a.mask | b.mask
	return tnum{v, mu &^ v}
}

func tnumXor(a, b tnum) tnum {
	v := a.value ^ b.value
	mu := a.mask | b.mask
	return tnum{v &^ mu, mu}
}

// tnumMul is long multiplication over the bits of a, taking the union of
// both outcomes where a bit of a is unknown.
func tnumMul(a, b tnum) tnum {
	var acc tnum
	for a.value != 0 || a.mask != 0 {
		if a.value&1 != 0 {
			acc = tnumAdd(acc, b)
		} else if a.mask&1 != 0 {
			acc = tnumUnion(acc, tnumAdd(acc, b))
		}
		a = a.rshift(1)
		b = b.lshift(1)
	}
	return acc
}

// tnumOverlap reports whether the known bits of a and b agree, i.e.
// whether the two may hold the same value.
func tnumOverlap(a, b tnum) bool {
	mu := ^a.mask & ^b.mask
	return a.value&mu == b.value&mu
}

func tnumIntersect(a, b tnum) tnum {
	v := a.value | b.value
	mu := a.mask & b.mask
	return tnum{v &^ mu, mu}
}

func tnumUnion(a, b tnum) tnum {
	v := a.value & b.value
	mu := (a.value ^ b.value) | a.mask | b.mask
	return tnum{v &^ mu, mu}
}

func (a tnum) cast(size int) tnum {
	if size >= 8 {
		return a
	}
	m := uint64(1)<<(size*8) - 1
	return tnum{a.value & m, a.mask & m}
}

func (a tnum) isAligned(size uint64) bool {
	if size == 0 {
		return true
	}
	return (a.value|a.mask)&(size-1) == 0
}

// tnumIn reports whether every value of b is a value of a.
func tnumIn(a, b tnum) bool {
	if b.mask&^a.mask != 0 {
		return false
	}
	return a.value == b.value&^a.mask
}

func (a tnum) subreg() tnum      { return a.cast(4) }
func (a tnum) clearSubreg() tnum { return a.rshift(32).lshift(32) }
func (a tnum) withSubreg(sub tnum) tnum {
	return tnumOr(a.clearSubreg(), sub.subreg())
}
func (a tnum) constSubreg(v uint32) tnum { return a.withSubreg(tnumConst(uint64(v))) }
func (a tnum) subregIsConst() bool       { return a.subreg().isConst() }

// String prints the tnum as the kernel's tnum_strn does.
func (a tnum) String() string {
	if a.mask == 0 {
		return fmtUnum(a.value)
	}
	return fmt.Sprintf("(%#x; %#x)", a.value, a.mask)
}

// fmtUnum and fmtSnum print numbers as the kernel's log does: small ones in
// decimal, the others in hex.
func fmtUnum(v uint64) string {
	if v <= 0xffff {
		return fmt.Sprint(v)
	}
	return fmt.Sprintf("%#x", v)
}

func fmtSnum(v int64) string {
	if v >= -32768 && v <= 32767 {
		return fmt.Sprint(v)
	}
	return fmt.Sprintf("%#x", uint64(v))
}

// The byte swaps keep each bit's knowledge with the bit; 16- and 32-bit
// swaps drop the bytes above the swapped width, as the instructions do.
func (a tnum) bswap16() tnum {
	return tnum{uint64(bits.ReverseBytes16(uint16(a.value))), uint64(bits.ReverseBytes16(uint16(a.mask)))}
}

func (a tnum) bswap32() tnum {
	return tnum{uint64(bits.ReverseBytes32(uint32(a.value))), uint64(bits.ReverseBytes32(uint32(a.mask)))}
}

func (a tnum) bswap64() tnum {
	return tnum{bits.ReverseBytes64(a.value), bits.ReverseBytes64(a.mask)}
}

// step returns the smallest member of a greater than z, a's largest member
// when there is none and its smallest when z is below it (tnum_step). The
// members are a.value plus a submask of a.mask; the next submask above
// d = z - a.value comes from adding one to d with every bit outside the
// mask set, so that the carry crosses them.
func (a tnum) step(z uint64) uint64 {
	tmax := a.value | a.mask
	if z >= tmax {
		return tmax
	}
	if z < a.value {
		return a.value
	}
	d := z - a.value
	var carry uint64
	if n := bits.Len64(d &^ a.mask); n > 0 {
		carry = uint64(1)<<n - 1
	}
	filled := d | carry | ^a.mask
	return a.value | (filled+1)&a.mask
}

// contains reports whether v is a member of a.
func (a tnum) contains(v uint64) bool { return v&^a.mask == a.value }
