package verifier

import (
	"github.com/ebpfvm/ebpfvm/isa"
)

// doCheckMain explores every path of the program from its entry.
func (e *env) doCheckMain() error {
	f := &funcState{callsite: -1}
	e.initRegs(f)
	if e.typ.raw {
		f.regs[1] = pointerReg(ptrToRawMem)
		f.regs[2] = unknownScalar()
	} else {
		f.regs[1] = pointerReg(ptrToCtx)
	}
	st := &vstate{curframe: 0}
	st.frames[0] = f
	e.cur = st
	e.insnIdx = 0
	e.prevInsn = -1
	e.log.scratchAll()
	return e.doCheck()
}

func (e *env) initRegs(f *funcState) {
	for i := range f.regs {
		f.regs[i].markNotInit()
	}
	f.regs[isa.R10] = pointerReg(ptrToStack)
	f.regs[isa.R10].frameno = uint8(f.frameno)
}

// doCheck is the kernel's do_check: it walks the current path instruction
// by instruction, pushing the other side of every undecided branch, until
// every path has reached an exit or a state proven safe before.
func (e *env) doCheck() error {
	printState := false
	for {
		i := e.insnIdx
		if i < 0 || i >= len(e.insns) {
			return e.errorAt(-1, "invalid insn idx %d insn_cnt %d", i, len(e.insns))
		}
		e.processed++
		if e.processed > e.maxProcessed {
			return e.errorf("BPF program is too large. Processed %d insn", e.processed)
		}
		e.cur.insn = i
		endPath := false
		if e.aux[i].prune {
			pruned, err := e.isStateVisited(i)
			if err != nil {
				return err
			}
			if pruned {
				if printState {
					e.log.printf("\nfrom %d to %d: safe\n", e.slotOf(e.prevInsn), e.slot[i])
				} else {
					e.log.printf("%d: safe\n", e.slot[i])
				}
				endPath = true
			}
		}
		if !endPath {
			if e.aux[i].jmpPoint {
				e.histLen++
			}
			if e.log.level >= 2 && printState {
				e.log.printf("\nfrom %d to %d:%s\n", e.slotOf(e.prevInsn), e.slot[i], e.stateString(e.cur, true))
				printState = false
			}
			e.logInsn(i)
			e.aux[i].seen = true
			exit, err := e.doCheckInsn()
			if err != nil {
				return err
			}
			e.prevInsn = i
			if !exit {
				continue
			}
		}
		e.updateBranchCounts(e.cur.parent)
		if !e.popStack() {
			return nil
		}
		printState = true
	}
}

func (e *env) slotOf(i int) int {
	if i < 0 || i >= len(e.insns) {
		return i
	}
	return e.slot[i]
}

// pushStack queues a copy of the current state to be explored from
// instruction insn later.
func (e *env) pushStack(insn, prev int) (*vstate, error) {
	var st *vstate
	if n := len(e.spare); n > 0 {
		st, e.spare = e.spare[n-1], e.spare[:n-1]
	} else {
		st = &vstate{}
	}
	st.copyFrom(e.cur)
	e.stack = append(e.stack, pathElem{st: st, insn: insn, prevInsn: prev, logPos: len(e.log.buf)})
	if len(e.stack) > maxJumpSeq {
		return nil, e.errorf("The sequence of %d jumps is too complex.", len(e.stack))
	}
	if st.parent != nil {
		st.parent.branches++
	}
	return st, nil
}

func (e *env) popStack() bool {
	if len(e.stack) == 0 {
		return false
	}
	el := e.stack[len(e.stack)-1]
	e.stack[len(e.stack)-1] = pathElem{}
	e.stack = e.stack[:len(e.stack)-1]
	// The finished path's state is referenced by nothing else (checkpoints
	// hold copies): its memory serves the next push.
	e.spare = append(e.spare, e.cur)
	e.cur = el.st
	e.insnIdx = el.insn
	e.prevInsn = el.prevInsn
	if e.log.level == 1 {
		// At level 1 the kernel keeps only the path that ends in the
		// rejection: the log of a finished path is dropped.
		e.log.reset(el.logPos)
	}
	e.log.scratchAll()
	return true
}

