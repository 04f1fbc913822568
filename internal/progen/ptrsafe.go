package progen

import (
	"fmt"

	"github.com/ebpfvm/ebpfvm/internal/insnedit"
	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/kernel"
)

// PointerSafe checks that no pointer value and no uninitialised stack byte
// can influence what a comparison with the kernel observes: r0 at exit,
// stores into maps, the packet or the context, helper arguments, branch
// conditions. Pointers are kernel addresses in the kernel and virtual
// addresses in ebpfvm, and the kernel lets privileged programs read stack
// memory they never wrote (whatever the kernel left there; ebpfvm's stack
// starts zeroed), so such programs differ by design. The kernel's verifier
// refuses both for loaders without CAP_PERFMON, but with speculative-path
// exploration that makes it far too slow for a shrinker's thousands of
// candidates; this is a conservative dataflow analysis over the program's
// control flow. It returns nil or the first problem found.
func PointerSafe(s *kernel.Spec) error {
	insns := s.Program.Instructions
	if len(insns) == 0 {
		return nil
	}
	a := &ptrAnalysis{insns: insns, typ: s.Program.Type, slots: isa.SlotIndex(insns), callbacks: map[int]bool{}, spec: s}
	a.bySlot = make(map[int]int, len(insns))
	for i := range insns {
		a.bySlot[a.slots[i]] = i
	}
	funcs := insnedit.Functions(insns)
	for i, ins := range insns {
		if ins.IsLDDW() && ins.Src == isa.PseudoFunc {
			if t, ok := a.bySlot[a.slots[i]+1+int(int32(ins.Imm))]; ok {
				a.callbacks[t] = true
			}
		}
	}
	for n, start := range funcs {
		end := len(insns)
		if n+1 < len(funcs) {
			end = funcs[n+1]
		}
		var entry ptrState
		entry.regs[isa.R10] = ptrVal{kind: kStack, known: true}
		switch {
		case n == 0:
			entry.regs[isa.R1] = ptrVal{kind: kCtx}
		case a.callbacks[start]:
			entry.regs[isa.R2] = ptrVal{kind: kForeignStack}
		}
		if err := a.function(start, end, entry); err != nil {
			return err
		}
	}
	return nil
}

type ptrKind uint8

const (
	kScalar ptrKind = iota
	kCtx
	kStack        // the function's own stack; off valid if known
	kForeignStack // a caller's stack, reached through an argument
	kPkt          // packet data or metadata
	kPktEnd
	kMapValue
	kMapPtr
	kFunc
	kPtr    // a pointer of several possible kinds
	kTaint  // a number computed from a pointer
	kUninit // a number read from stack memory never written
)

func (k ptrKind) pointer() bool { return k != kScalar && k != kTaint && k != kUninit }

type ptrVal struct {
	kind  ptrKind
	known bool   // kStack: off is the constant offset from the frame pointer
	off   int64  // kStack
	m     string // kMapPtr, kMapValue: the map, if known
}

const (
	stackSlots = 64 // 512 bytes
	stackBytes = 8 * stackSlots
)

type ptrState struct {
	regs  [11]ptrVal
	stack [stackSlots]ptrKind // 8-byte slots below the frame pointer
	// init marks the stack bytes written on every path (byte i is at
	// fp-512+i).
	init [stackBytes]bool
	// lost is set when a pointer was stored at an unknown stack offset.
	lost bool
	set  bool
}

func join(a, b ptrVal) ptrVal {
	switch {
	case a == b:
		return a
	case a.kind == kUninit || b.kind == kUninit:
		return ptrVal{kind: kUninit}
	case a.kind == kTaint || b.kind == kTaint:
		return ptrVal{kind: kTaint}
	case a.kind == kScalar:
		return b
	case b.kind == kScalar:
		return a
	case a.kind == b.kind:
		v := ptrVal{kind: a.kind} // offsets differ
		if a.m == b.m {
			v.m = a.m
		}
		return v
	}
	return ptrVal{kind: kPtr}
}

