package vm

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ebpfvm/ebpfvm/isa"
)

// Space is the shared part of an address space: the regions of a
// collection's maps, global data and ring buffers, which every program of the
// collection and every run sees at the same virtual addresses, and the map
// objects that map handles name. It may grow while programs run (a map
// inserted into a map of maps is registered when a program first reaches
// it); readers see immutable snapshots.
type Space struct {
	mu   sync.Mutex
	snap atomic.Pointer[spaceSnapshot]
}

// spaceSnapshot is the Space's content at one moment; it is never modified
// once published.
type spaceSnapshot struct {
	regions    []Region
	names      []string
	maps       []any
	mapRegions []uint32 // the region of each map's values (0: none)
	index      map[any]int
}

// NewSpace returns an empty Space.
func NewSpace() *Space {
	s := &Space{}
	s.snap.Store(&spaceSnapshot{index: map[any]int{}})
	return s
}

func (s *Space) load() *spaceSnapshot { return s.snap.Load() }

// grow publishes a copy of the snapshot changed by f.
func (s *Space) grow(f func(n *spaceSnapshot)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.load()
	n := &spaceSnapshot{
		regions:    slices.Clone(old.regions),
		names:      slices.Clone(old.names),
		maps:       slices.Clone(old.maps),
		mapRegions: slices.Clone(old.mapRegions),
		index:      maps.Clone(old.index),
	}
	f(n)
	s.snap.Store(n)
}

// AddRegion adds a shared region and returns its id.
func (s *Space) AddRegion(name string, r Region) uint32 {
	var id uint32
	s.grow(func(n *spaceSnapshot) {
		n.regions = append(n.regions, r)
		n.names = append(n.names, name)
		id = uint32(FirstSharedRegion + len(n.regions) - 1)
	})
	return id
}

// AddMap registers a map object whose values live in region (0 if none)
// and returns its index, from which MapHandle makes the pointer programs see.
// Registering an object twice returns the index of the first registration.
// The object must be comparable.
func (s *Space) AddMap(m any, region uint32) int {
	if i, ok := s.load().index[m]; ok {
		return i
	}
	var i int
	s.grow(func(n *spaceSnapshot) {
		if j, ok := n.index[m]; ok {
			i = j
			return
		}
		n.maps = append(n.maps, m)
		n.mapRegions = append(n.mapRegions, region)
		i = len(n.maps) - 1
		n.index[m] = i
	})
	return i
}

// MapByRegion returns the map object whose values live in region.
func (s *Space) MapByRegion(region uint32) (any, bool) {
	snap := s.load()
	if region == 0 {
		return nil, false
	}
	for i, r := range snap.mapRegions {
		if r == region {
			return snap.maps[i], true
		}
	}
	return nil, false
}

// MapIndexOf returns the index of a registered map object.
func (s *Space) MapIndexOf(m any) (int, bool) {
	i, ok := s.load().index[m]
	return i, ok
}

// Map returns the map object behind a map handle and the region of its values.
func (s *Space) Map(handle uint64) (obj any, region uint32, ok bool) {
	i, ok := MapIndex(handle)
	snap := s.load()
	if !ok || i >= len(snap.maps) {
		return nil, 0, false
	}
	return snap.maps[i], snap.mapRegions[i], true
}

// Maps returns the registered map objects, by index.
func (s *Space) Maps() []any { return s.load().maps }

// RegionName returns the name of a shared region, or "".
func (s *Space) RegionName(id uint32) string {
	i := int(id) - FirstSharedRegion
	names := s.load().names
	if i < 0 || i >= len(names) {
		return ""
	}
	return names[i]
}

// HelperFunc implements a helper: it receives r1 to r5 and returns r0. An
// error stops the run with a FaultHelper (or the *Fault it returns, e.g. from
// Machine.Slice).
type HelperFunc func(m *Machine, r1, r2, r3, r4, r5 uint64) (uint64, error)

