package ebpfvm

import (
	"errors"
	"fmt"

	"github.com/ebpfvm/ebpfvm/helpers"
	ebpfmaps "github.com/ebpfvm/ebpfvm/maps"
	"github.com/ebpfvm/ebpfvm/progtype"
	"github.com/ebpfvm/ebpfvm/verifier"
)

// verifyProgram runs the verifier on a program being loaded, unless the
// collection was created with NoVerify. A rejection is a *SpecError whose
// Err is the *verifier.Error.
func (c *Collection) verifyProgram(spec *ProgramSpec, typ progtype.Type, reg *helpers.Registry) (*verifier.Result, error) {
	if c.noVerify {
		return nil, nil
	}
	p := verifier.Program{Instructions: spec.Instructions, Type: typ, Refs: map[int]verifier.Ref{}, Helpers: reg}
	for idx, ref := range spec.References {
		if m := c.verifierMap(ref.Map); m != nil {
			p.Refs[idx] = verifier.Ref{Map: m, Offset: int32(ref.Offset)}
		}
	}
	opts := c.verifierOpts
	opts.NumCPU = c.ncpu
	res, err := verifier.Verify(p, opts)
	if err != nil {
		var ve *verifier.Error
		if errors.As(err, &ve) {
			return nil, &SpecError{Program: spec.Name, Insn: -1, Err: ve}
		}
		return nil, &SpecError{Program: spec.Name, Insn: -1, Err: err}
	}
	return res, nil
}

// verifierMap describes the collection's map called name to the verifier.
func (c *Collection) verifierMap(name string) *verifier.Map {
	if m, ok := c.verifierMaps[name]; ok {
		return m
	}
	mm, ok := c.Maps[name]
	if !ok {
		return nil
	}
	m := verifierMapFromSpec(mm.Spec(), c.mapSpecs[name])
	if c.verifierMaps == nil {
		c.verifierMaps = map[string]*verifier.Map{}
	}
	c.verifierMaps[name] = m
	return m
}

// verifierMapFromSpec describes a map to the verifier: read-only maps
// (.rodata) are frozen with their initial value, so that loads from them
// are known constants, as in the kernel.
func verifierMapFromSpec(s *ebpfmaps.Spec, ms *MapSpec) *verifier.Map {
	m := verifier.MapFromSpec(s)
	if ms != nil && ms.ReadOnly {
		m.Flags |= ebpfmaps.FlagRdonlyProg
		m.Frozen = true
		for _, kv := range ms.Contents {
			if len(kv.Key) == 4 && kv.Key[0]|kv.Key[1]|kv.Key[2]|kv.Key[3] == 0 {
				m.Value = kv.Value
			}
		}
	}
	return m
}

// Verify runs the verifier on the program called name of spec without
// creating the collection: it also checks programs of kernel types that
// cannot run here (kprobe, tracepoint, tc, ...). reg binds helper ids;
// nil means helpers.Standard(). The error is a *verifier.Error for a
// rejection, another error for a spec it cannot check.
func Verify(spec *CollectionSpec, name string, reg *helpers.Registry, opts verifier.Options) (*verifier.Result, error) {
	p, err := VerifierProgram(spec, name, reg)
	if err != nil {
		return nil, err
	}
	return verifier.Verify(p, opts)
}

// VerifierProgram is the verifier's input for the program called name of
// spec: its instructions, its type (a kernel type for programs ebpfvm
// cannot run) and what each map reference points to.
func VerifierProgram(spec *CollectionSpec, name string, reg *helpers.Registry) (verifier.Program, error) {
	ps, ok := spec.Programs[name]
	if !ok {
		return verifier.Program{}, fmt.Errorf("ebpfvm: the spec has no program %q", name)
	}
	typ := ps.typ()
	if typ == nil {
		kt, ok := progtype.KernelTypeByName(ps.KernelType)
		if !ok {
			return verifier.Program{}, fmt.Errorf("ebpfvm: program %s: the verifier does not know kernel program type %s", name, ps.KernelType)
		}
		typ = kt
	}
	p := verifier.Program{Instructions: ps.Instructions, Type: typ, Refs: map[int]verifier.Ref{}, Helpers: reg}
	cache := map[string]*verifier.Map{}
	for idx, ref := range ps.References {
		m, ok := cache[ref.Map]
		if !ok {
			ms, ok := spec.Maps[ref.Map]
			if !ok {
				return verifier.Program{}, fmt.Errorf("ebpfvm: program %s: insn %d refers to map %q, which the spec does not have", name, idx, ref.Map)
			}
			m = verifierMapFromSpec(&ms.Spec, ms)
			if m.Name == "" {
				m.Name = ref.Map
			}
			cache[ref.Map] = m
		}
		p.Refs[idx] = verifier.Ref{Map: m, Offset: int32(ref.Offset)}
	}
	return p, nil
}

// Verification returns what the verifier proved about the program (its
// per-instruction facts and statistics), or nil if the collection was
// created with NoVerify.
func (p *Program) Verification() *verifier.Result { return p.verified }
