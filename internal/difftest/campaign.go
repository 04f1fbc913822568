package difftest

import (
	"encoding/hex"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ebpfvm/ebpfvm"
	"github.com/ebpfvm/ebpfvm/internal/progen"
)

// CampaignOptions configures Campaign.
type CampaignOptions struct {
	// Seed and the program index reproduce each program; programs Start to
	// Start+Count-1 are run.
	Seed  uint64
	Start int
	Count int
	// Config selects the instruction mix and program types.
	Config progen.Config
	// Engines to compare with the kernel; nil means Engines.
	Engines []ebpfvm.Engine
	// Budget bounds ebpfvm's runs; 0 means DefaultBudget.
	Budget uint64
	// NoShrink reports the first mismatch as generated.
	NoShrink bool
	// MaxShrinkTries bounds the shrinker; 0 means its default.
	MaxShrinkTries int
	// Progress, if set, is called about every ProgressEvery (default one
	// second) with the statistics so far.
	Progress      func(*Stats)
	ProgressEvery time.Duration
}

// Stats are a campaign's figures.
type Stats struct {
	Seed     uint64
	Mix      string
	Programs int // compared so far
	Accepted int // by the kernel
	Rejected int
	// Insns counts the generated instructions; Executed the instructions
	// ebpfvm's engines executed, over all engines.
	Insns    int
	Executed uint64
	// Reasons groups the kernel's rejections by message (numbers replaced
	// by N), with the index of the first program rejected for each.
	Reasons map[string]*Reason
	// VerifierAgrees counts the programs on which ebpfvm's verifier and the
	// kernel's reached the same verdict. VerifierRejects groups the
	// programs the kernel accepted and ebpfvm's verifier refused, by
	// reason; VerifierAccepts counts those the kernel refused and ebpfvm's
	// verifier accepted.
	VerifierAgrees  int
	VerifierRejects map[string]*Reason
	VerifierAccepts int
	// EngineRuns counts the runs of each engine.
	EngineRuns map[string]int
	// EngineRan names, per engine, the engine that really ran its programs
	// when it is another one (the JIT's fallback to the interpreter).
	EngineRan map[string]string
	Elapsed   time.Duration
}

// Reason is one group of rejections.
type Reason struct {
	Count   int
	Example int // program index
	Message string
}

// AcceptanceRate is the share of programs the kernel accepted.
func (s *Stats) AcceptanceRate() float64 {
	if s.Programs == 0 {
		return 0
	}
	return float64(s.Accepted) / float64(s.Programs)
}

// Summary formats the figures in a few lines.
func (s *Stats) Summary() string {
	var b strings.Builder
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Programs) / s.Elapsed.Seconds()
	}
	fmt.Fprintf(&b, "seed %d, mix %s: %d programs (%d instructions) in %v (%.0f programs/s)\n",
		s.Seed, s.Mix, s.Programs, s.Insns, s.Elapsed.Round(time.Millisecond), rate)
	fmt.Fprintf(&b, "kernel accepted %d (%.2f%%), rejected %d\n", s.Accepted, 100*s.AcceptanceRate(), s.Rejected)
	for _, name := range slices.Sorted(maps.Keys(s.EngineRuns)) {
		ran := ""
		if r := s.EngineRan[name]; r != "" {
			ran = " (run by " + r + ": " + name + " is not available)"
		}
		fmt.Fprintf(&b, "%s: %d runs agree with the kernel%s\n", name, s.EngineRuns[name], ran)
	}
	reasons := slices.Collect(maps.Values(s.Reasons))
	slices.SortFunc(reasons, func(a, b *Reason) int { return b.Count - a.Count })
	for _, r := range reasons {
		fmt.Fprintf(&b, "  rejected %d: %s (e.g. program %d)\n", r.Count, r.Message, r.Example)
	}
	rejects := 0
	for _, r := range s.VerifierRejects {
		rejects += r.Count
	}
	fmt.Fprintf(&b, "ebpfvm's verifier agrees with the kernel's on %d programs; refuses %d the kernel accepts, accepts %d it refuses\n",
		s.VerifierAgrees, rejects, s.VerifierAccepts)
	reasons = slices.Collect(maps.Values(s.VerifierRejects))
	slices.SortFunc(reasons, func(a, b *Reason) int { return b.Count - a.Count })
	for i, r := range reasons {
		if i == 10 {
			fmt.Fprintf(&b, "  ... %d more reasons\n", len(reasons)-i)
			break
		}
		fmt.Fprintf(&b, "  verifier refuses %d: %s (e.g. program %d)\n", r.Count, r.Message, r.Example)
	}
	return b.String()
}

