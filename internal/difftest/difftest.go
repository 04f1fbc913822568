// Package difftest runs one program in the Linux kernel and in every engine
// of ebpfvm on the same input and compares the outcomes: r0 (all 64 bits),
// the packet or memory, the writable context fields and the contents of
// every map. It also compares the verdicts of the kernel's verifier and
// ebpfvm's. Campaign does it for programs from internal/progen and shrinks
// the first program on which an engine and the kernel disagree.
//
// The engines run without ebpfvm's verifier (CollectionOptions.NoVerify),
// so that their semantics are compared even where the two verifiers
// disagree; the verdicts are compared on their own (Report.Verdict).
package difftest

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/ebpfvm/ebpfvm"
	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/kernel"
	ebpfmaps "github.com/ebpfvm/ebpfvm/maps"
	"github.com/ebpfvm/ebpfvm/progtype"
	"github.com/ebpfvm/ebpfvm/verifier"
)

// Engines are the engines every comparison runs: each value of
// ebpfvm.Engine (EngineJIT falls back to the interpreter until the JIT
// exists, and is compared all the same).
var Engines = []ebpfvm.Engine{ebpfvm.EngineInterp, ebpfvm.EngineJIT}

// DefaultBudget bounds ebpfvm's runs; the kernel accepts only programs that
// terminate, and generated ones execute at most a few thousand
// instructions.
const DefaultBudget = 10_000_000

// Case is one comparison's input: a program with its maps, the input to run
// it on, and optionally the names of the out map's 8-byte slots (for
// readable differences).
type Case struct {
	Spec     *kernel.Spec
	Input    kernel.Input
	Out      string
	OutSlots []string
}

// Side is the outcome on one side of a comparison.
type Side struct {
	// Name is "kernel" or an engine's name.
	Name string
	// Ran is the engine that ran the program, when not the one named (the
	// JIT falls back to the interpreter).
	Ran string
	// Loaded is false when the side refused the program: the kernel's
	// verifier, or ebpfvm's loader. LoadError says why and RejectInsn where
	// (-1 if unknown).
	Loaded     bool
	LoadError  string
	RejectInsn int
	// RunError is the run's failure (a fault, an exhausted budget), if any.
	RunError string
	R0       uint64
	// R0Bits is 64, or 32 when only the low half of r0 is known (the
	// kernel's, when the capture variant could not be used).
	R0Bits int
	// Insns is the number of instructions ebpfvm executed (0 for the kernel).
	Insns   uint64
	Data    []byte
	Context []byte
	// Maps holds the contents of the maps with keys after the run, sorted
	// by key; per-CPU values are not compared (see compareMaps).
	Maps map[string][]kernel.KV
	// Log is the kernel verifier's log: of a rejection, or of an accepted
	// program when Options.KernelLog asks for it.
	Log string
}

// Diff is one difference between the kernel and an engine.
type Diff struct {
	// Engine names the engine.
	Engine string
	// What names what differs: "r0", "packet", "context FIELD",
	// "map NAME key KEY", "out rN", "load", "run".
	What string
	// Kernel and Got are the kernel's and the engine's values.
	Kernel, Got string
}

func (d Diff) String() string {
	return fmt.Sprintf("%s: kernel %s, %s %s", d.What, d.Kernel, d.Engine, d.Got)
}

// Verdict is ebpfvm's verifier's decision on a program.
type Verdict struct {
	Accepted bool
	// Insn and Reason say where and why it refused the program.
	Insn   int
	Reason string
}

// Report is the outcome of one comparison.
type Report struct {
	Kernel  *Side
	Engines []*Side
	// Diffs are the differences between the kernel and the engines.
	Diffs []Diff
	// Verifier is ebpfvm's verifier's verdict; VerdictDiffers is set when
	// it is not the kernel's.
	Verifier       Verdict
	VerdictDiffers bool
	// PointerLeak is set when the program differs and the kernel, loading
	// it without CAP_PERFMON, refuses it for handling pointers as numbers
	// (the verifier's reason): its pointer values differ by design.
	PointerLeak string
}