func joinKind(a, b ptrKind) ptrKind { return join(ptrVal{kind: a}, ptrVal{kind: b}).kind }

// merge joins s into d and reports whether d changed.
func (d *ptrState) merge(s *ptrState) bool {
	if !d.set {
		*d = *s
		d.set = true
		return true
	}
	old := *d
	for i := range d.regs {
		d.regs[i] = join(d.regs[i], s.regs[i])
	}
	for i := range d.stack {
		d.stack[i] = joinKind(d.stack[i], s.stack[i])
	}
	for i := range d.init {
		d.init[i] = d.init[i] && s.init[i]
	}
	d.lost = d.lost || s.lost
	return *d != old
}

type ptrAnalysis struct {
	spec      *kernel.Spec
	insns     []isa.Instruction
	typ       string
	slots     []int
	bySlot    map[int]int
	callbacks map[int]bool
}

// function analyses the function in [start, end) to a fixed point.
func (a *ptrAnalysis) function(start, end int, entry ptrState) error {
	states := make([]ptrState, end-start)
	states[0] = entry
	states[0].set = true
	work := []int{start}
	queued := map[int]bool{start: true}
	for len(work) > 0 {
		i := work[len(work)-1]
		work = work[:len(work)-1]
		queued[i] = false
		st := states[i-start]
		succ, err := a.step(i, &st)
		if err != nil {
			return fmt.Errorf("insn %d (%s): %w", a.slots[i], a.insns[i], err)
		}
		for _, j := range succ {
			if j < start || j >= end {
				continue // the kernel refuses such jumps; nothing to track
			}
			if states[j-start].merge(&st) && !queued[j] {
				queued[j] = true
				work = append(work, j)
			}
		}
	}
	return nil
}

func (a *ptrAnalysis) target(i int, rel int64) []int {
	if t, ok := a.bySlot[a.slots[i]+1+int(rel)]; ok {
		return []int{t}
	}
	return nil
}

// Context offsets that read as pointers, by program type.
var ctxPointers = map[string]map[int16]ptrKind{
	kernel.TypeXDP:          {0: kPkt, 4: kPktEnd, 8: kPkt},
	kernel.TypeSocketFilter: {76: kPkt, 80: kPktEnd, 140: kPkt, 168: kPtr},
	kernel.TypeRaw:          {76: kPkt, 80: kPktEnd, 140: kPkt, 168: kPtr},
}

// what names what a non-scalar value is, for errors.
func what(k ptrKind) string {
	if k == kUninit {
		return "a value read from uninitialised stack memory"
	}
	return "a pointer (or a number computed from one)"
}