// Mismatch is the first program of a campaign on which an engine and the
// kernel disagree, as generated and shrunk.
type Mismatch struct {
	Program *progen.Program
	Report  *Report
	// Shrunk and ShrunkReport are the minimal program found and its
	// comparison (the originals when shrinking was off).
	Shrunk       *progen.Program
	ShrunkReport *Report
	ShrinkTries  int
}

var numbers = regexp.MustCompile(`0x[0-9a-f]+|-?\d+`)

// Campaign generates and compares programs until Count are done or one
// shows a difference, which it shrinks. The error is reserved for the
// environment (no bpf(), a kernel test run refusing an input).
func Campaign(opts *CampaignOptions) (*Stats, *Mismatch, error) {
	cfg := opts.Config
	mix := cfg.Mix
	if mix == 0 {
		mix = progen.MixAll
	}
	st := &Stats{Seed: opts.Seed, Mix: mix.String(), Reasons: map[string]*Reason{}, EngineRuns: map[string]int{}, EngineRan: map[string]string{},
		VerifierRejects: map[string]*Reason{}}
	ropts := &Options{Engines: opts.Engines, Budget: opts.Budget}
	every := opts.ProgressEvery
	if every <= 0 {
		every = time.Second
	}
	start := time.Now()
	last := start
	defer func() { st.Elapsed = time.Since(start) }()
	for i := opts.Start; i < opts.Start+opts.Count; i++ {
		p := progen.Generate(opts.Seed, i, cfg)
		rep, err := Run(caseOf(p), ropts)
		if err != nil {
			return st, nil, fmt.Errorf("program %d (seed %d): %w", i, opts.Seed, err)
		}
		st.Programs++
		st.Insns += len(p.Spec.Program.Instructions)
		switch {
		case !rep.VerdictDiffers:
			st.VerifierAgrees++
		case rep.Verifier.Accepted:
			st.VerifierAccepts++
		default:
			addReason(st.VerifierRejects, rep.Verifier.Reason, i)
		}
		if !rep.Kernel.Loaded {
			st.Rejected++
			addReason(st.Reasons, rep.Kernel.LoadError, i)
			continue
		}
		st.Accepted++
		for _, e := range rep.Engines {
			st.Executed += e.Insns
		}
		if len(rep.Diffs) > 0 {
			m := &Mismatch{Program: p, Report: rep, Shrunk: p, ShrunkReport: rep}
			if !opts.NoShrink {
				m.Shrunk, m.ShrunkReport, m.ShrinkTries = shrink(p, ropts, opts.MaxShrinkTries)
			}
			st.Elapsed = time.Since(start)
			return st, m, nil
		}
		for _, e := range rep.Engines {
			st.EngineRuns[e.Name]++
			if e.Ran != "" {
				st.EngineRan[e.Name] = e.Ran
			}
		}
		if opts.Progress != nil && time.Since(last) >= every {
			last = time.Now()
			st.Elapsed = last.Sub(start)
			opts.Progress(st)
		}
	}
	return st, nil, nil
}

func addReason(m map[string]*Reason, msg string, index int) {
	key := numbers.ReplaceAllString(msg, "N")
	r, ok := m[key]
	if !ok {
		r = &Reason{Example: index, Message: msg}
		m[key] = r
	}
	r.Count++
}

func caseOf(p *progen.Program) *Case {
	return &Case{Spec: p.Spec, Input: p.Input, Out: p.Out, OutSlots: p.OutSlots}
}

// shrink reduces a program that shows a difference to a minimal one that
// still does: the kernel accepts it, an engine disagrees, and no pointer
// value can reach what is compared (deleting instructions easily makes a
// program leak one, and pointer values differ by design).
func shrink(p *progen.Program, ropts *Options, maxTries int) (*progen.Program, *Report, int) {
	s := &progen.Shrinker{MaxTries: maxTries, Fails: func(c *progen.Program) bool {
		if progen.PointerSafe(c.Spec) != nil {
			return false
		}
		rep, err := Run(caseOf(c), ropts)
		return err == nil && rep.Kernel.Loaded && len(rep.Diffs) > 0
	}}
	small := s.Shrink(p)
	rep, err := Run(caseOf(small), ropts)
	if err != nil || len(rep.Diffs) == 0 {
		// Cannot happen with a deterministic predicate; report the original.
		rep, _ = Run(caseOf(p), ropts)
		return p, rep, s.Tries
	}
	return small, rep, s.Tries
}