func (e *env) updateBranchCounts(cp *checkpoint) {
	for cp != nil {
		cp.branches--
		if cp.branches > 0 {
			return
		}
		e.maybeExitSCC(cp)
		cp = cp.parent
	}
}

// doCheckInsn verifies the instruction at e.insnIdx and advances to the
// next one. It reports whether the path ended (exit of the program).
func (e *env) doCheckInsn() (bool, error) {
	i := e.insnIdx
	ins := e.insns[i]
	switch c := ins.Opcode.Class(); c {
	case isa.ClassALU, isa.ClassALU64:
		if err := e.checkALU(ins); err != nil {
			return false, err
		}
	case isa.ClassLDX:
		if err := e.checkLoad(ins); err != nil {
			return false, err
		}
	case isa.ClassSTX:
		var err error
		if ins.Opcode.Mode() == isa.ModeATOMIC {
			err = e.checkAtomic(ins)
		} else {
			err = e.checkStoreReg(ins)
		}
		if err != nil {
			return false, err
		}
	case isa.ClassST:
		if err := e.checkStoreImm(ins); err != nil {
			return false, err
		}
	case isa.ClassLD:
		if ins.IsLDDW() {
			if err := e.checkLdImm(ins); err != nil {
				return false, err
			}
		} else if err := e.checkLdAbs(ins); err != nil {
			return false, err
		}
	default:
		e.jmps++
		switch op := ins.Opcode.JumpOp(); {
		case op == isa.Call:
			if ins.Opcode.Source() == isa.SourceX {
				return false, e.errorf("BPF_CALL uses reserved fields")
			}
			var err error
			if ins.IsLocalCall() {
				err = e.checkFuncCall(i)
			} else {
				err = e.checkHelperCall(ins)
			}
			if err != nil {
				return false, err
			}
			e.log.scratchReg(0)
		case op == isa.JumpA:
			e.insnIdx = e.branchTarget(i)
			return false, nil
		case op == isa.Exit:
			return e.processExit()
		default:
			taken, err := e.checkCondJmp(ins)
			if err != nil {
				return false, err
			}
			if taken {
				e.insnIdx = e.branchTarget(i)
				return false, nil
			}
		}
	}
	e.insnIdx++
	return false, nil
}

// isStateVisited looks for a saved state at instruction i that includes
// the current one (the current path can then stop) and otherwise may save
// the current state as a new checkpoint (the kernel's is_state_visited).
func (e *env) isStateVisited(i int) (bool, error) {
	cur := e.cur
	force := e.aux[i].forceCheckpoint || e.histLen > 40
	add := force
	if e.jmps-e.prevJmps >= 2 && e.processed-e.prevProc >= 8 {
		add = true
	}
	list := e.explored[i]
	n := 0
	for _, cp := range list {
		keep := true
		if cp.branches > 0 {
			if e.aux[i].mayGoto && cp.st.mayGotoDepth != cur.mayGotoDepth && e.statesEqual(cp.st, cur, rangeWithinLevel) {
				cp.hit++
				e.addSCCBackedge(cp)
				return true, nil
			}
			if e.aux[i].callsCallback {
				if e.statesEqual(cp.st, cur, rangeWithinLevel) {
					cp.hit++
					e.addSCCBackedge(cp)
					return true, nil
				}
			} else if statesMaybeLooping(cp.st, cur) && e.statesEqual(cp.st, cur, exactLevel) &&
				cp.st.mayGotoDepth == cur.mayGotoDepth && cp.st.callbackUnrollDepth == cur.callbackUnrollDepth {
				e.log.printf("infinite loop detected at insn %d\n", e.slot[i])
				e.log.printf("cur state:%s\n", e.stateString(cur, true))
				e.log.printf("old state:%s\n", e.stateString(cp.st, true))
				return false, &Error{Insn: e.slot[i], Msg: "infinite loop detected at insn " + itoa(e.slot[i])}
			}
			if !force && e.jmps-e.prevJmps < 20 && e.processed-e.prevProc < 100 {
				add = false
			}
		} else {
			loop := e.incompleteLoop(cp.st)
			ex := notExactLevel
			if loop {
				ex = rangeWithinLevel
			}
			if e.statesEqual(cp.st, cur, ex) {
				cp.hit++
				if loop {
					e.addSCCBackedge(cp)
				}
				return true, nil
			}
		}
		if add {
			cp.miss++
		}
		limit := 3
		if force && cp.branches > 0 {
			limit = 64
		}
		if cp.miss > cp.hit*limit+limit {
			// Unlikely to prune anything: forget it (it stays alive as
			// long as descendants refer to it).
			keep = false
			e.curStates--
		}
		if keep {
			list[n] = cp
			n++
		}
	}
	clear(list[n:])
	list = list[:n]
	e.explored[i] = list
	e.maxPerInsn = max(e.maxPerInsn, len(list))
	if !e.bpfCapable && len(list) > 64 {
		return false, nil
	}
	if !add {
		return false, nil
	}
	e.totalStates++
	e.curStates++
	e.peakStates = max(e.peakStates, e.curStates)
	e.prevJmps, e.prevProc = e.jmps, e.processed
	e.histLen = 0
	cp := &checkpoint{st: cur.clone(), parent: cur.parent, branches: 1}
	e.maybeEnterSCC(cp)
	cur.parent = cp
	e.explored[i] = append([]*checkpoint{cp}, list...)
	return false, nil
}

