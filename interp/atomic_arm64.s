#include "textflag.h"

// Atomic read-modify-write operations for the BPF atomic instructions, as
// load-acquire/store-release exclusive loops (ARMv8.0, no LSE needed). They
// are written in assembly so that the race detector does not instrument
// them (see mem.go). Each returns the old value.

// func atomicAdd64(p unsafe.Pointer, v uint64) uint64
TEXT ·atomicAdd64(SB), NOSPLIT, $0-24
	MOVD p+0(FP), R0
	MOVD v+8(FP), R1
again:
	LDAXR (R0), R2
	ADD R1, R2, R3
	STLXR R3, (R0), R4
	CBNZ R4, again
	MOVD R2, ret+16(FP)
	RET

// func atomicAdd32(p unsafe.Pointer, v uint32) uint32
TEXT ·atomicAdd32(SB), NOSPLIT, $0-20
	MOVD p+0(FP), R0
	MOVWU v+8(FP), R1
again:
	LDAXRW (R0), R2
	ADDW R1, R2, R3
	STLXRW R3, (R0), R4
	CBNZ R4, again
	MOVW R2, ret+16(FP)
	RET

// func atomicXchg64(p unsafe.Pointer, v uint64) uint64
TEXT ·atomicXchg64(SB), NOSPLIT, $0-24
	MOVD p+0(FP), R0
	MOVD v+8(FP), R1
again:
	LDAXR (R0), R2
	STLXR R1, (R0), R4
	CBNZ R4, again
	MOVD R2, ret+16(FP)
	RET

// func atomicXchg32(p unsafe.Pointer, v uint32) uint32
TEXT ·atomicXchg32(SB), NOSPLIT, $0-20
	MOVD p+0(FP), R0
	MOVWU v+8(FP), R1
again:
	LDAXRW (R0), R2
	STLXRW R1, (R0), R4
	CBNZ R4, again
	MOVW R2, ret+16(FP)
	RET

// func atomicCmpXchg64(p unsafe.Pointer, old, new uint64) uint64
TEXT ·atomicCmpXchg64(SB), NOSPLIT, $0-32
	MOVD p+0(FP), R0
	MOVD old+8(FP), R1
	MOVD new+16(FP), R2
again:
	LDAXR (R0), R3
	CMP R1, R3
	BNE done
	STLXR R2, (R0), R4
	CBNZ R4, again
done:
	CLREX
	MOVD R3, ret+24(FP)
	RET

// func atomicCmpXchg32(p unsafe.Pointer, old, new uint32) uint32
TEXT ·atomicCmpXchg32(SB), NOSPLIT, $0-20
	MOVD p+0(FP), R0
	MOVWU old+8(FP), R1
	MOVWU new+12(FP), R2
again:
	LDAXRW (R0), R3
	CMPW R1, R3
	BNE done
	STLXRW R2, (R0), R4
	CBNZ R4, again
done:
	CLREX
	MOVW R3, ret+16(FP)
	RET
