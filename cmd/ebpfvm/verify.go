package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/ebpfvm/ebpfvm"
	"github.com/ebpfvm/ebpfvm/progtype"
	"github.com/ebpfvm/ebpfvm/verifier"
)

func init() {
	register(&command{
		name:    "verify",
		args:    "[--type TYPE] [--log 1|2] [--stats] [--json] [--unprivileged] [--program NAME | --section NAME] FILE",
		summary: "check a program with the verifier",
		help: `Runs the verifier on the program, as loading it would, and says whether it
is accepted. Rejections name the instruction (its slot number, as the
kernel's verifier does) and the reason, in the kernel's words.

--log 1 prints the verifier log of the failing path, --log 2 every
instruction's register and stack state, both in the kernel's format;
--stats adds the kernel's statistics (processed instructions, states).
--unprivileged applies the rules the kernel applies to a loader without
CAP_BPF (no pointer leaks, initialised stack only, no loops or calls).

--type also accepts kernel program types that ebpfvm can verify but not
run: sched_cls, sched_act, cgroup_skb, kprobe, kprobe_arm64, tracepoint,
raw_tracepoint, perf_event. ELF objects name their type by section.

Without --program or --section, every program of an ELF object is
verified, and the command fails if any is rejected.

With --json it prints {"accepted": <bool>, "error": "<text>", "insn": <slot or -1>},
one object per program; when an object holds several programs each object
also names its "program".

Exit status: 0 accepted, 1 rejected, 2 bad input or usage.

` + inputHelp,
		run: runVerify,
	})
}

// verifyResult is the JSON form of a verification.
type verifyResult struct {
	Accepted bool   `json:"accepted"`
	Error    string `json:"error"`
	Insn     int    `json:"insn"`
	// Program names the program when the command verifies several.
	Program string `json:"program,omitempty"`
	Log     string `json:"log,omitempty"`
}

func runVerify(e *env, args []string) error {
	fs := newFlags("verify")
	typName := fs.String("type", "", "program type (default: from the ELF section, else raw)")
	program := fs.String("program", "", "the program of an ELF object to verify, by name")
	section := fs.String("section", "", "the program of an ELF object to verify, by section")
	level := fs.Int("log", 0, "log level: 0, 1 (failing path) or 2 (every instruction)")
	stats := fs.Bool("stats", false, "add the verifier's statistics to the log")
	jsonOut := fs.Bool("json", false, "print a JSON object")
	unpriv := fs.Bool("unprivileged", false, "verify as for a loader without CAP_BPF")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one FILE, got %d arguments", len(pos))
	}
	if *level < 0 || *level > 2 {
		return usagef("--log must be 0, 1 or 2")
	}
	var typ progtype.Type
	kernelType := ""
	if *typName != "" {
		if t, ok := progtype.ByName(*typName); ok {
			typ = t
		} else if _, ok := progtype.KernelTypeByName(*typName); ok {
			kernelType = *typName
		} else {
			names := append(progtype.Names(), progtype.KernelTypeNames()...)
			return usagef("unknown program type %q (%s)", *typName, strings.Join(names, ", "))
		}
	}
	p, err := loadProgramSelect(pos[0], e.stdin, *program, *section)
	if err != nil {
		return err
	}
	var spec *ebpfvm.CollectionSpec
	var names []string
	if p.object != nil && *program == "" && *section == "" {
		// An object without a selection: verify every program it holds,
		// kernel types ebpfvm cannot run included.
		if spec, err = ebpfvm.CollectionSpecFromObject(p.object); err != nil {
			return err
		}
		names = spec.ProgramNames()
	} else {
		var name string
		if spec, name, _, err = specFromProgram(p, typ); err != nil {
			return err
		}
		names = []string{name}
	}
	opts := verifier.Options{LogLevel: *level, Stats: *stats, Unprivileged: *unpriv}
	if *stats && opts.LogLevel == 0 {
		opts.LogLevel = 1
	}
	var rejected error
	for _, name := range names {
		ps := spec.Programs[name]
		if kernelType != "" {
			ps.Type = nil
			ps.KernelType = kernelType
		} else if typ != nil {
			ps.Type = typ
		}
		res, err := ebpfvm.Verify(spec, name, nil, opts)
		var ve *verifier.Error
		if err != nil && !errors.As(err, &ve) {
			return err
		}
		out := verifyResult{Accepted: err == nil, Insn: -1}
		if len(names) > 1 {
			out.Program = name
		}
		log := ""
		if ve != nil {
			out.Error, out.Insn, log = ve.Msg, ve.Insn, ve.Log
			if rejected == nil {
				rejected = fmt.Errorf("%s: %w", name, ve)
			}
		} else {
			log = res.Log
		}
		if *jsonOut {
			out.Log = log
			if err := json.NewEncoder(e.stdout).Encode(out); err != nil {
				return err
			}
			continue
		}
		fmt.Fprint(e.stdout, log)
		if ve == nil {
			fmt.Fprintf(e.stdout, "%s: accepted (%d instructions processed)\n", name, res.Stats.Processed)
		} else if len(names) > 1 {
			fmt.Fprintf(e.stdout, "%s: rejected: insn %d: %s\n", name, ve.Insn, ve.Msg)
		}
	}
	if rejected != nil {
		return &exitError{code: exitFailure, err: rejected}
	}
	return nil
}