func itoa(v int) string {
	return fmtSnum(int64(v))
}

type exactness uint8

const (
	notExactLevel exactness = iota
	exactLevel
	rangeWithinLevel
)

// idmap checks that registers sharing an id in the old state share one in
// the current state too (the kernel's check_ids).
type idmap struct {
	pairs  [][2]uint32
	tmpGen uint32
}

func (m *idmap) check(old, cur uint32) bool {
	if (old == 0) != (cur == 0) {
		return false
	}
	if old == 0 {
		return true
	}
	for _, p := range m.pairs {
		if p[0] == old {
			return p[1] == cur
		}
		if p[1] == cur {
			return false
		}
	}
	m.pairs = append(m.pairs, [2]uint32{old, cur})
	return true
}

func (m *idmap) checkScalar(old, cur uint32) bool {
	// An old register with no id relied on no link: any link in the
	// current one only adds knowledge.
	if old == 0 {
		return true
	}
	if cur == 0 {
		m.tmpGen++
		cur = m.tmpGen
	}
	if !m.check(old, cur) {
		return false
	}
	// A derived id must map consistently with its base.
	if old&idAddConst != 0 {
		return m.check(old&^idAddConst, cur&^idAddConst)
	}
	return true
}

// sameValue compares every field but the ids (the kernel's memcmp up to
// the id field).
func sameValue(a, b *reg) bool {
	x, y := *a, *b
	x.id, y.id, x.refObj, y.refObj, x.frameno, y.frameno = 0, 0, 0, 0, 0, 0
	return x == y
}

func regsExact(old, cur *reg, m *idmap) bool {
	return sameValue(old, cur) && m.check(old.id, cur.id) && m.check(old.refObj, cur.refObj)
}

// regsafe reports whether every program continuation that was safe with
// old is safe with cur.
func regsafe(old, cur *reg, m *idmap, ex exactness) bool {
	if ex == exactLevel {
		return regsExact(old, cur, m)
	}
	if old.typ == notInit && (ex == notExactLevel || cur.typ == notInit) {
		return true
	}
	if old.typ != cur.typ || old.flags != cur.flags {
		return false
	}
	switch old.typ {
	case scalarValue:
		switch {
		case old.id&idAddConst != 0 && cur.id&idAddConst == 0,
			old.id != 0 && old.id&idAddConst == 0 && cur.id&idAddConst != 0:
			return false
		case old.id&idAddConst != 0 && (old.id&idAddConst != cur.id&idAddConst || old.off != cur.off):
			return false
		}
		return m.checkScalar(old.id, cur.id) && rangeWithin(old, cur) && tnumIn(old.varOff, cur.varOff)
	case ptrToMapKey, ptrToMapValue, ptrToMem, ptrToRawMem:
		return old.off == cur.off && old.mapIdx == cur.mapIdx && old.memSize == cur.memSize &&
			rangeWithin(old, cur) && tnumIn(old.varOff, cur.varOff) &&
			m.check(old.id, cur.id) && m.check(old.refObj, cur.refObj)
	case ptrToPacket, ptrToPacketMeta:
		if old.rng > cur.rng || old.off != cur.off || !m.check(old.id, cur.id) {
			return false
		}
		return rangeWithin(old, cur) && tnumIn(old.varOff, cur.varOff)
	case ptrToStack:
		return regsExact(old, cur, m) && old.frameno == cur.frameno
	}
	return regsExact(old, cur, m)
}

