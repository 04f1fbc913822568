package verifier

import (
	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/maps"
)

// checkEncodings rejects instructions that are not valid encodings, and
// those the kernel's verifier refuses before exploring any path.
func (e *env) checkEncodings() error {
	for i, ins := range e.insns {
		if err := ins.Validate(); err != nil {
			return e.errorAt(e.slot[i], "invalid instruction: %v", err)
		}
		if ins.IsKfuncCall() {
			return e.errorAt(e.slot[i], "kernel function calls are not supported (BTF id %d)", ins.Imm)
		}
	}
	return nil
}

// resolveLdImm64 binds the lddw instructions with a map pseudo source to
// their maps (the kernel's resolve_pseudo_ldimm64).
func (e *env) resolveLdImm64() error {
	index := map[*Map]int32{}
	for i, ins := range e.insns {
		e.insnMap[i] = -1
		if !ins.IsLDDW() {
			continue
		}
		switch ins.Src {
		case isa.PseudoNone, isa.PseudoFunc:
			continue
		case isa.PseudoMapFD, isa.PseudoMapIdx, isa.PseudoMapValue, isa.PseudoMapIdxValue:
		case isa.PseudoBTFID:
			return e.errorAt(e.slot[i], "ldimm64 insn specifies invalid btf_id %d.", ins.Imm32())
		default:
			return e.errorAt(e.slot[i], "unrecognized bpf_ld_imm64 insn")
		}
		ref, ok := e.prog.Refs[i]
		if !ok || ref.Map == nil {
			return e.errorAt(e.slot[i], "fd %d is not pointing to valid bpf_map", ins.Imm32())
		}
		m := ref.Map
		idx, ok := index[m]
		if !ok {
			idx = int32(len(e.maps))
			index[m] = idx
			e.maps = append(e.maps, m)
		}
		e.insnMap[i] = idx
		if ins.Src == isa.PseudoMapValue || ins.Src == isa.PseudoMapIdxValue {
			off := ref.Offset
			if off == 0 {
				off = int32(uint64(ins.Imm) >> 32)
			}
			if uint32(off) >= maxVarOff {
				return e.errorAt(e.slot[i], "direct value offset of %d is not allowed", uint32(off))
			}
			if m.Type != maps.Array {
				return e.errorAt(e.slot[i], "no direct value access support for this map type")
			}
			if m.MaxEntries != 1 || uint32(off) >= m.ValueSize {
				return e.errorAt(e.slot[i], "invalid access to map value pointer, value_size=%d off=%d", m.ValueSize, uint32(off))
			}
			e.mapOff[i] = off
		}
	}
	return nil
}

// addSubprogs finds the subprograms: the entry and every target of a
// bpf-to-bpf call or of a function pointer.
func (e *env) addSubprogs() error {
	starts := map[int]bool{0: true}
	for i, ins := range e.insns {
		local := ins.IsLocalCall() || (ins.IsLDDW() && ins.Src == isa.PseudoFunc)
		if !local {
			continue
		}
		if !e.bpfCapable {
			return e.errorAt(e.slot[i], "loading/calling other bpf or kernel functions are allowed for CAP_BPF and CAP_SYS_ADMIN")
		}
		t := e.callTarget(i)
		if t < 0 {
			return e.errorAt(e.slot[i], "call to invalid destination")
		}
		starts[t] = true
	}
	for i := range e.insns {
		if starts[i] {
			e.subprogs = append(e.subprogs, subprog{start: i})
		}
	}
	if e.log.level >= 2 {
		for s, sp := range e.subprogs {
			e.log.printf("func#%d @%d\n", s, e.slot[sp.start])
		}
	}
	return nil
}