// step applies instruction i to st and returns its successors.
func (a *ptrAnalysis) step(i int, st *ptrState) ([]int, error) {
	ins := a.insns[i]
	next := []int{i + 1}
	c := ins.Opcode.Class()
	r := &st.regs
	switch {
	case c.IsALU():
		a.alu(ins, st)
	case ins.IsLDDW():
		switch ins.Src {
		case isa.PseudoNone:
			r[ins.Dst] = ptrVal{}
		case isa.PseudoMapFD, isa.PseudoMapIdx:
			r[ins.Dst] = ptrVal{kind: kMapPtr, m: a.spec.Program.References[i].Map}
		case isa.PseudoFunc:
			r[ins.Dst] = ptrVal{kind: kFunc}
		default:
			r[ins.Dst] = ptrVal{kind: kMapValue}
		}
	case c == isa.ClassLD: // ld_abs, ld_ind
		if ins.Opcode.Mode() == isa.ModeIND && r[ins.Src].kind != kScalar {
			return nil, fmt.Errorf("%s offsets a packet load", what(r[ins.Src].kind))
		}
		r[0] = ptrVal{}
		for j := isa.R1; j <= isa.R5; j++ {
			r[j] = ptrVal{}
		}
	case c == isa.ClassLDX:
		r[ins.Dst] = a.load(ins, st)
	case c == isa.ClassST || c == isa.ClassSTX:
		if err := a.store(ins, st); err != nil {
			return nil, err
		}
	case ins.IsExit():
		if r[0].kind != kScalar {
			return nil, fmt.Errorf("%s is returned in r0", what(r[0].kind))
		}
		return nil, nil
	case ins.Opcode == isa.OpCall || ins.Opcode == isa.OpCallX:
		for j := isa.R1; j <= isa.R5; j++ {
			if r[j].kind == kTaint || r[j].kind == kUninit || ins.IsLocalCall() && r[j].kind != kScalar {
				return nil, fmt.Errorf("%s is passed in %s", what(r[j].kind), j)
			}
		}
		if ins.IsHelperCall() && st.lost {
			return nil, fmt.Errorf("%s stored on the stack may reach a helper", what(kPtr))
		}
		if ins.IsHelperCall() {
			for _, k := range st.stack {
				if k != kScalar {
					return nil, fmt.Errorf("%s stored on the stack may reach a helper", what(k))
				}
			}
			if err := a.helperStack(ins, st); err != nil {
				return nil, err
			}
		}
		r[0] = ptrVal{}
		if ins.IsHelperCall() && ins.Imm == helperMapLookup {
			r[0] = ptrVal{kind: kMapValue}
		}
		for j := isa.R1; j <= isa.R5; j++ {
			r[j] = ptrVal{}
		}
	case ins.IsBranch():
		if ins.Opcode.JumpOp().IsConditional() {
			if err := a.cond(ins, st); err != nil {
				return nil, err
			}
			return append(next, a.target(i, ins.BranchOffset())...), nil
		}
		if ins.Opcode.JumpOp() == isa.JumpCond { // may_goto
			return append(next, a.target(i, ins.BranchOffset())...), nil
		}
		return a.target(i, ins.BranchOffset()), nil
	}
	return next, nil
}

const errUninit = "uninitialised stack memory"

// initialized reports whether the n stack bytes at base+off were written.
func (st *ptrState) initialized(base ptrVal, off int64, n int64) bool {
	if base.kind != kStack {
		return true // a caller's stack, reached through an argument
	}
	if !base.known {
		n, off = stackBytes, -stackBytes
		base.off = 0
	}
	lo := base.off + off + stackBytes
	if lo < 0 || lo+n > stackBytes {
		return true // outside the frame: the kernel refuses the access
	}
	for i := lo; i < lo+n; i++ {
		if !st.init[i] {
			return false
		}
	}
	return true
}

func (st *ptrState) markInit(base ptrVal, off int64, n int64) {
	if base.kind != kStack || !base.known {
		return
	}
	lo := base.off + off + stackBytes
	for i := lo; i < lo+n && i < stackBytes; i++ {
		if i >= 0 {
			st.init[i] = true
		}
	}
}

// helperStack checks that the stack memory a helper reads was written:
// the key (and value) of map helpers, and for other helpers everything
// from the pointer to the frame's top, as their sizes are not tracked.
// Helpers that only write to their buffer are not checked.
func (a *ptrAnalysis) helperStack(ins isa.Instruction, st *ptrState) error {
	r := &st.regs
	size := func(reg isa.Register, value bool) int64 {
		if m, ok := a.spec.Maps[r[isa.R1].m]; ok && r[isa.R1].kind == kMapPtr {
			if value {
				return int64(m.Spec.ValueSize)
			}
			return int64(m.Spec.KeySize)
		}
		return -r[reg].off
	}
	for reg := isa.R1; reg <= isa.R5; reg++ {
		v := r[reg]
		if v.kind != kStack {
			continue
		}
		n := -v.off
		switch ins.Imm {
		case helperMapLookup, helperMapDelete:
			if reg == isa.R2 {
				n = size(reg, false)
			}
		case helperMapUpdate:
			if reg == isa.R2 {
				n = size(reg, false)
			} else if reg == isa.R3 {
				n = size(reg, true)
			}
		case helperSkbLoadBytes, helperXDPLoadBytes:
			if reg == isa.R3 {
				continue
			}
		}
		if !st.initialized(v, 0, n) {
			return fmt.Errorf("%s is passed to a helper in %s", errUninit, reg)
		}
	}
	return nil
}