// Same reports whether every side agrees: both verifiers accepted the
// program and every engine produced the kernel's results, or both
// verifiers refused it.
func (r *Report) Same() bool {
	if len(r.Diffs) > 0 || r.VerdictDiffers {
		return false
	}
	if !r.Kernel.Loaded {
		return true
	}
	for _, e := range r.Engines {
		if e.Loaded != r.Kernel.Loaded {
			return false
		}
	}
	return true
}

// Options configures Run.
type Options struct {
	// Engines to compare with the kernel; nil means Engines.
	Engines []ebpfvm.Engine
	// Budget bounds ebpfvm's runs; 0 means DefaultBudget.
	Budget uint64
	// KernelLog asks for the kernel verifier's log of an accepted program.
	KernelLog bool
	// Strict loads the program into the kernel without CAP_PERFMON
	// (kernel.Options.Strict): programs that leak pointers are refused.
	Strict bool
}

// ExplainLeak sets r.PointerLeak when the program differs and treats
// pointers as numbers: it loads the program into the kernel without
// CAP_PERFMON, whose verifier refuses that, and (as it explores
// speculative paths) takes much longer than a comparison.
func ExplainLeak(c *Case, r *Report) {
	if len(r.Diffs) == 0 || !r.Kernel.Loaded {
		return
	}
	l, err := kernel.Load(c.Spec, &kernel.Options{Strict: true, R0Only32: true})
	var re *kernel.RejectedError
	if errors.As(err, &re) && leakReason.MatchString(re.Reason) {
		r.PointerLeak = re.Reason
	}
	l.Close()
}

// leakReason matches the verifier's messages about pointers used as
// numbers and stack memory read before it is written (as opposed to
// helpers a loader without CAP_PERFMON may not call, and such).
var leakReason = regexp.MustCompile(`leaks addr|pointer|invalid read from stack|invalid indirect read|partial copy`)

// ErrKernelRun is returned (wrapped) when the kernel accepted the program
// but its test run failed: an input the kernel's test run refuses.
var ErrKernelRun = errors.New("kernel test run failed")

// Run compares c in the kernel and in ebpfvm's engines. Its error is
// reserved for problems of the environment or the input (no bpf(), a
// test run refused); differences, including a side refusing the program,
// are in the report.
func Run(c *Case, opts *Options) (*Report, error) {
	if opts == nil {
		opts = &Options{}
	}
	engines := opts.Engines
	if engines == nil {
		engines = Engines
	}
	budget := opts.Budget
	if budget == 0 {
		budget = DefaultBudget
	}
	k, err := runKernel(c, &kernel.Options{Log: opts.KernelLog, Strict: opts.Strict})
	if err != nil {
		return nil, err
	}
	r := &Report{Kernel: k, Verifier: verify(c)}
	r.VerdictDiffers = r.Verifier.Accepted != k.Loaded
	for _, e := range engines {
		s := runEngine(c, e, budget)
		r.Engines = append(r.Engines, s)
		r.Diffs = append(r.Diffs, compare(c, k, s)...)
	}
	return r, nil
}

func runKernel(c *Case, opts *kernel.Options) (*Side, error) {
	s := &Side{Name: "kernel", RejectInsn: -1}
	l, err := kernel.Load(c.Spec, opts)
	var re *kernel.RejectedError
	switch {
	case errors.As(err, &re):
		s.LoadError, s.RejectInsn, s.Log = re.Reason, re.Insn, re.Log
		return s, nil
	case err != nil:
		return nil, err
	}
	defer l.Close()
	s.Loaded, s.Log = true, l.Log()
	res, err := l.Run(&c.Input)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKernelRun, err)
	}
	s.R0, s.R0Bits, s.Data, s.Context, s.Maps = res.R0, res.R0Bits, res.Data, res.Context, res.Maps
	return s, nil
}

