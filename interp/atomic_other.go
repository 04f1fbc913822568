//go:build !amd64 && !arm64

package interp

import (
	"sync/atomic"
	"unsafe"
)

// Elsewhere the atomics come from sync/atomic, which the race detector
// sees: races between programs and the Go host on map values are then
// reported, as they are not on amd64 and arm64.

func atomicAdd64(p unsafe.Pointer, v uint64) uint64  { return atomic.AddUint64((*uint64)(p), v) - v }
func atomicAdd32(p unsafe.Pointer, v uint32) uint32  { return atomic.AddUint32((*uint32)(p), v) - v }
func atomicXchg64(p unsafe.Pointer, v uint64) uint64 { return atomic.SwapUint64((*uint64)(p), v) }
func atomicXchg32(p unsafe.Pointer, v uint32) uint32 { return atomic.SwapUint32((*uint32)(p), v) }

func atomicCmpXchg64(p unsafe.Pointer, old, new uint64) uint64 {
	for {
		cur := atomic.LoadUint64((*uint64)(p))
		if cur != old || atomic.CompareAndSwapUint64((*uint64)(p), old, new) {
			return cur
		}
	}
}

func atomicCmpXchg32(p unsafe.Pointer, old, new uint32) uint32 {
	for {
		cur := atomic.LoadUint32((*uint32)(p))
		if cur != old || atomic.CompareAndSwapUint32((*uint32)(p), old, new) {
			return cur
		}
	}
}
