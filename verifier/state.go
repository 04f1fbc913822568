package verifier

import "slices"

// slotType is what one byte of a stack slot holds (the kernel's STACK_*).
type slotType uint8

const (
	stackInvalid slotType = iota // never written
	stackSpill                   // part of a spilled register
	stackMisc                    // some initialised data
	stackZero                    // known to be zero
)

const (
	regSize    = 8   // BPF_REG_SIZE
	maxStack   = 512 // MAX_BPF_STACK
	maxFrames  = 8   // MAX_CALL_FRAMES
	numRegs    = 11
	maxVarOff  = 1 << 29 // BPF_MAX_VAR_OFF
	maxVarSize = 1 << 29 // BPF_MAX_VAR_SIZ
)

// stackSlot is one 8-byte stack slot. types[j] describes the byte at
// fp-(spi*8+j+1) of slot spi, so a spilled register fills types from
// index 7 downwards.
type stackSlot struct {
	types [regSize]slotType
	spill reg
}

func (s *stackSlot) isSpilled() bool { return s.types[regSize-1] == stackSpill }

func (s *stackSlot) isSpilledScalar() bool {
	return s.isSpilled() && s.spill.typ == scalarValue
}

// isSpilledScalar64 reports a full 8-byte spill of a scalar.
func (s *stackSlot) isSpilledScalar64() bool {
	if !s.isSpilledScalar() {
		return false
	}
	for _, t := range s.types {
		if t != stackSpill {
			return false
		}
	}
	return true
}

// funcState is the state of one call frame.
type funcState struct {
	regs     [numRegs]reg
	stack    []stackSlot // allocated slots; len*8 is the kernel's allocated_stack
	callsite int         // instruction index of the call that created the frame, -1 for the entry
	frameno  int
	subprog  int
	// inCallback marks frames of callbacks (bpf_loop, for_each_map_elem),
	// whose exit returns to the calling helper and whose r0 must lie in
	// [cbRetMin, cbRetMax].
	inCallback         bool
	cbRetMin, cbRetMax int64
	callbackDepth      int
}

func (f *funcState) copyFrom(src *funcState) {
	stack := f.stack
	*f = *src
	f.stack = append(stack[:0], src.stack...)
}

// growStack makes room for size bytes of stack (rounded up to 8).
func (f *funcState) growStack(size int) {
	n := (size + regSize - 1) / regSize
	if n > len(f.stack) {
		f.stack = append(f.stack, make([]stackSlot, n-len(f.stack))...)
	}
}

type refState struct {
	id   uint32
	insn int
}

// vstate is the whole verifier state of one path: the call frames, the
// references it holds, and its position in the checkpoint tree.
type vstate struct {
	frames   [maxFrames]*funcState
	curframe int
	refs     []refState
	parent   *checkpoint
	insn     int // instruction index the state is at
	// mayGotoDepth and callbackUnrollDepth count iterations of may_goto
	// loops and callbacks, so that their repetitions are not taken for
	// infinite loops.
	mayGotoDepth        int
	callbackUnrollDepth int
}

func (s *vstate) cur() *funcState { return s.frames[s.curframe] }

// copyFrom makes s a deep copy of src, reusing s's memory.
func (s *vstate) copyFrom(src *vstate) {
	for i := src.curframe + 1; i < maxFrames; i++ {
		s.frames[i] = nil
	}
	for i := 0; i <= src.curframe; i++ {
		if s.frames[i] == nil {
			s.frames[i] = &funcState{}
		}
		s.frames[i].copyFrom(src.frames[i])
	}
	s.curframe = src.curframe
	s.refs = append(s.refs[:0], src.refs...)
	s.parent = src.parent
	s.insn = src.insn
	s.mayGotoDepth = src.mayGotoDepth
	s.callbackUnrollDepth = src.callbackUnrollDepth
}

func (s *vstate) clone() *vstate {
	n := &vstate{}
	n.copyFrom(s)
	return n
}

// frameInsn is the instruction a frame is at: the current instruction for
// the innermost frame, the call site for the others.
func (s *vstate) frameInsn(fr int) int {
	if fr == s.curframe {
		return s.insn
	}
	return s.frames[fr+1].callsite
}

// forEachReg calls f for every register and spilled register of every frame.
func (s *vstate) forEachReg(f func(r *reg)) {
	for i := 0; i <= s.curframe; i++ {
		fr := s.frames[i]
		for j := range fr.regs {
			f(&fr.regs[j])
		}
		for j := range fr.stack {
			if fr.stack[j].isSpilled() {
				f(&fr.stack[j].spill)
			}
		}
	}
}

func (s *vstate) findRef(id uint32) int {
	return slices.IndexFunc(s.refs, func(r refState) bool { return r.id == id })
}
