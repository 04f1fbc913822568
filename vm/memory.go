package vm

import (
	"fmt"
	"unsafe"
)

// A virtual address is region<<32 | offset. Programs only ever see virtual
// addresses; the region table maps them to host memory.
const RegionShift = 32

// Addr composes a virtual address.
func Addr(region, offset uint32) uint64 { return uint64(region)<<RegionShift | uint64(offset) }

// SplitAddr returns the region and offset of a virtual address.
func SplitAddr(addr uint64) (region, offset uint32) {
	return uint32(addr >> RegionShift), uint32(addr)
}

// Perm is the access permission of a region.
type Perm uint32

// Permissions.
const (
	PermRead  Perm = 1
	PermWrite Perm = 2
	PermRW         = PermRead | PermWrite
)

// Region is one entry of the region table: Len bytes of host memory at Base.
// The layout is fixed (16 bytes on 64-bit hosts) so that native code can
// index the table directly. A region with Len 0 cannot be accessed.
type Region struct {
	Base unsafe.Pointer
	Len  uint32
	Perm Perm
}

// Well-known region ids. Ids below FirstSharedRegion belong to one run;
// ids from FirstSharedRegion on are shared by every run of the programs of
// one Space (map values, global data, ring buffers).
const (
	RegionNull        = 0 // never mapped: NULL and small integers fault
	RegionStack       = 1 // the call frames' stacks
	RegionContext     = 2 // the program type's context
	RegionData        = 3 // packet data, or the input memory of a raw program
	RegionScratch     = 4 // per-run memory a program type may add
	FirstSharedRegion = 8
)

// Ids of address namespaces that are never mapped: values in them are
// handles that helpers decode, and dereferencing one faults.
const (
	// CodeRegion holds function pointers: CodeRegion<<32 | slot.
	CodeRegion = 0x2000_0000
	// MapHandleRegion holds map pointers: (MapHandleRegion+index)<<32.
	MapHandleRegion = 0x4000_0000
)

// FuncAddr is the function pointer a program sees for the function at slot.
func FuncAddr(slot int) uint64 { return Addr(CodeRegion, uint32(slot)) }

// MapHandle is the map pointer a program sees for map number index of its Space.
func MapHandle(index int) uint64 { return Addr(MapHandleRegion+uint32(index), 0) }

// MapIndex decodes a map pointer. ok is false if v is not one.
func MapIndex(v uint64) (index int, ok bool) {
	r, off := SplitAddr(v)
	if r < MapHandleRegion || r >= MapHandleRegion+0x1000_0000 || off != 0 {
		return 0, false
	}
	return int(r - MapHandleRegion), true
}

// Stack geometry, as in the kernel: each call frame has a 512-byte stack,
// and at most eight frames (the main program and seven nested calls) exist.
const (
	StackSize     = 512
	MaxCallFrames = 8
	// MaxCombinedStack is the kernel's limit on the stack depths of all
	// frames of a call chain together; the verifier enforces it.
	MaxCombinedStack = 512
	stackBytes       = StackSize * MaxCallFrames
	// MaxTailCalls is the number of tail calls a run may make, as in the kernel.
	MaxTailCalls = 33
)

// FramePointer is the value of r10 in call frame depth (0 for the entry
// function). Frame 0 lies at the top of the stack region.
func FramePointer(depth int) uint64 {
	return Addr(RegionStack, uint32(stackBytes-depth*StackSize))
}

// bytesRegion returns a Region over b.
func bytesRegion(b []byte, perm Perm) Region {
	if len(b) == 0 {
		return Region{}
	}
	return Region{Base: unsafe.Pointer(&b[0]), Len: uint32(len(b)), Perm: perm}
}

// NewRegion returns a Region over b. Keep b alive (and do not reslice its
// backing array) for as long as the region is in use. b must not exceed 4 GiB.
func NewRegion(b []byte, perm Perm) (Region, error) {
	if uint64(len(b)) > 1<<32-1 {
		return Region{}, fmt.Errorf("region of %d bytes exceeds the 4 GiB address space of a region", len(b))
	}
	return bytesRegion(b, perm), nil
}

// AlignedBytes allocates n zeroed bytes whose address is 8-byte aligned, so
// that naturally aligned virtual addresses are naturally aligned host
// addresses too (atomics need it).
func AlignedBytes(n int) []byte {
	if n == 0 {
		return nil
	}
	words := make([]uint64, (n+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), n)
}

// Bytes returns the host memory of a region as a slice (nil for an empty region).
func (r Region) Bytes() []byte {
	if r.Len == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(r.Base), r.Len)
}
