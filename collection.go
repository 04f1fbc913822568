// Package ebpfvm loads eBPF programs and maps and runs them in user space,
// safely: programs see only a virtual address space of regions (their stack,
// context, packet, map values), every access is checked, and runs are
// bounded. Its API is shaped like github.com/cilium/ebpf's: a CollectionSpec
// (from an ELF object, or built by hand) becomes a Collection of Programs
// and Maps.
//
//	spec, err := ebpfvm.LoadCollectionSpec("prog.o")
//	coll, err := ebpfvm.NewCollection(spec, nil)
//	defer coll.Close()
//	r0, out, err := coll.Programs["xdp_filter"].Test(packet)
package ebpfvm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ebpfvm/ebpfvm/helpers"
	"github.com/ebpfvm/ebpfvm/interp"
	"github.com/ebpfvm/ebpfvm/isa"
	ebpfmaps "github.com/ebpfvm/ebpfvm/maps"
	"github.com/ebpfvm/ebpfvm/progtype"
	"github.com/ebpfvm/ebpfvm/verifier"
	"github.com/ebpfvm/ebpfvm/vm"
)

// Engine selects how programs run.
type Engine int

// Engines.
const (
	// EngineInterp is the interpreter, the reference engine.
	EngineInterp Engine = iota
	// EngineJIT asks for native code; until the JIT exists every program
	// falls back to the interpreter (Program.Engine reports which runs).
	EngineJIT
)

func (e Engine) String() string {
	switch e {
	case EngineInterp:
		return "interp"
	case EngineJIT:
		return "jit"
	}
	return fmt.Sprintf("engine(%d)", int(e))
}

// ParseEngine parses "interp" or "jit".
func ParseEngine(s string) (Engine, error) {
	switch s {
	case "interp", "":
		return EngineInterp, nil
	case "jit":
		return EngineJIT, nil
	}
	return 0, fmt.Errorf("unknown engine %q (interp or jit)", s)
}

// CollectionOptions configures NewCollection. The zero value is usable.
type CollectionOptions struct {
	Engine Engine
	// NumCPU is the number of virtual CPUs: per-CPU maps hold that many
	// values, and at most that many runs proceed at once. 0 means
	// runtime.NumCPU().
	NumCPU int
	// Helpers binds helper ids; nil means helpers.Standard().
	Helpers *helpers.Registry
	// Env supplies the clock, randomness, trace output and host values to
	// helpers; nil means defaults (real time, math/rand, no trace output).
	Env *helpers.Env
	// MapMaxMemory bounds the memory of each map (maps.Options.MaxMemory).
	MapMaxMemory int64
	// NoVerify loads programs without the verifier: they still run safely,
	// every access checked at run time, but unsafe programs are only
	// found when a run faults.
	NoVerify bool
	// Verifier configures the verifier (log level, unprivileged mode).
	Verifier verifier.Options
}

// Map is a map of a collection.
type Map = ebpfmaps.Map

// Collection is a set of loaded programs and the maps they share.
type Collection struct {
	Programs map[string]*Program
	Maps     map[string]*Map

	space  *vm.Space
	env    *helpers.Env
	ncpu   int
	cpus   []atomic.Bool
	next   atomic.Uint32
	closed atomic.Bool

	noVerify     bool
	verifierOpts verifier.Options
	mapSpecs     map[string]*MapSpec
	verifierMaps map[string]*verifier.Map
}

// NewCollection creates the maps of spec, fills their initial contents and
// loads its programs.
func NewCollection(spec *CollectionSpec, opts *CollectionOptions) (*Collection, error) {
	if spec == nil {
		return nil, errors.New("ebpfvm: nil collection spec")
	}
	if opts == nil {
		opts = &CollectionOptions{}
	}
	reg := opts.Helpers
	if reg == nil {
		reg = helpers.Standard()
	}
	env := opts.Env
	if env == nil {
		env = &helpers.Env{}
	}
	ncpu := opts.NumCPU
	if ncpu <= 0 {
		ncpu = runtime.NumCPU()
	}
	c := &Collection{
		Programs: map[string]*Program{},
		Maps:     map[string]*Map{},
		space:    vm.NewSpace(),
		env:      env,
		ncpu:     ncpu,
		cpus:     make([]atomic.Bool, ncpu),
	}
	ok := false
	defer func() {
		if !ok {
			c.Close()
		}
	}()
	// Maps first (sorted, so that ids and regions are deterministic), then
	// their contents, which may name programs and other maps.
	mapNames := slices.Sorted(maps.Keys(spec.Maps))
	for _, name := range mapNames {
		ms := spec.Maps[name]
		m, err := ebpfmaps.New(&ms.Spec, ebpfmaps.Options{NumCPU: ncpu, MaxMemory: opts.MapMaxMemory})
		if err != nil {
			return nil, &SpecError{Map: name, Insn: -1, Err: err}
		}
		c.Maps[name] = m
		if err := c.register(m, ms.ReadOnly); err != nil {
			return nil, &SpecError{Map: name, Insn: -1, Err: err}
		}
	}
	c.noVerify, c.verifierOpts, c.mapSpecs = opts.NoVerify, opts.Verifier, spec.Maps
	for _, name := range spec.ProgramNames() {
		p, err := c.load(spec.Programs[name], reg, opts.Engine)
		if err != nil {
			return nil, err
		}
		c.Programs[name] = p
	}
	for _, name := range mapNames {
		if err := c.fill(name, spec.Maps[name]); err != nil {
			return nil, &SpecError{Map: name, Insn: -1, Err: err}
		}
	}
	ok = true
	return c, nil
}

