package progtype

import (
	"fmt"

	"github.com/ebpfvm/ebpfvm/vm"
)

// FieldKind says what a context field holds.
type FieldKind uint8

// Field kinds.
const (
	// FieldScalar is a number stored in the context.
	FieldScalar FieldKind = iota
	// FieldPacketData reads as a pointer to the first byte of the packet.
	FieldPacketData
	// FieldPacketEnd reads as a pointer just past the packet's last byte.
	FieldPacketEnd
	// FieldPacketMeta reads as a pointer to the packet's metadata (before the data).
	FieldPacketMeta
	// FieldNull reads as NULL: a kernel object (a socket, ...) that user
	// space never has.
	FieldNull
)

var fieldKindNames = [...]string{"scalar", "pkt", "pkt_end", "pkt_meta", "null"}

func (k FieldKind) String() string {
	if int(k) < len(fieldKindNames) {
		return fieldKindNames[k]
	}
	return fmt.Sprintf("field(%d)", uint8(k))
}

// IsPointer reports whether loads of the field yield a pointer.
func (k FieldKind) IsPointer() bool { return k != FieldScalar }

// Field is one field of a context layout and the rules for accessing it,
// modelled on the kernel's *_is_valid_access functions.
type Field struct {
	Name   string
	Offset int
	Size   int // bytes
	Kind   FieldKind
	// Read and Write say whether programs may load and store the field.
	Read, Write bool
	// Narrow allows loads of a power-of-two size smaller than Size, at an
	// offset aligned to that size (the kernel's narrow context loads).
	Narrow bool
	// Bytes makes the field part of an array that adjacent Bytes fields
	// continue, accessed at any size and aligned offset within the array,
	// for loads and stores (__sk_buff.cb[0..4]).
	Bytes bool
}

// Layout is a context structure as programs see it: the kernel's uapi
// struct (struct xdp_md, struct __sk_buff) or a user-defined hook context.
type Layout struct {
	Name   string // e.g. "xdp_md"
	Size   int
	Fields []Field
}

// AccessError is an access to a context that its layout does not allow.
type AccessError struct {
	Layout string
	Off    int
	Size   int
	Write  bool
	Reason string
}

func (e *AccessError) Error() string {
	op := "read"
	if e.Write {
		op = "write"
	}
	return fmt.Sprintf("invalid %s context access: %s off=%d size=%d: %s", e.Layout, op, e.Off, e.Size, e.Reason)
}

// Check returns the field that an access of size bytes at off touches, or
// an *AccessError if the layout does not allow it. The verifier and the
// run-time accessor apply the same rules.
func (l *Layout) Check(off, size int, write bool) (*Field, error) {
	fail := func(reason string) (*Field, error) {
		return nil, &AccessError{Layout: l.Name, Off: off, Size: size, Write: write, Reason: reason}
	}
	if size != 1 && size != 2 && size != 4 && size != 8 {
		return fail("size must be 1, 2, 4 or 8")
	}
	if off < 0 || off+size > l.Size {
		return fail(fmt.Sprintf("outside the %d-byte context", l.Size))
	}
	if off%size != 0 {
		return fail("misaligned")
	}
	for i := range l.Fields {
		f := &l.Fields[i]
		if off < f.Offset || off >= f.Offset+f.Size {
			continue
		}
		switch {
		case write && !f.Write:
			return fail(f.Name + " is read-only")
		case !write && !f.Read:
			return fail(f.Name + " cannot be read")
		case f.Bytes:
			if off+size > l.bytesEnd(i) {
				return fail("the access spans past the end of " + f.Name + "'s array")
			}
			return f, nil
		case off+size > f.Offset+f.Size:
			return fail("the access spans more than " + f.Name)
		case size == f.Size:
			return f, nil
		case write || !f.Narrow || f.Kind.IsPointer() || size > f.Size:
			return fail(fmt.Sprintf("%s must be accessed with size %d", f.Name, f.Size))
		}
		return f, nil
	}
	return fail("no field at this offset")
}

// bytesEnd returns the end of the array of adjacent Bytes fields that
// field i belongs to.
func (l *Layout) bytesEnd(i int) int {
	end := l.Fields[i].Offset + l.Fields[i].Size
	for _, g := range l.Fields[i+1:] {
		if !g.Bytes || g.Offset != end {
			break
		}
		end = g.Offset + g.Size
	}
	return end
}

// FieldByName returns the named field.
func (l *Layout) FieldByName(name string) (*Field, bool) {
	for i := range l.Fields {
		if l.Fields[i].Name == name {
			return &l.Fields[i], true
		}
	}
	return nil, false
}

// contextMem emulates a context: scalar fields live in mem, in the layout's
// byte order (little endian); pointer fields are computed from the machine's
// packet bounds at each load, so they follow the packet helpers' moves.
type contextMem struct {
	layout *Layout
	mem    []byte
}

func (c *contextMem) LoadContext(m *vm.Machine, off uint32, size int) (uint64, error) {
	f, err := c.layout.Check(int(off), size, false)
	if err != nil {
		return 0, &vm.Fault{Kind: vm.FaultContext, PC: m.PC, Addr: vm.Addr(vm.RegionContext, off), Size: size, Detail: err.Error(), Err: err}
	}
	switch f.Kind {
	case FieldPacketData:
		return vm.Addr(vm.RegionData, m.DataStart), nil
	case FieldPacketEnd:
		return vm.Addr(vm.RegionData, m.DataEnd), nil
	case FieldPacketMeta:
		return vm.Addr(vm.RegionData, m.DataMeta), nil
	case FieldNull:
		return 0, nil
	}
	return getUint(c.mem[off : int(off)+size]), nil
}

func (c *contextMem) StoreContext(m *vm.Machine, off uint32, size int, v uint64) error {
	if _, err := c.layout.Check(int(off), size, true); err != nil {
		return &vm.Fault{Kind: vm.FaultContext, PC: m.PC, Addr: vm.Addr(vm.RegionContext, off), Size: size, Detail: err.Error(), Err: err}
	}
	putUint(c.mem[off:int(off)+size], v)
	return nil
}