// checkSubprogs checks that jumps stay inside their subprogram and that no
// subprogram falls through into the next one.
func (e *env) checkSubprogs() error {
	for s := range e.subprogs {
		start := e.subprogs[s].start
		end := len(e.insns)
		if s+1 < len(e.subprogs) {
			end = e.subprogs[s+1].start
		}
		for i := start; i < end; i++ {
			ins := e.insns[i]
			if ins.IsHelperCall() && ins.Imm == idTailCall {
				e.subprogs[s].hasTailCall = true
			}
			if ins.Opcode.Class() == isa.ClassLD && (ins.Opcode.Mode() == isa.ModeABS || ins.Opcode.Mode() == isa.ModeIND) {
				e.subprogs[s].hasLdAbs = true
			}
			if ins.IsBranch() {
				off := e.slot[i] + 1 + int(ins.BranchOffset())
				if off < e.slot[start] || off >= e.slot[end] {
					return e.errorAt(e.slot[i], "jump out of range from insn %d to %d", e.slot[i], off)
				}
			}
		}
		last := e.insns[end-1]
		if !last.IsExit() && !last.IsUnconditionalJump() {
			return e.errorAt(e.slot[end-1], "last insn is not an exit or jmp")
		}
	}
	return nil
}

// idTailCall is bpf_tail_call.
const idTailCall = 12

// Edge labels and vertex states of the kernel's check_cfg depth-first
// search.
const (
	cfgDiscovered  = 0x10
	cfgExplored    = 0x20
	cfgFallthrough = 1
	cfgBranch      = 2
)

// checkCFG walks the control-flow graph depth first as the kernel does,
// marking prune points and rejecting back-edges (for unprivileged
// loaders), unreachable instructions and jumps into a lddw.
func (e *env) checkCFG() error {
	n := len(e.at)
	state := make([]uint8, n)
	stack := make([]int, 0, 64)
	state[0] = cfgDiscovered
	stack = append(stack, 0)

	// push is the kernel's push_insn: t's edge e to w. It returns true
	// when w was pushed and must be explored first.
	push := func(t, w int, edge uint8) (bool, error) {
		if edge == cfgFallthrough && state[t] >= cfgDiscovered|cfgFallthrough {
			return false, nil
		}
		if edge == cfgBranch && state[t] >= cfgDiscovered|cfgBranch {
			return false, nil
		}
		if w < 0 || w >= n {
			return false, e.errorAt(t, "jump out of range from insn %d to %d", t, w)
		}
		if edge == cfgBranch {
			e.markPrune(w)
			e.markJmpPoint(w)
		}
		switch {
		case state[w] == 0:
			state[t] = cfgDiscovered | edge
			state[w] = cfgDiscovered
			stack = append(stack, w)
			return true, nil
		case state[w]&0xf0 == cfgDiscovered:
			if e.bpfCapable {
				return false, nil
			}
			return false, e.errorAt(t, "back-edge from insn %d to %d", t, w)
		default:
			state[t] = cfgDiscovered | edge
		}
		return false, nil
	}
	// callEdges is visit_func_call_insn.
	callEdges := func(t, size int, callee int) (bool, error) {
		if pushed, err := push(t, t+size, cfgFallthrough); pushed || err != nil {
			return pushed, err
		}
		e.markPrune(t + size)
		e.markJmpPoint(t + size)
		if callee >= 0 {
			e.markPrune(t)
			return push(t, callee, cfgBranch)
		}
		return false, nil
	}
	visit := func(t int) (bool, error) {
		i := e.at[t]
		if i < 0 {
			// The second slot of a lddw, reached by a jump.
			return push(t, t+1, cfgFallthrough)
		}
		ins := e.insns[i]
		if ins.IsLDDW() && ins.Src == isa.PseudoFunc {
			return callEdges(t, 2, e.slot[i]+1+int(int32(ins.Imm)))
		}
		c := ins.Opcode.Class()
		if !c.IsJump() {
			return push(t, t+ins.Slots(), cfgFallthrough)
		}
		switch op := ins.Opcode.JumpOp(); {
		case op == isa.Exit:
			return false, nil
		case op == isa.Call:
			if ins.IsHelperCall() && isCallbackHelper(int32(ins.Imm)) {
				e.aux[i].callsCallback = true
				e.aux[i].forceCheckpoint = true
				e.markPrune(t)
				e.markJmpPoint(t)
			}
			callee := -1
			if ins.IsLocalCall() {
				callee = e.slot[i] + 1 + int(int32(ins.Imm))
			}
			return callEdges(t, 1, callee)
		case op == isa.JumpA:
			w := t + 1 + int(ins.BranchOffset())
			if pushed, err := push(t, w, cfgFallthrough); pushed || err != nil {
				return pushed, err
			}
			e.markPrune(w)
			e.markJmpPoint(w)
			return false, nil
		default:
			e.markPrune(t)
			if ins.Opcode == isa.OpMayGoto {
				e.aux[i].forceCheckpoint = true
				e.aux[i].mayGoto = true
			}
			if pushed, err := push(t, t+1, cfgFallthrough); pushed || err != nil {
				return pushed, err
			}
			return push(t, t+1+int(ins.BranchOffset()), cfgBranch)
		}
	}
	for len(stack) > 0 {
		t := stack[len(stack)-1]
		pushed, err := visit(t)
		if err != nil {
			return err
		}
		if !pushed {
			state[t] = cfgExplored
			stack = stack[:len(stack)-1]
		}
	}
	for i := range e.insns {
		t := e.slot[i]
		if state[t] != cfgExplored {
			return e.errorAt(t, "unreachable insn %d", t)
		}
		if e.insns[i].IsLDDW() && state[t+1] != 0 {
			return e.errorAt(t, "jump into the middle of ldimm64 insn %d", t)
		}
	}
	return nil
}

