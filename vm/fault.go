package vm

import "fmt"

// FaultKind classifies a Fault.
type FaultKind uint8

// Fault kinds.
const (
	FaultOutOfBounds FaultKind = iota + 1 // the access is outside its region, or the region does not exist
	FaultNull                             // the address is in region 0 (NULL or a small integer)
	FaultNotWritable                      // a store, atomic or helper write into a read-only region
	FaultMisaligned                       // an atomic operation on an address that is not naturally aligned
	FaultBudget                           // the instruction budget is exhausted
	FaultCancelled                        // the run's context was cancelled
	FaultCallDepth                        // a bpf-to-bpf call beyond MaxCallFrames
	FaultBadJump                          // control left the program or landed inside a lddw
	FaultBadCall                          // a call to an unknown helper or an invalid callx target
	FaultHelper                           // a helper returned an error
	FaultInvalidInsn                      // an instruction the engine cannot execute
	FaultContext                          // a context access the program type does not allow
)

var faultKindNames = map[FaultKind]string{
	FaultOutOfBounds: "out of bounds",
	FaultNull:        "null dereference",
	FaultNotWritable: "write to read-only memory",
	FaultMisaligned:  "misaligned atomic access",
	FaultBudget:      "instruction budget exceeded",
	FaultCancelled:   "cancelled",
	FaultCallDepth:   "call depth exceeded",
	FaultBadJump:     "jump out of the program",
	FaultBadCall:     "invalid call",
	FaultHelper:      "helper failed",
	FaultInvalidInsn: "invalid instruction",
	FaultContext:     "invalid context access",
}

func (k FaultKind) String() string {
	if s, ok := faultKindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("fault(%d)", uint8(k))
}

// Fault stops a run: a bad memory access, an exhausted budget, a
// cancellation, or a helper error. Both engines return the same Fault for the
// same program and input.
type Fault struct {
	Kind FaultKind
	PC   int    // slot index of the faulting instruction
	Addr uint64 // the virtual address accessed (memory faults)
	Size int    // the access width in bytes (memory faults)
	// Detail is extra text: the region's name, the helper's error, ...
	Detail string
	// Err is the underlying error of a FaultHelper or FaultCancelled, for errors.Is/As.
	Err error
}

func (f *Fault) Error() string {
	switch f.Kind {
	case FaultOutOfBounds, FaultNull, FaultNotWritable, FaultMisaligned:
		s := fmt.Sprintf("fault at insn %d: %s: %d-byte access at %#x", f.PC, f.Kind, f.Size, f.Addr)
		if f.Detail != "" {
			s += " (" + f.Detail + ")"
		}
		return s
	}
	s := fmt.Sprintf("fault at insn %d: %s", f.PC, f.Kind)
	if f.Detail != "" {
		s += ": " + f.Detail
	}
	if f.Err != nil && f.Detail == "" {
		s += ": " + f.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error, if any.
func (f *Fault) Unwrap() error { return f.Err }