// verify runs ebpfvm's verifier on the case's program.
func verify(c *Case) Verdict {
	spec, name, err := CollectionSpec(c.Spec)
	if err == nil {
		_, err = ebpfvm.Verify(spec, name, nil, verifier.Options{NumCPU: 1})
	}
	if err == nil {
		return Verdict{Accepted: true, Insn: -1}
	}
	v := Verdict{Insn: -1, Reason: err.Error()}
	var ve *verifier.Error
	if errors.As(err, &ve) {
		v.Insn, v.Reason = ve.Insn, ve.Msg
	}
	return v
}

func runEngine(c *Case, engine ebpfvm.Engine, budget uint64) *Side {
	s := &Side{Name: engine.String(), RejectInsn: -1, R0Bits: 64}
	spec, name, err := CollectionSpec(c.Spec)
	if err != nil {
		s.LoadError = err.Error()
		return s
	}
	coll, err := ebpfvm.NewCollection(spec, &ebpfvm.CollectionOptions{Engine: engine, NumCPU: 1, NoVerify: true})
	if err != nil {
		s.LoadError = err.Error()
		var se *ebpfvm.SpecError
		if errors.As(err, &se) {
			s.RejectInsn = se.Insn
		}
		return s
	}
	defer coll.Close()
	s.Loaded = true
	if ran := coll.Programs[name].Engine(); ran != engine {
		s.Ran = ran.String()
	}
	res, err := coll.Programs[name].Execute(&ebpfvm.RunOptions{
		Data: c.Input.Data, Context: c.Input.Context, Budget: budget, AnyCPU: true,
	})
	if err != nil {
		s.RunError = err.Error()
	}
	if res != nil {
		s.R0, s.Insns, s.Data, s.Context = res.R0, res.Executed, res.Data, res.Context
	}
	s.Maps = engineMaps(coll)
	return s
}

// engineMaps reads back ebpfvm's maps as the kernel package does.
func engineMaps(coll *ebpfvm.Collection) map[string][]kernel.KV {
	out := map[string][]kernel.KV{}
	for name, m := range coll.Maps {
		switch m.Type() {
		case ebpfmaps.Array, ebpfmaps.Hash, ebpfmaps.LRUHash, ebpfmaps.LPMTrie:
			var kvs []kernel.KV
			for k, v := range m.All() {
				kvs = append(kvs, kernel.KV{Key: bytes.Clone(k), Value: bytes.Clone(v)})
			}
			sortKVs(kvs)
			out[name] = kvs
		case ebpfmaps.PerCPUArray, ebpfmaps.PerCPUHash, ebpfmaps.LRUPerCPUHash:
			var kvs []kernel.KV
			for k := range m.Keys() {
				vals, err := m.LookupPerCPU(k)
				if err == nil {
					kvs = append(kvs, kernel.KV{Key: bytes.Clone(k), PerCPU: vals})
				}
			}
			sortKVs(kvs)
			out[name] = kvs
		}
	}
	return out
}

func sortKVs(kvs []kernel.KV) {
	slices.SortFunc(kvs, func(a, b kernel.KV) int { return bytes.Compare(a.Key, b.Key) })
}

