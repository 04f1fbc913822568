// Package verifier checks eBPF programs statically, the way the Linux
// kernel's verifier does, before they run: every path through the program
// is explored with abstract register and stack states (types, tristate
// numbers and signed/unsigned 64- and 32-bit bounds), every memory access
// is proven inside its region, helper calls are checked against their
// prototypes, loops are accepted when their exploration terminates within
// the kernel's budget of one million processed instructions, and states
// already proven safe prune the search.
//
// Verify returns, on success, facts about each instruction that an engine
// may use to drop run-time checks, and on failure a *Error naming the
// instruction (by its slot index, as the kernel does) and the reason,
// phrased like the kernel's. A log in the kernel's format (Options.LogLevel
// 1 or 2) shows the register states along the way.
//
// The kernel running as root is the reference: programs it accepts are
// accepted, and programs it rejects for safety reasons are rejected.
// Options.Unprivileged applies the rules the kernel applies to loaders
// without CAP_BPF/CAP_PERFMON (no pointer leaks or comparisons, initialised
// stack reads only, no loops, no subprograms).
package verifier

import (
	"errors"
	"fmt"
	"time"

	"github.com/ebpfvm/ebpfvm/helpers"
	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/maps"
	"github.com/ebpfvm/ebpfvm/progtype"
)

// DefaultMaxProcessed is the kernel's limit on processed instructions
// (BPF_COMPLEXITY_LIMIT_INSNS).
const DefaultMaxProcessed = 1_000_000

// maxJumpSeq is the kernel's BPF_COMPLEXITY_LIMIT_JMP_SEQ: at most this many
// branches may wait to be explored.
const maxJumpSeq = 8192

// maxUnprivInsns is BPF_MAXINSNS, the size limit for unprivileged loaders.
const maxUnprivInsns = 4096

// Map describes a map a program refers to, with what the verifier needs
// to know of it.
type Map struct {
	Name       string
	Type       maps.MapType
	KeySize    uint32
	ValueSize  uint32
	MaxEntries uint32
	Flags      uint32
	// Inner describes the maps an array_of_maps or hash_of_maps holds.
	Inner *Map
	// Frozen marks a map whose contents can no longer change (the
	// kernel's frozen maps with BPF_F_RDONLY_PROG, such as .rodata):
	// loads at constant offsets of its single value then read Value.
	Frozen bool
	Value  []byte
}

// MapFromSpec returns the Map a maps.Spec describes.
func MapFromSpec(s *maps.Spec) *Map {
	if s == nil {
		return nil
	}
	return &Map{Name: s.Name, Type: s.Type, KeySize: s.KeySize, ValueSize: s.ValueSize,
		MaxEntries: s.MaxEntries, Flags: s.Flags, Inner: MapFromSpec(s.InnerMap)}
}

// Ref is what a lddw with a map pseudo source refers to: the map, and for a
// pointer into a map's value (isa.PseudoMapValue), the offset into it.
type Ref struct {
	Map    *Map
	Offset int32
}

// Program is the input of Verify.
type Program struct {
	Instructions []isa.Instruction
	// Type is the program type; nil means progtype.Raw.
	Type progtype.Type
	// Refs maps the instruction indexes (not slots) of lddw instructions
	// with a map pseudo source to what they refer to.
	Refs map[int]Ref
	// Helpers binds helper ids to prototypes; nil means helpers.Standard().
	// Helpers the registry lacks are looked up among the kernel's
	// prototypes the verifier knows, for program types that only verify.
	Helpers *helpers.Registry
}

// Options configures Verify.
type Options struct {
	// LogLevel is 0 (no log), 1 (the failing path's instructions and
	// states at branches) or 2 (every instruction's state changes), as
	// the kernel's log_level.
	LogLevel int
	// Stats appends the kernel's statistics lines ("processed N insns ...")
	// to the log.
	Stats bool
	// Unprivileged verifies as the kernel does for a loader without
	// CAP_BPF and CAP_PERFMON.
	Unprivileged bool
	// MaxProcessed bounds the instructions processed over all paths;
	// 0 means DefaultMaxProcessed.
	MaxProcessed int
	// NumCPU is the number of CPUs programs run on, which bounds
	// bpf_get_smp_processor_id; 0 means runtime.NumCPU().
	NumCPU int
}

// Error is a rejection: the instruction (its slot index, the kernel's
// instruction number; -1 when no instruction is to blame) and the reason.
type Error struct {
	Insn int
	Msg  string
	// Log is the verifier log up to the rejection, at Options.LogLevel.
	Log string
}

func (e *Error) Error() string {
	if e.Insn < 0 {
		return "verifier: " + e.Msg
	}
	return fmt.Sprintf("verifier: insn %d: %s", e.Insn, e.Msg)
}

// Stats are the kernel's verification statistics.
type Stats struct {
	Processed        int // instructions processed over all paths
	TotalStates      int // states saved for pruning
	PeakStates       int // states held at once
	MaxStatesPerInsn int
	// StackDepth is the stack each subprogram uses, in bytes.
	StackDepth []int
	Duration   time.Duration
}

// Result is an accepted program's verification outcome.
type Result struct {
	// Facts has one entry per instruction (indexed like
	// Program.Instructions).
	Facts []Fact
	Stats Stats
	// Log is the verifier log at Options.LogLevel.
	Log string
}

// Verify checks prog. It returns a *Error if the program is rejected, and
// other errors only for malformed input (which are *Error too, naming the
// offending instruction).
func Verify(prog Program, opts Options) (res *Result, err error) {
	start := time.Now()
	e, err := newEnv(&prog, &opts)
	if err != nil {
		return nil, err
	}
	defer func() {
		// A bug in the verifier must not crash its host: report it as a
		// rejection naming the instruction being checked.
		if r := recover(); r != nil {
			res = nil
			err = &Error{Insn: e.curSlot(), Msg: fmt.Sprintf("internal verifier error: %v", r), Log: e.log.String()}
		}
	}()
	if err := e.run(); err != nil {
		var ve *Error
		if errors.As(err, &ve) {
			e.finishLog(time.Since(start))
			ve.Log = e.log.String()
		}
		return nil, err
	}
	res = &Result{Facts: e.facts(), Stats: e.stats(time.Since(start))}
	e.finishLog(time.Since(start))
	res.Log = e.log.String()
	return res, nil
}