// Format describes the mismatch: the shrunk program in LLVM syntax, its
// input and maps, and both sides' results.
func (m *Mismatch) Format() string {
	var b strings.Builder
	p := m.Shrunk
	fmt.Fprintf(&b, "MISMATCH: program %d of seed %d (%s, %d instructions)", m.Program.Index, m.Program.Seed,
		m.Program.Spec.Program.Type, len(m.Program.Spec.Program.Instructions))
	if p != m.Program {
		fmt.Fprintf(&b, ", shrunk to %d instructions in %d tries", len(p.Spec.Program.Instructions), m.ShrinkTries)
	}
	b.WriteString(":\n\n")
	b.WriteString(Listing(p.Spec))
	b.WriteString("\n")
	b.WriteString(FormatInput(&Case{Spec: p.Spec, Input: p.Input}))
	b.WriteString("\n")
	b.WriteString(FormatReport(m.ShrunkReport))
	return b.String()
}

// FormatInput describes a case's input and initial maps.
func FormatInput(c *Case) string {
	var b strings.Builder
	fmt.Fprintf(&b, "type %s, ", c.Spec.Program.Type)
	if len(c.Input.Data) == 0 {
		b.WriteString("no input data\n")
	} else {
		fmt.Fprintf(&b, "input data (%d bytes): %s\n", len(c.Input.Data), hex.EncodeToString(c.Input.Data))
	}
	if !allZero(c.Input.Context) {
		fmt.Fprintf(&b, "context: %s\n", hex.EncodeToString(c.Input.Context))
	}
	for _, name := range slices.Sorted(maps.Keys(c.Spec.Maps)) {
		m := c.Spec.Maps[name]
		fmt.Fprintf(&b, "map %s: %s", name, m.Spec.String())
		for _, kv := range m.Contents {
			fmt.Fprintf(&b, "\n  %s: %s", hex.EncodeToString(kv.Key), hex.EncodeToString(kv.Value))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// FormatReport prints each side's result and the differences.
func FormatReport(r *Report) string {
	var b strings.Builder
	if r.Verifier.Accepted {
		b.WriteString("verifier: ebpfvm's accepts the program\n")
	} else if r.Verifier.Insn >= 0 {
		fmt.Fprintf(&b, "verifier: ebpfvm's refuses the program: insn %d: %s\n", r.Verifier.Insn, r.Verifier.Reason)
	} else {
		fmt.Fprintf(&b, "verifier: ebpfvm's refuses the program: %s\n", r.Verifier.Reason)
	}
	for _, s := range append([]*Side{r.Kernel}, r.Engines...) {
		fmt.Fprintf(&b, "%-7s ", s.Name+":")
		switch {
		case !s.Loaded && s.RejectInsn >= 0:
			fmt.Fprintf(&b, "rejected: insn %d: %s\n", s.RejectInsn, s.LoadError)
		case !s.Loaded:
			fmt.Fprintf(&b, "rejected: %s\n", s.LoadError)
		case s.RunError != "":
			fmt.Fprintf(&b, "run failed: %s\n", s.RunError)
		case s.Name != "kernel" && !r.Kernel.Loaded && s.RunError == "":
			fmt.Fprintf(&b, "r0 = %#x (%d) (run without ebpfvm's verifier)\n", s.R0, int64(s.R0))
		case s.R0Bits == 32:
			fmt.Fprintf(&b, "r0 = %#x (low 32 bits)\n", uint32(s.R0))
		default:
			fmt.Fprintf(&b, "r0 = %#x (%d)\n", s.R0, int64(s.R0))
		}
	}
	if len(r.Diffs) == 0 {
		if r.Same() {
			b.WriteString("same\n")
		}
		return b.String()
	}
	b.WriteString("differences:\n")
	for _, d := range r.Diffs {
		fmt.Fprintf(&b, "  %s: %s\n", d.Engine, d)
	}
	if r.PointerLeak != "" {
		fmt.Fprintf(&b, "note: the program treats pointers as numbers or reads stack it never wrote (the kernel refuses it to\n"+
			"a loader without CAP_PERFMON: %s); such values differ by design\n", r.PointerLeak)
	}
	return b.String()
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
