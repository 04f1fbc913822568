package ebpfvm

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/ebpfvm/ebpfvm/helpers"
	"github.com/ebpfvm/ebpfvm/interp"
	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/progtype"
	"github.com/ebpfvm/ebpfvm/verifier"
	"github.com/ebpfvm/ebpfvm/vm"
)

// Program is a loaded program. It is safe for concurrent use: each run gets
// its own stack, context and packet; maps are shared.
type Program struct {
	name   string
	spec   *ProgramSpec
	typ    progtype.Type
	prog   *vm.Program
	interp *interp.Interpreter
	engine Engine
	coll   *Collection
	pool   machinePool
	// verified is what the verifier proved, nil without verification.
	verified *verifier.Result
}

// load prepares one program of the collection.
func (c *Collection) load(spec *ProgramSpec, reg *helpers.Registry, engine Engine) (*Program, error) {
	typ := spec.typ()
	if typ == nil {
		return nil, &SpecError{Program: spec.Name, Insn: -1, Err: fmt.Errorf("programs of kernel type %s can be verified and disassembled, not run; set ProgramSpec.Type to run one", spec.KernelType)}
	}
	if err := checkStructure(spec); err != nil {
		return nil, err
	}
	// Calls to helpers the type does not allow, or the registry does not
	// have, are found here rather than when a run reaches them.
	for i, ins := range spec.Instructions {
		if !ins.IsHelperCall() {
			continue
		}
		id := int32(ins.Imm)
		if _, ok := reg.Lookup(id); !ok {
			return nil, &SpecError{Program: spec.Name, Insn: i, Err: fmt.Errorf("unknown helper %d", id)}
		}
		if !typ.HelperAllowed(id) {
			return nil, &SpecError{Program: spec.Name, Insn: i, Err: fmt.Errorf("program type %s may not call %s#%d", typ.Name(), reg.Name(id), id)}
		}
	}
	p, err := vm.NewProgram(spec.Instructions, vm.ProgramOptions{
		Name:    spec.Name,
		Helpers: reg.Table(typ.HelperAllowed),
		Space:   c.space,
		Resolve: func(ins isa.Instruction, index int) (uint64, error) { return c.resolve(spec, ins, index) },
		Meta:    typ,
		Inline:  reg.Inline(),
	})
	if err != nil {
		var pe *vm.ProgramError
		if errors.As(err, &pe) {
			return nil, &SpecError{Program: spec.Name, Insn: pe.Insn, Err: errors.New(pe.Reason)}
		}
		return nil, &SpecError{Program: spec.Name, Insn: -1, Err: err}
	}
	verified, err := c.verifyProgram(spec, typ, reg)
	if err != nil {
		return nil, err
	}
	prog := &Program{name: spec.Name, spec: spec.Copy(), typ: typ, prog: p, engine: EngineInterp, coll: c, verified: verified}
	prog.interp = engineFor(p, engine)
	return prog, nil
}

// checkStructure checks what can be checked without the verifier: valid
// encodings, jump targets inside the program and not into a lddw, and a last
// instruction that does not fall through.
func checkStructure(spec *ProgramSpec) error {
	insns := spec.Instructions
	if len(insns) == 0 {
		return &SpecError{Program: spec.Name, Insn: -1, Err: errors.New("no instructions")}
	}
	slots := isa.SlotIndex(insns)
	n := slots[len(insns)]
	starts := make([]bool, n+1)
	for i := range insns {
		starts[slots[i]] = true
	}
	for i, ins := range insns {
		if err := ins.Validate(); err != nil {
			return &SpecError{Program: spec.Name, Insn: slots[i], Err: err}
		}
		target := -1
		switch {
		case ins.IsBranch():
			target = slots[i] + 1 + int(ins.BranchOffset())
		case ins.IsLocalCall():
			target = slots[i] + 1 + int(int32(ins.Imm))
		case ins.IsLDDW() && ins.Src == isa.PseudoFunc:
			target = slots[i] + 1 + int(int32(ins.Imm))
		}
		if target != -1 && (target < 0 || target >= n || !starts[target]) {
			return &SpecError{Program: spec.Name, Insn: slots[i], Err: fmt.Errorf("jump to slot %d, which is not an instruction of the program", target)}
		}
	}
	last := insns[len(insns)-1]
	if !last.IsExit() && !last.IsUnconditionalJump() {
		return &SpecError{Program: spec.Name, Insn: slots[len(insns)-1], Err: errors.New("the last instruction falls off the end of the program")}
	}
	return nil
}