// Program is a program ready to run: decoded instructions, lddw values
// resolved, helpers bound. It is immutable and may be run by many
// goroutines at once, each with its own Machine.
type Program struct {
	Name  string
	Insns []isa.Instruction
	// SlotOf is the slot index of each instruction; InsnAt the instruction
	// index at each slot (-1 for the second slot of a lddw).
	SlotOf []int
	InsnAt []int
	// Imm64 is the resolved value of each lddw, by instruction index.
	Imm64 []uint64
	// Helpers binds helper ids to implementations; a nil entry or an id
	// past the end is an unknown helper.
	Helpers []HelperFunc
	Space   *Space
	// Meta carries whatever the loader attaches (program type, ...), for helpers.
	Meta any
	// Inline lets engines run some helpers themselves (Inline* flags),
	// when the program's helper table binds the standard implementations.
	Inline uint32
	// Engine data, set once by an engine that compiles the program.
	Compiled any
}

// ProgramOptions configures NewProgram.
type ProgramOptions struct {
	Name    string
	Helpers []HelperFunc
	Space   *Space
	// Resolve returns the value of a lddw with a pseudo source other than
	// PseudoFunc (which NewProgram resolves itself): map pointers, map value
	// addresses, ... index is the instruction index.
	Resolve func(ins isa.Instruction, index int) (uint64, error)
	Meta    any
	// Inline sets Program.Inline.
	Inline uint32
}

// Inline flags: helpers an engine may run itself rather than call.
const (
	// InlineMapLookup: bpf_map_lookup_elem (helper 1) on array maps.
	InlineMapLookup uint32 = 1 << iota
)

// ProgramError reports a program that cannot be prepared for running.
type ProgramError struct {
	Insn   int // slot index
	Reason string
}

func (e *ProgramError) Error() string { return fmt.Sprintf("insn %d: %s", e.Insn, e.Reason) }

// NewProgram prepares decoded instructions for running. It checks only what
// running requires (lddw values resolvable); everything else is checked at
// run time, or by the verifier beforehand.
func NewProgram(insns []isa.Instruction, opts ProgramOptions) (*Program, error) {
	if len(insns) == 0 {
		return nil, &ProgramError{Insn: 0, Reason: "empty program"}
	}
	space := opts.Space
	if space == nil {
		space = NewSpace()
	}
	p := &Program{
		Name:    opts.Name,
		Insns:   insns,
		SlotOf:  make([]int, len(insns)),
		Imm64:   make([]uint64, len(insns)),
		Helpers: opts.Helpers,
		Space:   space,
		Meta:    opts.Meta,
		Inline:  opts.Inline,
	}
	slot := 0
	for i, ins := range insns {
		p.SlotOf[i] = slot
		p.InsnAt = append(p.InsnAt, i)
		if ins.IsLDDW() {
			p.InsnAt = append(p.InsnAt, -1)
		}
		slot += ins.Slots()
	}
	for i, ins := range insns {
		if !ins.IsLDDW() {
			continue
		}
		switch ins.Src {
		case isa.PseudoNone:
			p.Imm64[i] = uint64(ins.Imm)
		case isa.PseudoFunc:
			target := p.SlotOf[i] + 1 + int(int32(ins.Imm))
			if target < 0 || target >= len(p.InsnAt) || p.InsnAt[target] < 0 {
				return nil, &ProgramError{Insn: p.SlotOf[i], Reason: fmt.Sprintf("function pointer to slot %d is outside the program", target)}
			}
			p.Imm64[i] = FuncAddr(target)
		default:
			if opts.Resolve == nil {
				return nil, &ProgramError{Insn: p.SlotOf[i], Reason: fmt.Sprintf("lddw with pseudo source %d needs a loader to resolve it", ins.Src)}
			}
			v, err := opts.Resolve(ins, i)
			if err != nil {
				return nil, &ProgramError{Insn: p.SlotOf[i], Reason: err.Error()}
			}
			p.Imm64[i] = v
		}
	}
	return p, nil
}

// Slots is the length of the program in wire slots.
func (p *Program) Slots() int { return len(p.InsnAt) }

// Helper returns the implementation of helper id, or nil.
func (p *Program) Helper(id int64) HelperFunc {
	if id < 0 || id >= int64(len(p.Helpers)) {
		return nil
	}
	return p.Helpers[id]
}