var unboundReg = unknownScalar()

// scalarForStack returns the scalar a slot holds when it is read whole: a
// spilled 64-bit scalar, or an unknown one for initialised data.
func (e *env) scalarForStack(s *stackSlot) *reg {
	if s.isSpilledScalar64() {
		return &s.spill
	}
	for _, t := range s.types {
		if t != stackMisc && !(t == stackInvalid && e.allowUninitStack) {
			return nil
		}
	}
	return &unboundReg
}

func (e *env) stacksafe(old, cur *funcState, m *idmap, ex exactness) bool {
	for i := 0; i < len(old.stack)*regSize; i++ {
		spi, j := i/regSize, i%regSize
		ot := old.stack[spi].types[j]
		if ex != notExactLevel && (spi >= len(cur.stack) || ot != cur.stack[spi].types[j]) {
			return false
		}
		if ot == stackInvalid {
			continue
		}
		if e.allowUninitStack && ot == stackMisc {
			continue
		}
		if spi >= len(cur.stack) {
			return false
		}
		ct := cur.stack[spi].types[j]
		or, cr := e.scalarForStack(&old.stack[spi]), e.scalarForStack(&cur.stack[spi])
		if or != nil && cr != nil {
			if !regsafe(or, cr, m, ex) {
				return false
			}
			i += regSize - 1 - j
			continue
		}
		if ot == stackMisc && ct == stackZero {
			continue
		}
		if ot != ct {
			return false
		}
		if j != regSize-1 {
			continue
		}
		if old.stack[spi].types[regSize-1] == stackSpill &&
			!regsafe(&old.stack[spi].spill, &cur.stack[spi].spill, m, ex) {
			return false
		}
	}
	return true
}

func (e *env) funcStatesEqual(old, cur *funcState, insn int, m *idmap, ex exactness) bool {
	if old.callbackDepth > cur.callbackDepth {
		return false
	}
	live := e.aux[insn].liveRegs
	for r := range numRegs {
		if live&(1<<r) != 0 && !regsafe(&old.regs[r], &cur.regs[r], m, ex) {
			return false
		}
	}
	return e.stacksafe(old, cur, m, ex)
}

func (e *env) statesEqual(old, cur *vstate, ex exactness) bool {
	if old.curframe != cur.curframe {
		return false
	}
	var m idmap
	m.tmpGen = e.idGen
	if len(old.refs) != len(cur.refs) {
		return false
	}
	for k := range old.refs {
		if !m.check(old.refs[k].id, cur.refs[k].id) {
			return false
		}
	}
	for fr := 0; fr <= old.curframe; fr++ {
		if old.frames[fr].callsite != cur.frames[fr].callsite {
			return false
		}
		if !e.funcStatesEqual(old.frames[fr], cur.frames[fr], old.frameInsn(fr), &m, ex) {
			return false
		}
	}
	return true
}

// statesMaybeLooping is a cheap pre-check of the infinite-loop test: the
// registers of the current frame are identical.
func statesMaybeLooping(old, cur *vstate) bool {
	if old.curframe != cur.curframe {
		return false
	}
	fo, fc := old.cur(), cur.cur()
	for r := range numRegs {
		if fo.regs[r] != fc.regs[r] {
			return false
		}
	}
	return true
}
