package interp

import "unsafe"

// Host memory accessors for program loads, stores and atomics.
//
// Programs share map values with each other and with the Go host, and may
// race on them exactly as kernel programs do (a program that wants atomicity
// uses the atomic instructions, which are real atomics here). The race
// detector would report those races inside ebpfvm, so the accessors are
// //go:norace: the detector still checks every Go-side access to the same
// memory (helpers and the maps API take locks). Without -race they inline to
// single loads and stores.

//go:norace
func load8(p unsafe.Pointer) uint64 { return uint64(*(*uint8)(p)) }

//go:norace
func load16(p unsafe.Pointer) uint64 { return uint64(*(*uint16)(p)) }

//go:norace
func load32(p unsafe.Pointer) uint64 { return uint64(*(*uint32)(p)) }

//go:norace
func load64(p unsafe.Pointer) uint64 { return *(*uint64)(p) }

//go:norace
func store8(p unsafe.Pointer, v uint64) { *(*uint8)(p) = uint8(v) }

//go:norace
func store16(p unsafe.Pointer, v uint64) { *(*uint16)(p) = uint16(v) }

//go:norace
func store32(p unsafe.Pointer, v uint64) { *(*uint32)(p) = uint32(v) }

//go:norace
func store64(p unsafe.Pointer, v uint64) { *(*uint64)(p) = v }

// atomic32 performs the atomic operation op (isa.Atomic*) on the aligned
// 32-bit word at p with operand v (and, for cmpxchg, the expected value
// cmp) and returns the old value. The primitives (atomicAdd32, ...) are in
// assembly on amd64 and arm64, which the race detector does not instrument,
// for the same reason the loads and stores above are //go:norace: a
// program's atomic add racing with the Go host's copy of a map value is the
// kernel's semantics, not a bug of ebpfvm's. and, or and xor loop on
// compare-and-swap.
func atomic32(p unsafe.Pointer, op int64, v, cmp uint32) uint32 {
	switch op &^ 0x01 {
	case 0x00: // add
		return atomicAdd32(p, v)
	case 0xe0: // xchg
		return atomicXchg32(p, v)
	case 0xf0: // cmpxchg
		return atomicCmpXchg32(p, cmp, v)
	}
	for old := uint32(load32(p)); ; {
		var next uint32
		switch op &^ 0x01 {
		case 0x40: // or
			next = old | v
		case 0x50: // and
			next = old & v
		default: // 0xa0 xor
			next = old ^ v
		}
		cur := atomicCmpXchg32(p, old, next)
		if cur == old {
			return old
		}
		old = cur
	}
}

// atomic64 is atomic32 for 64-bit words.
func atomic64(p unsafe.Pointer, op int64, v, cmp uint64) uint64 {
	switch op &^ 0x01 {
	case 0x00:
		return atomicAdd64(p, v)
	case 0xe0:
		return atomicXchg64(p, v)
	case 0xf0:
		return atomicCmpXchg64(p, cmp, v)
	}
	for old := load64(p); ; {
		var next uint64
		switch op &^ 0x01 {
		case 0x40:
			next = old | v
		case 0x50:
			next = old & v
		default:
			next = old ^ v
		}
		cur := atomicCmpXchg64(p, old, next)
		if cur == old {
			return old
		}
		old = cur
	}
}
