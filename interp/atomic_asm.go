//go:build amd64 || arm64

package interp

import "unsafe"

// Implemented in atomic_$GOARCH.s.

//go:noescape
func atomicAdd64(p unsafe.Pointer, v uint64) uint64

//go:noescape
func atomicAdd32(p unsafe.Pointer, v uint32) uint32

//go:noescape
func atomicXchg64(p unsafe.Pointer, v uint64) uint64

//go:noescape
func atomicXchg32(p unsafe.Pointer, v uint32) uint32

//go:noescape
func atomicCmpXchg64(p unsafe.Pointer, old, new uint64) uint64

//go:noescape
func atomicCmpXchg32(p unsafe.Pointer, old, new uint32) uint32