func (a *ptrAnalysis) alu(ins isa.Instruction, st *ptrState) {
	r := &st.regs
	dst := r[ins.Dst]
	src := ptrVal{}
	x := ins.Opcode.Source() == isa.SourceX && ins.Opcode.ALUOp() != isa.ALUEnd && ins.Opcode.ALUOp() != isa.ALUNeg
	if x {
		src = r[ins.Src]
	}
	taintIf := func(v ...ptrVal) ptrVal {
		out := ptrVal{}
		for _, e := range v {
			if e.kind == kUninit {
				return e
			}
			if e.kind != kScalar {
				out = ptrVal{kind: kTaint}
			}
		}
		return out
	}
	op := ins.Opcode.ALUOp()
	if ins.Opcode.Class() == isa.ClassALU {
		// 32-bit operations on pointers keep only address bits.
		if op == isa.ALUMov {
			r[ins.Dst] = taintIf(src)
		} else {
			r[ins.Dst] = taintIf(dst, src)
		}
		return
	}
	switch op {
	case isa.ALUMov:
		if x && ins.Offset == 0 {
			r[ins.Dst] = src
		} else {
			r[ins.Dst] = taintIf(src)
		}
	case isa.ALUAdd, isa.ALUSub:
		switch {
		case dst.kind == kUninit || src.kind == kUninit:
			r[ins.Dst] = ptrVal{kind: kUninit}
		case dst.kind == kTaint || src.kind == kTaint:
			r[ins.Dst] = ptrVal{kind: kTaint}
		case !x || src.kind == kScalar:
			if dst.kind == kStack && dst.known && !x {
				v := int64(int32(ins.Imm))
				if op == isa.ALUSub {
					v = -v
				}
				dst.off += v
			} else if dst.kind == kStack {
				dst.known = false
			}
			r[ins.Dst] = dst
		case dst.kind == kScalar && op == isa.ALUAdd:
			src.known = false
			r[ins.Dst] = src
		case op == isa.ALUSub && dst.kind.pointer() && src.kind.pointer() && comparable(dst.kind, src.kind):
			r[ins.Dst] = ptrVal{}
		default:
			r[ins.Dst] = ptrVal{kind: kTaint}
		}
	default:
		r[ins.Dst] = taintIf(dst, src)
	}
}

// comparable reports whether two pointers' difference or order does not
// depend on where memory is: both into the packet, or into the same stack.
func comparable(a, b ptrKind) bool {
	pkt := func(k ptrKind) bool { return k == kPkt || k == kPktEnd }
	return pkt(a) && pkt(b) || a == b && (a == kStack || a == kForeignStack)
}

func (a *ptrAnalysis) slot(base ptrVal, off int16) (int, bool) {
	if base.kind != kStack || !base.known {
		return 0, false
	}
	o := base.off + int64(off)
	if o >= 0 || o < -8*stackSlots {
		return 0, false
	}
	return int((o + 8*stackSlots) / 8), true
}

func (a *ptrAnalysis) load(ins isa.Instruction, st *ptrState) ptrVal {
	base := st.regs[ins.Src]
	size := ins.AccessSize()
	switch base.kind {
	case kCtx:
		if k, ok := ctxPointers[a.typ][ins.Offset]; ok && size == 4 || ok && k == kPtr {
			return ptrVal{kind: k}
		}
	case kStack:
		if !st.initialized(base, int64(ins.Offset), int64(size)) {
			return ptrVal{kind: kUninit}
		}
		if s, ok := a.slot(base, ins.Offset); ok && !st.lost {
			k := st.stack[s]
			if k.pointer() && (size != 8 || (base.off+int64(ins.Offset))%8 != 0) {
				return ptrVal{kind: kTaint}
			}
			if k.pointer() && ins.Opcode.Mode() == isa.ModeMEMSX {
				return ptrVal{kind: kTaint}
			}
			return ptrVal{kind: k}
		}
		for _, k := range st.stack {
			if k != kScalar {
				return ptrVal{kind: kTaint}
			}
		}
		if st.lost {
			return ptrVal{kind: kTaint}
		}
	}
	return ptrVal{}
}