// Name returns the program's name.
func (p *Program) Name() string { return p.name }

// Type returns the program's type.
func (p *Program) Type() progtype.Type { return p.typ }

// Engine returns the engine the program runs on.
func (p *Program) Engine() Engine { return p.engine }

// Instructions returns the program's instructions (a copy).
func (p *Program) Instructions() []isa.Instruction { return p.spec.Copy().Instructions }

// VMProgram returns the prepared program, for engines and tail calls.
func (p *Program) VMProgram() *vm.Program { return p.prog }

// RunOptions configures a run.
type RunOptions struct {
	// Data is the input memory (raw) or the packet (socket_filter, xdp,
	// hooks with a data buffer). The program works on a copy.
	Data []byte
	// Context sets context fields, in the layout's byte form.
	Context []byte
	// Budget bounds the instructions the run may execute; 0 means
	// vm.DefaultBudget.
	Budget uint64
	// Context, if set, cancels the run.
	Ctx context.Context
	// CPU pins the run to a virtual CPU; -1 or 0 with AutoCPU picks a free
	// one.
	CPU int
	// AnyCPU picks a free virtual CPU (the default for Run and Test).
	AnyCPU bool
}

// Result is the outcome of a run.
type Result struct {
	R0 uint64
	// Data is the memory or packet after the run.
	Data []byte
	// Context is the context after the run (its writable fields may have
	// changed), nil for raw programs.
	Context []byte
	// Executed is the number of instructions the run executed.
	Executed uint64
	// Redirect is the interface index bpf_redirect named, if Redirected.
	Redirect   uint32
	Redirected bool
}

// Execute runs the program once and returns its full result. A run that
// faults returns the *vm.Fault as error, along with what the result holds
// (the instruction count, the data as it was).
func (p *Program) Execute(opts *RunOptions) (*Result, error) {
	res := &Result{}
	err := p.execute(opts, res, true)
	return res, err
}

// execute runs the program and fills res; with copyOut it copies the data
// and context out of the machine's buffers, which the next run reuses.
func (p *Program) execute(opts *RunOptions, res *Result, copyOut bool) error {
	if opts == nil {
		opts = &RunOptions{AnyCPU: true}
	}
	if p.coll.closed.Load() {
		return errors.New("ebpfvm: the program's collection is closed")
	}
	cpu := opts.CPU
	if opts.AnyCPU || cpu < 0 {
		cpu = p.coll.acquireCPU()
		defer p.coll.releaseCPU(cpu)
	} else if cpu >= p.coll.ncpu {
		return fmt.Errorf("ebpfvm: cpu %d, but the collection has %d", cpu, p.coll.ncpu)
	}
	r := p.pool.get(p.coll.space)
	defer p.pool.put(r)
	m := r.m
	m.Reset()
	if opts.Budget > 0 {
		m.Budget = opts.Budget
	}
	m.Ctx = opts.Ctx
	m.CPU = cpu
	m.Env = p.coll.env
	r.in = progtype.Input{Data: opts.Data, Context: opts.Context}
	run, err := p.typ.Setup(m, &r.in)
	r.in = progtype.Input{}
	if err != nil {
		return err
	}
	r0, err := p.interp.Run(m, run.Args[:]...)
	res.R0, res.Executed = r0, m.Executed
	res.Redirect, res.Redirected = helpers.RedirectTarget(m)
	if copyOut {
		res.Data = bytes.Clone(run.Data())
		if c := run.Context(); c != nil {
			res.Context = bytes.Clone(c)
		}
	}
	return err
}

// Run runs the program once over opts and returns r0, like cilium/ebpf's
// Program.Run.
func (p *Program) Run(opts *RunOptions) (uint64, error) {
	var res Result
	err := p.execute(opts, &res, false)
	return res.R0, err
}

// Test runs the program once over data (the input memory or packet) and
// returns r0 and the data after the run, like cilium/ebpf's Program.Test.
func (p *Program) Test(data []byte) (uint64, []byte, error) {
	res, err := p.Execute(&RunOptions{Data: data, AnyCPU: true})
	return res.R0, res.Data, err
}