func (e *env) markPrune(slot int) {
	if i := e.slotInsn(slot); i >= 0 {
		e.aux[i].prune = true
	}
}

func (e *env) markJmpPoint(slot int) {
	if i := e.slotInsn(slot); i >= 0 {
		e.aux[i].jmpPoint = true
	}
}

// isCallbackHelper reports the helpers that call a program function
// synchronously: bpf_loop and bpf_for_each_map_elem (and the kernel's
// find_vma and user_ringbuf_drain).
func isCallbackHelper(id int32) bool {
	return id == 164 || id == 181 || id == 180 || id == 209
}

// useDef returns the registers an instruction reads and writes, for the
// liveness analysis.
func (e *env) useDef(ins isa.Instruction) (use, def uint16) {
	const r0to5 = 0x3f
	bit := func(r isa.Register) uint16 { return 1 << r }
	switch c := ins.Opcode.Class(); c {
	case isa.ClassALU, isa.ClassALU64:
		switch ins.Opcode.ALUOp() {
		case isa.ALUMov:
			if ins.Opcode.Source() == isa.SourceX {
				use = bit(ins.Src)
			}
		case isa.ALUNeg, isa.ALUEnd:
			use = bit(ins.Dst)
		default:
			use = bit(ins.Dst)
			if ins.Opcode.Source() == isa.SourceX {
				use |= bit(ins.Src)
			}
		}
		def = bit(ins.Dst)
	case isa.ClassLDX:
		use, def = bit(ins.Src), bit(ins.Dst)
	case isa.ClassST:
		use = bit(ins.Dst)
	case isa.ClassSTX:
		use = bit(ins.Dst) | bit(ins.Src)
		if ins.Opcode.Mode() == isa.ModeATOMIC {
			switch {
			case ins.Imm == isa.AtomicCmpXchg:
				use |= 1
				def = 1
			case ins.Imm&isa.AtomicFetch != 0:
				def = bit(ins.Src)
			}
		}
	case isa.ClassLD:
		switch ins.Opcode.Mode() {
		case isa.ModeIMM:
			def = bit(ins.Dst)
		case isa.ModeIND:
			use, def = 1<<6|bit(ins.Src), r0to5
		default:
			use, def = 1<<6, r0to5
		}
	default:
		switch op := ins.Opcode.JumpOp(); op {
		case isa.JumpA, isa.JumpCond:
		case isa.Exit:
			use = 1
		case isa.Call:
			def = r0to5
			use = 0x3e
			if ins.IsHelperCall() {
				if p := e.helperProto(int32(ins.Imm)); p != nil {
					use = uint16(1<<(p.NumArgs()+1)-1) &^ 1
				}
			}
		default:
			use = bit(ins.Dst)
			if ins.Opcode.Source() == isa.SourceX {
				use |= bit(ins.Src)
			}
		}
	}
	return use, def
}

