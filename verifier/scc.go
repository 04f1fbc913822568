package verifier

import "github.com/ebpfvm/ebpfvm/isa"

// Loops and pruning. A cached state whose loop is still being explored may
// not yet carry everything its continuation needs (in the kernel: read and
// precision marks), so the kernel compares such states more strictly
// (RANGE_WITHIN rather than NOT_EXACT) until every path leaving the loop
// visit is done. It finds loops as the strongly connected components of
// each function's control flow graph and records, per visit of a loop
// (the loop plus the call sites leading to it), the state that entered it
// and whether a path was pruned against a state of the loop. Matching
// this keeps the number of explored states, and so the complexity limit,
// where the kernel has them.

// sccKey names a visit: the call sites of the frames outside the loop and
// the loop's component.
type sccKey struct {
	callsites [maxFrames]int32
	scc       int32
}

type sccVisit struct {
	entry     *checkpoint
	backedges int
}

// computeSCC numbers the components of the control flow graph that loop:
// two or more instructions, one that jumps to itself, or a call of a
// function that calls a callback, which loops implicitly (compute_scc).
// Calls do not enter the callee: the graph is per function.
func (e *env) computeSCC() {
	n := len(e.insns)
	succ := func(i int, out []int) []int {
		out = out[:0]
		ins := e.insns[i]
		op := ins.Opcode.JumpOp()
		class := ins.Opcode.Class()
		if class != isa.ClassJMP && class != isa.ClassJMP32 {
			return append(out, i+1)
		}
		switch {
		case op == isa.Exit:
		case op == isa.Call:
			out = append(out, i+1)
		case op == isa.JumpA:
			out = append(out, e.branchTarget(i))
		default:
			out = append(out, i+1, e.branchTarget(i))
		}
		return out
	}
	// Tarjan's algorithm with an explicit stack.
	pre := make([]int, n)
	low := make([]int, n)
	onStack := make([]bool, n)
	var stack []int
	type frame struct {
		v    int
		succ []int
		next int
	}
	var dfs []frame
	counter := 0
	next := int32(1)
	for root := range n {
		if pre[root] != 0 {
			continue
		}
		counter++
		pre[root], low[root] = counter, counter
		stack = append(stack, root)
		onStack[root] = true
		dfs = append(dfs, frame{v: root, succ: succ(root, nil)})
		for len(dfs) > 0 {
			f := &dfs[len(dfs)-1]
			if f.next < len(f.succ) {
				w := f.succ[f.next]
				f.next++
				if w < 0 || w >= n {
					continue
				}
				if pre[w] == 0 {
					counter++
					pre[w], low[w] = counter, counter
					stack = append(stack, w)
					onStack[w] = true
					dfs = append(dfs, frame{v: w, succ: succ(w, nil)})
				} else if onStack[w] {
					low[f.v] = min(low[f.v], pre[w])
				}
				continue
			}
			v := f.v
			self := false
			for _, w := range f.succ {
				if w == v {
					self = true
				}
			}
			dfs = dfs[:len(dfs)-1]
			if len(dfs) > 0 {
				p := dfs[len(dfs)-1].v
				low[p] = min(low[p], low[v])
			}
			if low[v] != pre[v] {
				continue
			}
			assign := stack[len(stack)-1] != v || self || e.aux[v].callsCallback
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				if assign {
					e.aux[w].scc = next
				}
				if w == v {
					break
				}
			}
			if assign {
				next++
			}
		}
	}
}

// sccCallchain returns the visit a state belongs to: the outermost frame
// whose instruction is in a loop, with the call sites leading to it.
func (e *env) sccCallchain(st *vstate) (sccKey, bool) {
	var k sccKey
	for i := 0; i <= st.curframe; i++ {
		insn := st.frameInsn(i)
		if s := e.aux[insn].scc; s != 0 {
			k.scc = s
			return k, true
		}
		if i == st.curframe {
			return k, false
		}
		k.callsites[i] = int32(insn)
	}
	return k, false
}

// maybeEnterSCC records cp as the entry of its loop visit if the visit has
// none.
func (e *env) maybeEnterSCC(cp *checkpoint) {
	k, ok := e.sccCallchain(cp.st)
	if !ok {
		return
	}
	v := e.sccVisits[k]
	if v == nil {
		v = &sccVisit{}
		e.sccVisits[k] = v
	}
	if v.entry == nil {
		v.entry = cp
		if e.log.level >= 2 {
			e.log.printf("SCC enter %s\n", e.fmtCallchain(k))
		}
	}
}

// maybeExitSCC ends the visit cp entered, once every path from cp is done.
func (e *env) maybeExitSCC(cp *checkpoint) {
	k, ok := e.sccCallchain(cp.st)
	if !ok {
		return
	}
	v := e.sccVisits[k]
	if v == nil || v.entry != cp {
		return
	}
	if e.log.level >= 2 {
		e.log.printf("SCC exit %s\n", e.fmtCallchain(k))
	}
	v.entry = nil
	v.backedges = 0
}

func (e *env) addSCCBackedge(cp *checkpoint) {
	k, ok := e.sccCallchain(cp.st)
	if !ok {
		return
	}
	v := e.sccVisits[k]
	if v == nil {
		return
	}
	if e.log.level >= 2 {
		e.log.printf("SCC backedge %s\n", e.fmtCallchain(k))
	}
	v.backedges++
}

// incompleteLoop reports whether st is in a loop visit that has had paths
// pruned and is not finished (incomplete_read_marks).
func (e *env) incompleteLoop(st *vstate) bool {
	k, ok := e.sccCallchain(st)
	if !ok {
		return false
	}
	v := e.sccVisits[k]
	return v != nil && v.backedges > 0
}

func (e *env) fmtCallchain(k sccKey) string {
	s := "("
	for _, c := range k.callsites {
		if c == 0 {
			break
		}
		s += itoa(e.slot[c]) + ","
	}
	return s + itoa(int(k.scc)) + ")"
}
