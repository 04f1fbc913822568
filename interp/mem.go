package interp

import (
	"sync/atomic"
	"unsafe"
)

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
// cmp) and returns the old value.
//
//go:norace
func atomic32(p unsafe.Pointer, op int64, v, cmp uint32) uint32 {
	a := (*uint32)(p)
	switch op &^ 0x01 {
	case 0x00: // add
		return atomic.AddUint32(a, v) - v
	case 0x40: // or
		return atomic.OrUint32(a, v)
	case 0x50: // and
		return atomic.AndUint32(a, v)
	case 0xa0: // xor
		for {
			old := atomic.LoadUint32(a)
			if atomic.CompareAndSwapUint32(a, old, old^v) {
				return old
			}
		}
	case 0xe0: // xchg
		return atomic.SwapUint32(a, v)
	default: // 0xf0 cmpxchg
		for {
			old := atomic.LoadUint32(a)
			if old != cmp {
				return old
			}
			if atomic.CompareAndSwapUint32(a, old, v) {
				return old
			}
		}
	}
}

// atomic64 is atomic32 for 64-bit words.
//
//go:norace
func atomic64(p unsafe.Pointer, op int64, v, cmp uint64) uint64 {
	a := (*uint64)(p)
	switch op &^ 0x01 {
	case 0x00:
		return atomic.AddUint64(a, v) - v
	case 0x40:
		return atomic.OrUint64(a, v)
	case 0x50:
		return atomic.AndUint64(a, v)
	case 0xa0:
		for {
			old := atomic.LoadUint64(a)
			if atomic.CompareAndSwapUint64(a, old, old^v) {
				return old
			}
		}
	case 0xe0:
		return atomic.SwapUint64(a, v)
	default:
		for {
			old := atomic.LoadUint64(a)
			if old != cmp {
				return old
			}
			if atomic.CompareAndSwapUint64(a, old, v) {
				return old
			}
		}
	}
}
