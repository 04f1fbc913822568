package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ebpfvm/ebpfvm"
	"github.com/ebpfvm/ebpfvm/internal/difftest"
	"github.com/ebpfvm/ebpfvm/internal/progen"
	"github.com/ebpfvm/ebpfvm/kernel"
)

func init() {
	register(&command{
		name:    "fuzz",
		args:    "[--seed S] [--count N] [--start I] [--mix alu,jmp,mem,maps,loops,...] [--type xdp,socket_filter] [--engine interp|jit] [--no-shrink] [--progress DURATION] [--json]",
		summary: "compare random programs in the Linux kernel and in ebpfvm",
		help: `Runs a differential campaign: generates --count random programs that the
kernel's verifier accepts (program I of seed S is always the same), runs each
in the Linux kernel (needs root) and in every engine (or the one --engine
names) on a random input, and compares r0, the packet, the context and the
maps. It stops at the first program on which an engine and the kernel
differ, shrinks it to a minimal one that still differs and prints it in
LLVM syntax with both sides' results. Progress goes to standard error every
--progress (default 2s; 0 for none), the summary to standard output:
acceptance rate, the kernel's rejection reasons, and how often ebpfvm's
verifier agrees with the kernel's (a disagreement is reported, not fatal).

--mix picks the instruction families, comma-separated, among
  ` + strings.Join(progen.MixNames(), ", ") + `
or all (the default). --start I --count 1 reproduces program I of a
campaign.

With --json the summary is one object: {"seed", "mix", "programs",
"accepted", "rejected", "seconds", "verifier_agrees", "verifier_rejects",
"verifier_accepts", "rejections": {REASON: COUNT}, "mismatch": null or
{"index", "program", "input", "differences"}}.

Exit status: 0 no difference, 1 a difference (printed), 2 bad usage or no
kernel to compare with.`,
		run: runFuzz,
	})
}

type fuzzMismatch struct {
	Index       int      `json:"index"`
	Program     string   `json:"program"`
	Input       string   `json:"input"`
	Differences []string `json:"differences"`
}

type fuzzSummary struct {
	Seed            uint64         `json:"seed"`
	Mix             string         `json:"mix"`
	Programs        int            `json:"programs"`
	Accepted        int            `json:"accepted"`
	Rejected        int            `json:"rejected"`
	Seconds         float64        `json:"seconds"`
	VerifierAgrees  int            `json:"verifier_agrees"`
	VerifierRejects int            `json:"verifier_rejects"`
	VerifierAccepts int            `json:"verifier_accepts"`
	Rejections      map[string]int `json:"rejections"`
	Mismatch        *fuzzMismatch  `json:"mismatch"`
}

func runFuzz(e *env, args []string) error {
	fs := newFlags("fuzz")
	seed := fs.Uint64("seed", 1, "campaign seed")
	count := fs.Int("count", 1000, "number of programs")
	start := fs.Int("start", 0, "index of the first program")
	mixFlag := fs.String("mix", "all", "instruction families, comma-separated")
	types := fs.String("type", "xdp,socket_filter", "program types to generate, comma-separated")
	engineFlag := fs.String("engine", "", "compare only this engine (default: every engine)")
	noShrink := fs.Bool("no-shrink", false, "print a differing program as generated")
	progress := fs.Duration("progress", 2*time.Second, "interval of progress reports on standard error (0: none)")
	jsonOut := fs.Bool("json", false, "print the summary as JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("fuzz takes no file arguments")
	}
	if *count < 0 || *start < 0 {
		return usagef("--count and --start must not be negative")
	}
	mix, err := progen.ParseMix(*mixFlag)
	if err != nil {
		return usagef("--mix: %v", err)
	}
	cfg := progen.Config{Mix: mix}
	for t := range strings.SplitSeq(*types, ",") {
		switch t = strings.TrimSpace(t); t {
		case kernel.TypeXDP, kernel.TypeSocketFilter:
			cfg.Types = append(cfg.Types, t)
		case "":
		default:
			return usagef("--type: generated programs are xdp or socket_filter, not %q", t)
		}
	}
	var engines []ebpfvm.Engine
	if *engineFlag != "" {
		eng, err := ebpfvm.ParseEngine(*engineFlag)
		if err != nil {
			return usagef("%v", err)
		}
		engines = []ebpfvm.Engine{eng}
	}
	if err := kernel.Available(); err != nil {
		return fmt.Errorf("no kernel to compare with: %w", err)
	}
	opts := &difftest.CampaignOptions{
		Seed: *seed, Start: *start, Count: *count, Config: cfg, Engines: engines, NoShrink: *noShrink,
		ProgressEvery: *progress,
	}
	if *progress > 0 {
		opts.Progress = func(st *difftest.Stats) {
			fmt.Fprintf(e.stderr, "fuzz: %d/%d programs, %.2f%% accepted by the kernel, %.0f programs/s\n",
				st.Programs, *count, 100*st.AcceptanceRate(), float64(st.Programs)/st.Elapsed.Seconds())
		}
	}
	st, m, err := difftest.Campaign(opts)
	if err != nil {
		return err
	}
	if m != nil && m.ShrunkReport != nil {
		difftest.ExplainLeak(&difftest.Case{Spec: m.Shrunk.Spec, Input: m.Shrunk.Input}, m.ShrunkReport)
	}
	if *jsonOut {
		if err := json.NewEncoder(e.stdout).Encode(fuzzJSON(st, m)); err != nil {
			return err
		}
	} else {
		if m != nil {
			fmt.Fprintln(e.stdout, m.Format())
			fmt.Fprintf(e.stdout, "reproduce: ebpfvm fuzz --seed %d --start %d --count 1 --mix %s --type %s\n\n",
				*seed, m.Program.Index, mix, m.Program.Spec.Program.Type)
		}
		fmt.Fprint(e.stdout, st.Summary())
	}
	if m != nil {
		return &exitError{code: exitFailure, err: errors.New("the kernel and ebpfvm differ")}
	}
	return nil
}

func fuzzJSON(st *difftest.Stats, m *difftest.Mismatch) fuzzSummary {
	out := fuzzSummary{
		Seed: st.Seed, Mix: st.Mix, Programs: st.Programs, Accepted: st.Accepted, Rejected: st.Rejected,
		Seconds: st.Elapsed.Seconds(), VerifierAgrees: st.VerifierAgrees, VerifierAccepts: st.VerifierAccepts,
		Rejections: map[string]int{},
	}
	for _, r := range st.Reasons {
		out.Rejections[r.Message] += r.Count
	}
	for _, r := range st.VerifierRejects {
		out.VerifierRejects += r.Count
	}
	if m != nil {
		fm := &fuzzMismatch{Index: m.Program.Index, Program: difftest.Listing(m.Shrunk.Spec),
			Input: difftest.FormatInput(&difftest.Case{Spec: m.Shrunk.Spec, Input: m.Shrunk.Input})}
		for _, d := range m.ShrunkReport.Diffs {
			fm.Differences = append(fm.Differences, d.Engine+": "+d.String())
		}
		out.Mismatch = fm
	}
	return out
}
