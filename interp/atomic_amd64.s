#include "textflag.h"

// Atomic read-modify-write operations for the BPF atomic instructions. They
// are written in assembly so that the race detector does not instrument
// them (see mem.go). Each returns the old value.

// func atomicAdd64(p unsafe.Pointer, v uint64) uint64
TEXT ·atomicAdd64(SB), NOSPLIT, $0-24
	MOVQ p+0(FP), BX
	MOVQ v+8(FP), AX
	LOCK
	XADDQ AX, 0(BX)
	MOVQ AX, ret+16(FP)
	RET

// func atomicAdd32(p unsafe.Pointer, v uint32) uint32
TEXT ·atomicAdd32(SB), NOSPLIT, $0-20
	MOVQ p+0(FP), BX
	MOVL v+8(FP), AX
	LOCK
	XADDL AX, 0(BX)
	MOVL AX, ret+16(FP)
	RET

// func atomicXchg64(p unsafe.Pointer, v uint64) uint64
TEXT ·atomicXchg64(SB), NOSPLIT, $0-24
	MOVQ p+0(FP), BX
	MOVQ v+8(FP), AX
	XCHGQ AX, 0(BX)
	MOVQ AX, ret+16(FP)
	RET

// func atomicXchg32(p unsafe.Pointer, v uint32) uint32
TEXT ·atomicXchg32(SB), NOSPLIT, $0-20
	MOVQ p+0(FP), BX
	MOVL v+8(FP), AX
	XCHGL AX, 0(BX)
	MOVL AX, ret+16(FP)
	RET

// func atomicCmpXchg64(p unsafe.Pointer, old, new uint64) uint64
TEXT ·atomicCmpXchg64(SB), NOSPLIT, $0-32
	MOVQ p+0(FP), BX
	MOVQ old+8(FP), AX
	MOVQ new+16(FP), CX
	LOCK
	CMPXCHGQ CX, 0(BX)
	MOVQ AX, ret+24(FP)
	RET

// func atomicCmpXchg32(p unsafe.Pointer, old, new uint32) uint32
TEXT ·atomicCmpXchg32(SB), NOSPLIT, $0-20
	MOVQ p+0(FP), BX
	MOVL old+8(FP), AX
	MOVL new+12(FP), CX
	LOCK
	CMPXCHGL CX, 0(BX)
	MOVL AX, ret+16(FP)
	RET