func (a *ptrAnalysis) store(ins isa.Instruction, st *ptrState) error {
	base := st.regs[ins.Dst]
	val := ptrVal{}
	if ins.Opcode.Class() == isa.ClassSTX {
		val = st.regs[ins.Src]
	}
	atomic := ins.Opcode.Mode() == isa.ModeATOMIC
	size := ins.AccessSize()
	if atomic && ins.Imm == isa.AtomicCmpXchg && st.regs[0].kind != kScalar {
		return fmt.Errorf("%s is compared by cmpxchg (in r0)", what(st.regs[0].kind))
	}
	switch base.kind {
	case kStack:
		if atomic && !st.initialized(base, int64(ins.Offset), int64(size)) {
			return fmt.Errorf("%s is updated atomically", errUninit)
		}
		st.markInit(base, int64(ins.Offset), int64(size))
		s, ok := a.slot(base, ins.Offset)
		if !ok {
			if val.kind != kScalar {
				st.lost = true
			}
			break
		}
		old := st.stack[s]
		aligned := (base.off+int64(ins.Offset))%8 == 0 && size == 8
		switch {
		case atomic && ins.Imm == isa.AtomicXchg && aligned:
			st.stack[s] = val.kind
		case atomic:
			if old != kScalar || val.kind != kScalar {
				st.stack[s] = kTaint
			}
		case aligned:
			st.stack[s] = val.kind
		case old != kScalar || val.kind != kScalar:
			st.stack[s] = kTaint
		}
		if atomic && ins.Imm&isa.AtomicFetch != 0 {
			fetched := ptrVal{kind: old}
			if old.pointer() && !aligned {
				fetched = ptrVal{kind: kTaint}
			}
			if ins.Imm == isa.AtomicCmpXchg {
				st.regs[0] = fetched
			} else {
				st.regs[ins.Src] = fetched
			}
		}
		return nil
	case kScalar, kTaint:
		// Not memory: the kernel refuses the access.
	default:
		if val.kind != kScalar {
			return fmt.Errorf("%s is stored into memory the comparison observes", what(val.kind))
		}
	}
	if atomic && ins.Imm&isa.AtomicFetch != 0 {
		if ins.Imm == isa.AtomicCmpXchg {
			st.regs[0] = ptrVal{}
		} else {
			st.regs[ins.Src] = ptrVal{}
		}
	}
	return nil
}

func (a *ptrAnalysis) cond(ins isa.Instruction, st *ptrState) error {
	d := st.regs[ins.Dst]
	if ins.Opcode.Source() == isa.SourceK {
		switch {
		case d.kind == kScalar:
			return nil
		case d.kind.pointer() && ins.Imm == 0 && (ins.Opcode.JumpOp() == isa.JumpEq || ins.Opcode.JumpOp() == isa.JumpNE):
			return nil // a NULL check
		}
		return fmt.Errorf("%s decides a branch", what(d.kind))
	}
	s := st.regs[ins.Src]
	switch {
	case d.kind == kScalar && s.kind == kScalar:
		return nil
	case d.kind.pointer() && s.kind.pointer() && comparable(d.kind, s.kind) && ins.Opcode.Class() == isa.ClassJMP:
		return nil
	}
	k := d.kind
	if k == kScalar {
		k = s.kind
	}
	return fmt.Errorf("%s decides a branch", what(k))
}