// compare lists the differences between the kernel's side and an engine's.
func compare(c *Case, k, e *Side) []Diff {
	diff := func(what, kv, ev string) Diff { return Diff{Engine: e.Name, What: what, Kernel: kv, Got: ev} }
	switch {
	case !k.Loaded:
		// Nothing ran in the kernel; Report.VerdictDiffers tells whether
		// ebpfvm's verifier agrees.
		return nil
	case !e.Loaded:
		return []Diff{diff("load", "accepted", "rejected: "+e.LoadError)}
	case e.RunError != "":
		return []Diff{diff("run", "exited normally", e.RunError)}
	}
	var out []Diff
	if r0k, r0e := k.R0, e.R0; k.R0Bits == 32 {
		if uint32(r0k) != uint32(r0e) {
			out = append(out, diff("r0 (low 32 bits)", hex32(r0k), hex32(r0e)))
		}
	} else if r0k != r0e {
		out = append(out, diff("r0", hex64(r0k), hex64(r0e)))
	}
	if !bytes.Equal(k.Data, e.Data) {
		out = append(out, diff("packet", hexOrEmpty(k.Data), hexOrEmpty(e.Data)))
	}
	if typ, ok := progtype.ByName(c.Spec.Program.Type); ok && typ.Layout() != nil && k.Context != nil {
		for _, f := range typ.Layout().Fields {
			if !f.Write || f.Offset+f.Size > len(k.Context) || f.Offset+f.Size > len(e.Context) {
				continue
			}
			kb, eb := k.Context[f.Offset:f.Offset+f.Size], e.Context[f.Offset:f.Offset+f.Size]
			if !bytes.Equal(kb, eb) {
				out = append(out, diff("context "+f.Name, hex.EncodeToString(kb), hex.EncodeToString(eb)))
			}
		}
	}
	return append(out, compareMaps(c, k, e, diff)...)
}

func compareMaps(c *Case, k, e *Side, diff func(what, kv, ev string) Diff) []Diff {
	var out []Diff
	for _, name := range slices.Sorted(maps.Keys(k.Maps)) {
		ms, ok := c.Spec.Maps[name]
		if !ok || ms.Spec.Type.PerCPU() {
			// The kernel's test run lands on whichever CPU the thread is
			// on; ebpfvm's on virtual CPU 0. Per-CPU slots are not compared.
			continue
		}
		kk, ek := index(k.Maps[name]), index(e.Maps[name])
		for _, key := range slices.Sorted(maps.Keys(union(kk, ek))) {
			kv, kok := kk[key]
			ev, eok := ek[key]
			if kok && eok && bytes.Equal(kv, ev) {
				continue
			}
			if name == c.Out && kok && eok && len(kv) == len(ev) {
				out = append(out, slotDiffs(c.OutSlots, kv, ev, diff)...)
				continue
			}
			out = append(out, diff(fmt.Sprintf("map %s key %s", name, key), present(kv, kok), present(ev, eok)))
		}
	}
	return out
}

// slotDiffs names the differing 8-byte slots of the out map's value.
func slotDiffs(names []string, kv, ev []byte, diff func(what, kv, ev string) Diff) []Diff {
	var out []Diff
	for i := 0; i+8 <= len(kv); i += 8 {
		a, b := binary.LittleEndian.Uint64(kv[i:]), binary.LittleEndian.Uint64(ev[i:])
		if a == b {
			continue
		}
		name := fmt.Sprintf("+%d", i)
		if i/8 < len(names) {
			name = names[i/8]
		}
		out = append(out, diff("out "+name, hex64(a), hex64(b)))
	}
	return out
}

func index(kvs []kernel.KV) map[string][]byte {
	m := make(map[string][]byte, len(kvs))
	for _, kv := range kvs {
		m[hex.EncodeToString(kv.Key)] = kv.Value
	}
	return m
}

func union(a, b map[string][]byte) map[string]bool {
	u := map[string]bool{}
	for k := range a {
		u[k] = true
	}
	for k := range b {
		u[k] = true
	}
	return u
}

func present(v []byte, ok bool) string {
	if !ok {
		return "absent"
	}
	return hexOrEmpty(v)
}

func hexOrEmpty(b []byte) string {
	if len(b) == 0 {
		return "(empty)"
	}
	return hex.EncodeToString(b)
}

func hex64(v uint64) string { return fmt.Sprintf("%#x (%d)", v, int64(v)) }
func hex32(v uint64) string { return fmt.Sprintf("%#x", uint32(v)) }

