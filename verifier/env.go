package verifier

import (
	"fmt"
	"sync"

	"github.com/ebpfvm/ebpfvm/helpers"
	"github.com/ebpfvm/ebpfvm/isa"
)

// insnAux is what the verifier records about one instruction.
type insnAux struct {
	prune           bool // a state may be saved or pruned here
	jmpPoint        bool
	forceCheckpoint bool
	callsCallback   bool
	mayGoto         bool
	liveRegs        uint16 // registers live before the instruction
	scc             int32  // loop component, 0 outside loops
	seen            bool
	// ptrType is the pointer type a load or store first used; the kernel
	// rejects an instruction used with a context pointer on one path and
	// another pointer on another, because it rewrites context accesses.
	ptrType    regType
	ptrTypeSet bool
	// aluState and aluLimit record the pointer arithmetic an unprivileged
	// program did at this instruction (the kernel's Spectre masking state);
	// paths must agree on them.
	aluState uint32
	aluLimit uint32
	fact     Fact
}

type subprog struct {
	start       int // instruction index
	stackDepth  int // bytes, a multiple of 8
	hasTailCall bool
	hasLdAbs    bool
	isCallback  bool
}

type env struct {
	prog  *Program
	opts  *Options
	insns []isa.Instruction
	slot  []int // slot of each instruction, plus the total
	at    []int // instruction of each slot, -1 for a lddw's second slot
	typ   typeInfo
	reg   *helpers.Registry

	// Privileges, as the kernel's env flags of the same names.
	allowPtrLeaks    bool
	allowUninitStack bool
	bypassSpecV1     bool
	bpfCapable       bool

	maps    []*Map
	insnMap []int32 // map of each lddw instruction, -1 if none
	mapOff  []int32 // offset of a map value lddw

	subprogs []subprog
	aux      []insnAux

	idGen     uint32
	cur       *vstate
	insnIdx   int
	prevInsn  int
	stack     []pathElem
	spare     []*vstate // states of finished paths, reused by pushStack
	explored  [][]*checkpoint
	sccVisits map[sccKey]*sccVisit
	processed int
	jmps      int
	prevProc  int
	prevJmps  int
	// histLen counts jump points passed since the last checkpoint (the
	// kernel's jmp_history_cnt, which forces a checkpoint past 40).
	histLen int

	totalStates  int
	peakStates   int
	curStates    int
	maxPerInsn   int
	maxProcessed int

	log logger
}

type pathElem struct {
	st       *vstate
	insn     int
	prevInsn int
	logPos   int
}

// checkpoint is a saved state at an instruction. branches counts the paths
// still being explored below it; once it is 0 the state has been proven
// safe and prunes equivalent states reaching the same instruction.
type checkpoint struct {
	st       *vstate
	parent   *checkpoint
	branches int
	hit      int
	miss     int
}

func newEnv(prog *Program, opts *Options) (*env, error) {
	e := &env{prog: prog, opts: opts, insns: prog.Instructions, insnIdx: -1}
	e.log.level = opts.LogLevel
	if len(e.insns) == 0 {
		return nil, &Error{Insn: -1, Msg: "the program has no instructions"}
	}
	priv := !opts.Unprivileged
	e.allowPtrLeaks, e.allowUninitStack, e.bypassSpecV1, e.bpfCapable = priv, priv, priv, priv
	e.maxProcessed = opts.MaxProcessed
	if e.maxProcessed <= 0 {
		e.maxProcessed = DefaultMaxProcessed
	}
	e.slot = isa.SlotIndex(e.insns)
	n := e.slot[len(e.insns)]
	e.at = make([]int, n)
	for i := range e.at {
		e.at[i] = -1
	}
	for i := range e.insns {
		e.at[e.slot[i]] = i
	}
	limit := DefaultMaxProcessed
	if !priv {
		limit = maxUnprivInsns
	}
	if n > limit {
		return nil, &Error{Insn: -1, Msg: fmt.Sprintf("BPF program is too large: %d instructions, the limit is %d", n, limit)}
	}
	e.typ = newTypeInfo(prog.Type)
	e.reg = prog.Helpers
	if e.reg == nil {
		e.reg = standardHelpers()
	}
	e.aux = make([]insnAux, len(e.insns))
	e.explored = make([][]*checkpoint, len(e.insns))
	e.insnMap = make([]int32, len(e.insns))
	e.mapOff = make([]int32, len(e.insns))
	return e, nil
}

// curSlot is the slot of the instruction being verified, or -1.
func (e *env) curSlot() int {
	if e.insnIdx < 0 || e.insnIdx >= len(e.insns) {
		return -1
	}
	return e.slot[e.insnIdx]
}

// errorf rejects the program at the current instruction, logging the
// message as the kernel does.
func (e *env) errorf(format string, args ...any) error {
	return e.errorAt(e.curSlot(), format, args...)
}

func (e *env) errorAt(slot int, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	e.log.printf("%s\n", msg)
	return &Error{Insn: slot, Msg: msg}
}

// branchTarget is the instruction a branch at instruction i goes to, or -1
// if the target is not the first slot of an instruction.
func (e *env) branchTarget(i int) int {
	return e.slotInsn(e.slot[i] + 1 + int(e.insns[i].BranchOffset()))
}

// callTarget is the instruction a local call or a function-pointer lddw at
// instruction i refers to, or -1.
func (e *env) callTarget(i int) int {
	return e.slotInsn(e.slot[i] + 1 + int(int32(e.insns[i].Imm)))
}

func (e *env) slotInsn(s int) int {
	if s < 0 || s >= len(e.at) {
		return -1
	}
	return e.at[s]
}

func (e *env) newID() uint32 {
	e.idGen++
	return e.idGen
}

func (e *env) findSubprog(i int) int {
	for s := range e.subprogs {
		if e.subprogs[s].start == i {
			return s
		}
	}
	return -1
}

// run performs the kernel's passes in its order.
func (e *env) run() error {
	if err := e.checkEncodings(); err != nil {
		return err
	}
	if err := e.resolveLdImm64(); err != nil {
		return err
	}
	if err := e.addSubprogs(); err != nil {
		return err
	}
	if err := e.checkSubprogs(); err != nil {
		return err
	}
	if err := e.checkCFG(); err != nil {
		return err
	}
	e.computeLiveRegs()
	e.computeSCC()
	e.sccVisits = map[sccKey]*sccVisit{}
	if err := e.doCheckMain(); err != nil {
		return err
	}
	return e.checkMaxStackDepth()
}

// standardHelpers is the registry a program without its own is checked
// against. The verifier only reads it, so one is built for all: building
// it took most of the time of verifying a small program.
var standardHelpers = sync.OnceValue(helpers.Standard)