// computeLiveRegs computes, for each instruction, the registers that some
// path from it reads before writing (the kernel's compute_live_registers).
// States are compared only on live registers.
func (e *env) computeLiveRegs() {
	n := len(e.insns)
	use := make([]uint16, n)
	def := make([]uint16, n)
	succ := make([][2]int, n)
	for i, ins := range e.insns {
		use[i], def[i] = e.useDef(ins)
		succ[i] = [2]int{-1, -1}
		switch {
		case ins.IsExit():
		case ins.IsUnconditionalJump():
			succ[i][0] = e.branchTarget(i)
		case ins.IsBranch():
			succ[i] = [2]int{i + 1, e.branchTarget(i)}
		default:
			succ[i][0] = i + 1
		}
	}
	live := make([]uint16, n)
	for changed := true; changed; {
		changed = false
		for i := n - 1; i >= 0; i-- {
			var out uint16
			for _, s := range succ[i] {
				if s >= 0 && s < n {
					out |= live[s]
				}
			}
			in := use[i] | out&^def[i]
			if in != live[i] {
				live[i] = in
				changed = true
			}
		}
	}
	for i := range e.aux {
		e.aux[i].liveRegs = live[i] | 1<<isa.R10
	}
	if e.log.level >= 2 {
		e.log.printf("Live regs before insn:\n")
		for i, ins := range e.insns {
			var b [10]byte
			for r := range 10 {
				b[r] = '.'
				if live[i]&(1<<r) != 0 {
					b[r] = byte('0' + r)
				}
			}
			e.log.printf("%7d: %s %s\n", e.slot[i], b[:], e.insnText(ins))
		}
	}
}

// checkMaxStackDepth walks the static call graph from the entry and checks
// that the stacks of every chain of calls fit in 512 bytes together, as
// the kernel's check_max_stack_depth does.
func (e *env) checkMaxStackDepth() error {
	privStack := false
	switch e.typ.name {
	case "kprobe", "kprobe_arm64", "tracepoint", "perf_event", "raw_tracepoint":
		privStack = true
		for _, sp := range e.subprogs {
			if sp.hasTailCall {
				privStack = false
			}
		}
	}
	roundUp := func(d int) int { return (d + 15) &^ 15 }
	type frameRet struct{ insn, sub int }
	var ret [maxFrames]frameRet
	adaptive := make([]bool, len(e.subprogs))
	depth, frame, idx := 0, 0, 0
	i := e.subprogs[0].start
	for {
		// process_func
		if idx != 0 && e.subprogs[idx].hasTailCall && depth >= 256 {
			return e.errorAt(-1, "tail_calls are not allowed when call stack of previous frames is %d bytes. Too large", depth)
		}
		sd := roundUp(e.subprogs[idx].stackDepth)
		if privStack && sd >= 64 {
			adaptive[idx] = true
		}
		if adaptive[idx] {
			if sd > maxStack {
				return e.errorAt(-1, "stack size of subprog %d is %d. Too large", idx, sd)
			}
		} else {
			depth += sd
			if depth > maxStack {
				return e.errorAt(-1, "combined stack size of %d calls is %d. Too large", frame+1, depth)
			}
		}
	continueFunc:
		end := len(e.insns)
		if idx+1 < len(e.subprogs) {
			end = e.subprogs[idx+1].start
		}
		called := false
		for ; i < end; i++ {
			ins := e.insns[i]
			if !ins.IsLocalCall() && !(ins.IsLDDW() && ins.Src == isa.PseudoFunc) {
				continue
			}
			ret[frame] = frameRet{i + 1, idx}
			next := e.callTarget(i)
			idx = e.findSubprog(next)
			i = next
			frame++
			if frame >= maxFrames {
				return e.errorAt(-1, "the call stack of %d frames is too deep !", frame)
			}
			called = true
			break
		}
		if called {
			continue
		}
		if frame == 0 {
			return nil
		}
		if !adaptive[idx] {
			depth -= roundUp(e.subprogs[idx].stackDepth)
		}
		frame--
		i, idx = ret[frame].insn, ret[frame].sub
		goto continueFunc
	}
}