// CollectionSpec converts a kernel spec to the facade's, returning the
// program's name in it.
func CollectionSpec(s *kernel.Spec) (*ebpfvm.CollectionSpec, string, error) {
	p := s.Program
	typ, ok := progtype.ByName(p.Type)
	if !ok {
		return nil, "", fmt.Errorf("unknown program type %q", p.Type)
	}
	name := p.Name
	if name == "" {
		name = "main"
	}
	cs := &ebpfvm.CollectionSpec{Maps: map[string]*ebpfvm.MapSpec{}, Programs: map[string]*ebpfvm.ProgramSpec{}}
	refs := map[int]ebpfvm.Reference{}
	for i, r := range p.References {
		kind := ebpfvm.RefMap
		if r.Value {
			kind = ebpfvm.RefMapValue
		}
		refs[i] = ebpfvm.Reference{Kind: kind, Map: r.Map, Offset: r.Offset}
	}
	cs.Programs[name] = &ebpfvm.ProgramSpec{Name: name, Type: typ, Instructions: slices.Clone(p.Instructions), References: refs, License: p.License}
	for n, m := range s.Maps {
		ms := &ebpfvm.MapSpec{Spec: *m.Spec.Copy()}
		for _, kv := range m.Contents {
			ms.Contents = append(ms.Contents, ebpfvm.MapKV{Key: bytes.Clone(kv.Key), Value: bytes.Clone(kv.Value)})
		}
		// A frozen map programs may not write is .rodata: constant to the
		// verifier.
		ms.ReadOnly = m.Freeze && m.Spec.Flags&ebpfmaps.FlagRdonlyProg != 0
		cs.Maps[n] = ms
	}
	return cs, name, nil
}

// KernelSpec converts program name of a facade collection spec, with the
// maps it refers to, to a kernel spec. Maps of programs or maps and
// entries naming programs or maps are not supported; read-only maps become
// maps with BPF_F_RDONLY_PROG, frozen after they are filled, as loaders
// create .rodata.
func KernelSpec(cs *ebpfvm.CollectionSpec, name string) (*kernel.Spec, error) {
	ps, ok := cs.Programs[name]
	if !ok {
		return nil, fmt.Errorf("no program %q", name)
	}
	typ := "raw"
	if ps.Type != nil {
		typ = ps.Type.Name()
	}
	p := &kernel.Program{Name: ps.Name, Type: typ, Instructions: slices.Clone(ps.Instructions), License: ps.License, References: map[int]kernel.Reference{}}
	s := &kernel.Spec{Program: p, Maps: map[string]*kernel.Map{}}
	for i, r := range ps.References {
		p.References[i] = kernel.Reference{Map: r.Map, Value: r.Kind == ebpfvm.RefMapValue, Offset: r.Offset}
		if _, done := s.Maps[r.Map]; done {
			continue
		}
		ms, ok := cs.Maps[r.Map]
		if !ok {
			return nil, fmt.Errorf("program %s refers to map %q, which the collection does not have", name, r.Map)
		}
		m := &kernel.Map{Spec: *ms.Spec.Copy()}
		if ms.ReadOnly {
			m.Spec.Flags |= ebpfmaps.FlagRdonlyProg
			m.Freeze = true
		}
		for j, kv := range ms.Contents {
			if kv.Program != "" || kv.Map != "" {
				return nil, fmt.Errorf("map %s: entry %d names a program or a map, which kernel comparisons do not support", r.Map, j)
			}
			m.Contents = append(m.Contents, kernel.KV{Key: bytes.Clone(kv.Key), Value: bytes.Clone(kv.Value)})
		}
		s.Maps[r.Map] = m
	}
	return s, nil
}

// Listing formats a program as `ebpfvm disasm` does, with the map each
// lddw refers to.
func Listing(s *kernel.Spec) string {
	p := s.Program
	var b strings.Builder
	slots := isa.SlotIndex(p.Instructions)
	for i, ins := range p.Instructions {
		fmt.Fprintf(&b, "%d: %s", slots[i], ins)
		if r, ok := p.References[i]; ok {
			if r.Value {
				fmt.Fprintf(&b, "  ; &%s[0] + %d", r.Map, r.Offset)
			} else {
				fmt.Fprintf(&b, "  ; map %s", r.Map)
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}