// register adds a map to the collection's address space: its values become
// a region, and the map gets a handle.
func (c *Collection) register(m *Map, readOnly bool) error {
	_, err := helpers.RegisterMap(c.space, m, readOnly)
	return err
}

// fill writes a map's initial contents.
func (c *Collection) fill(name string, ms *MapSpec) error {
	m := c.Maps[name]
	for i, kv := range ms.Contents {
		var err error
		switch {
		case kv.Program != "":
			p, ok := c.Programs[kv.Program]
			if !ok {
				return fmt.Errorf("entry %d names program %q, which the collection does not have", i, kv.Program)
			}
			err = SetProgram(m, kv.Key, p)
		case kv.Map != "":
			inner, ok := c.Maps[kv.Map]
			if !ok {
				return fmt.Errorf("entry %d names map %q, which the collection does not have", i, kv.Map)
			}
			err = m.UpdateMap(kv.Key, inner, ebpfmaps.UpdateAny)
		default:
			err = m.Update(kv.Key, kv.Value, ebpfmaps.UpdateAny)
		}
		if err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
	}
	// Read-only data (.rodata) is frozen once written, as libbpf does: Go
	// can no longer change what the program was loaded with.
	if ms.ReadOnly {
		return m.Freeze()
	}
	return nil
}

// SetProgram stores program p at key (a little-endian uint32 index) of a
// prog_array map, for tail calls.
func SetProgram(m *Map, key []byte, p *Program) error {
	if len(key) != 4 {
		return fmt.Errorf("ebpfvm: prog_array keys are 4 bytes, not %d", len(key))
	}
	return m.SetProgram(binary.LittleEndian.Uint32(key), p.prog)
}

// Close closes the collection's maps. Programs must not run afterwards.
func (c *Collection) Close() error {
	if c == nil || c.closed.Swap(true) {
		return nil
	}
	var errs []error
	for _, m := range c.Maps {
		if err := m.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// NumCPU is the number of virtual CPUs of the collection.
func (c *Collection) NumCPU() int { return c.ncpu }

// acquireCPU pins a run to a free virtual CPU, as the kernel runs at most one
// program per CPU at a time: per-CPU values are then never updated by two
// runs at once.
func (c *Collection) acquireCPU() int {
	for {
		start := int(c.next.Add(1))
		for i := range c.ncpu {
			j := (start + i) % c.ncpu
			if c.cpus[j].CompareAndSwap(false, true) {
				return j
			}
		}
		runtime.Gosched()
	}
}

func (c *Collection) releaseCPU(cpu int) { c.cpus[cpu].Store(false) }

// resolve returns the value of a lddw of program spec at instruction index.
func (c *Collection) resolve(spec *ProgramSpec, ins isa.Instruction, index int) (uint64, error) {
	ref, ok := spec.References[index]
	if !ok {
		return 0, fmt.Errorf("lddw with pseudo source %d refers to no map", ins.Src)
	}
	m, ok := c.Maps[ref.Map]
	if !ok {
		return 0, fmt.Errorf("reference to map %q, which the collection does not have", ref.Map)
	}
	idx, _ := c.space.MapIndexOf(m)
	switch ref.Kind {
	case RefMap:
		return vm.MapHandle(idx), nil
	case RefMapValue:
		if m.Type() != ebpfmaps.Array || m.MaxEntries() < 1 {
			return 0, fmt.Errorf("direct value access to map %s needs an array map", ref.Map)
		}
		if ref.Offset < 0 || ref.Offset >= int64(m.ValueSize()) {
			return 0, fmt.Errorf("offset %d is outside the %d-byte value of map %s", ref.Offset, m.ValueSize(), ref.Map)
		}
		_, region, _ := c.space.Map(vm.MapHandle(idx))
		return vm.Addr(region, uint32(ref.Offset)), nil
	}
	return 0, fmt.Errorf("unknown reference kind %d", ref.Kind)
}

// runner is what one run needs besides the program, recycled from run to
// run so that a run allocates nothing.
type runner struct {
	m  *vm.Machine
	in progtype.Input
}

// machinePool recycles the runners of a program's runs.
type machinePool struct {
	pool sync.Pool
}

func (p *machinePool) get(space *vm.Space) *runner {
	if r, ok := p.pool.Get().(*runner); ok {
		return r
	}
	return &runner{m: vm.NewMachine(space)}
}

func (p *machinePool) put(r *runner) { p.pool.Put(r) }

// engineFor prepares a program for the chosen engine.
func engineFor(p *vm.Program, _ Engine) *interp.Interpreter {
	return interp.New(p)
}
