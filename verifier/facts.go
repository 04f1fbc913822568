package verifier

import (
	"strings"
	"time"
)

// Kind is a set of pointer kinds: the kinds the base register of a memory
// access held on the paths that reach it.
type Kind uint16

// Pointer kinds.
const (
	KindCtx        Kind = 1 << iota // the program's context
	KindStack                       // a call frame's stack
	KindMapValue                    // a map value
	KindMapKey                      // a map key (for_each_map_elem callbacks)
	KindPacket                      // packet data
	KindPacketMeta                  // packet metadata
	KindMem                         // memory a helper returned (a ring buffer record)
	KindRawMem                      // a raw program's input memory, sized at run time
)

var kindNames = []string{"ctx", "stack", "map_value", "map_key", "pkt", "pkt_meta", "mem", "raw_mem"}

func (k Kind) String() string {
	var parts []string
	for i, n := range kindNames {
		if k&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

func kindOf(t regType) Kind {
	switch t {
	case ptrToCtx:
		return KindCtx
	case ptrToStack:
		return KindStack
	case ptrToMapValue:
		return KindMapValue
	case ptrToMapKey:
		return KindMapKey
	case ptrToPacket:
		return KindPacket
	case ptrToPacketMeta:
		return KindPacketMeta
	case ptrToMem:
		return KindMem
	case ptrToRawMem:
		return KindRawMem
	}
	return 0
}

// Fact is what verification proved about one instruction.
type Fact struct {
	// Reached: some path executes the instruction. Unreached
	// instructions are dead code on every path.
	Reached bool
	// Access: the instruction is a load, store or atomic that was reached.
	Access bool
	// Bases are the kinds of pointer its base register held.
	Bases Kind
	// InBounds: on every path the access was proven to lie inside its
	// region, so an engine may drop the run-time bounds check. False for
	// raw memory, whose size only the run knows.
	InBounds bool
}

// recordAccess notes the base of the memory access being verified.
func (e *env) recordAccess(t regType, inBounds bool) {
	f := &e.aux[e.insnIdx].fact
	if !f.Access {
		f.Access, f.InBounds = true, true
	}
	f.Bases |= kindOf(t)
	f.InBounds = f.InBounds && inBounds
}

func (e *env) facts() []Fact {
	out := make([]Fact, len(e.insns))
	for i := range e.aux {
		out[i] = e.aux[i].fact
		out[i].Reached = e.aux[i].seen
	}
	return out
}

func (e *env) stats(d time.Duration) Stats {
	s := Stats{Processed: e.processed, TotalStates: e.totalStates, PeakStates: e.peakStates,
		MaxStatesPerInsn: e.maxPerInsn, Duration: d}
	for _, sp := range e.subprogs {
		s.StackDepth = append(s.StackDepth, sp.stackDepth)
	}
	return s
}
