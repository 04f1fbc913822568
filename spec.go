package ebpfvm

import (
	"fmt"
	"maps"
	"slices"

	"github.com/ebpfvm/ebpfvm/isa"
	ebpfmaps "github.com/ebpfvm/ebpfvm/maps"
	"github.com/ebpfvm/ebpfvm/progtype"
)

// CollectionSpec describes the programs and maps of a collection before
// they are loaded, like cilium/ebpf's CollectionSpec.
type CollectionSpec struct {
	Maps     map[string]*MapSpec
	Programs map[string]*ProgramSpec
}

// MapSpec describes a map and its initial contents.
type MapSpec struct {
	ebpfmaps.Spec
	// Contents are written into the map when it is created: global data's
	// single value, BTF-declared initial values, --setup entries.
	Contents []MapKV
	// ReadOnly makes the map's values read-only to programs (.rodata).
	ReadOnly bool
}

// MapKV is one initial entry of a map. For a prog_array, Program names the
// program to store instead of Value; for a map of maps, Map names the inner
// map.
type MapKV struct {
	Key, Value []byte
	Program    string
	Map        string
}

// Copy returns a deep copy of the spec.
func (s *MapSpec) Copy() *MapSpec {
	c := *s
	c.Spec = *s.Spec.Copy()
	c.Contents = slices.Clone(s.Contents)
	return &c
}

// RefKind says what a lddw instruction refers to.
type RefKind uint8

// Reference kinds.
const (
	// RefMap: a pointer to a map (lddw with a map pseudo source).
	RefMap RefKind = iota + 1
	// RefMapValue: a pointer into the value of a single-element array map
	// (global data), at Offset.
	RefMapValue
)

// Reference is what a lddw refers to, by name.
type Reference struct {
	Kind   RefKind
	Map    string
	Offset int64
}

// ProgramSpec describes a program before it is loaded.
type ProgramSpec struct {
	Name        string
	SectionName string
	// Type is the program type; nil means progtype.Raw, unless KernelType
	// names a kernel program type ebpfvm cannot run (kprobe, tracepoint, ...).
	Type progtype.Type
	// KernelType is the kernel's program type named by the ELF section
	// ("xdp", "socket", "kprobe", ...), "" for programs not from ELF.
	KernelType string
	// Order is the program's position in its object (the first program
	// is the default one).
	Order        int
	Instructions []isa.Instruction
	// References maps instruction indexes (not slots) of lddw instructions
	// to the maps they load.
	References map[int]Reference
	License    string
}

// Copy returns a deep copy of the spec.
func (s *ProgramSpec) Copy() *ProgramSpec {
	c := *s
	c.Instructions = slices.Clone(s.Instructions)
	c.References = maps.Clone(s.References)
	return &c
}

// typ returns the program's type, or nil for a kernel type ebpfvm cannot run.
func (s *ProgramSpec) typ() progtype.Type {
	if s.Type != nil {
		return s.Type
	}
	switch s.KernelType {
	case "", "raw", "syscall", "hook":
		return progtype.Raw
	}
	return nil
}

// Copy returns a deep copy of the spec.
func (s *CollectionSpec) Copy() *CollectionSpec {
	c := &CollectionSpec{Maps: map[string]*MapSpec{}, Programs: map[string]*ProgramSpec{}}
	for n, m := range s.Maps {
		c.Maps[n] = m.Copy()
	}
	for n, p := range s.Programs {
		c.Programs[n] = p.Copy()
	}
	return c
}

// ProgramNames returns the names of the programs in the order of their
// object (by name for programs of equal Order).
func (s *CollectionSpec) ProgramNames() []string {
	names := slices.Sorted(maps.Keys(s.Programs))
	slices.SortStableFunc(names, func(a, b string) int { return s.Programs[a].Order - s.Programs[b].Order })
	return names
}

// NewProgramSpec returns a collection spec holding one program and no maps,
// for bytecode from a file or the assembler.
func NewProgramSpec(name string, typ progtype.Type, insns []isa.Instruction) *CollectionSpec {
	return &CollectionSpec{
		Maps:     map[string]*MapSpec{},
		Programs: map[string]*ProgramSpec{name: {Name: name, Type: typ, Instructions: insns}},
	}
}

// SpecError reports a collection spec that cannot be loaded.
type SpecError struct {
	Program string // "" for map errors
	Map     string
	Insn    int // instruction index, -1 if none
	Err     error
}

func (e *SpecError) Error() string {
	switch {
	case e.Program != "" && e.Insn >= 0:
		return fmt.Sprintf("program %s: insn %d: %v", e.Program, e.Insn, e.Err)
	case e.Program != "":
		return fmt.Sprintf("program %s: %v", e.Program, e.Err)
	}
	return fmt.Sprintf("map %s: %v", e.Map, e.Err)
}

func (e *SpecError) Unwrap() error { return e.Err }
