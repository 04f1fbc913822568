package main

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/ebpfvm/ebpfvm"
	"github.com/ebpfvm/ebpfvm/internal/difftest"
	"github.com/ebpfvm/ebpfvm/kernel"
)

func init() {
	register(&command{
		name:    "diff",
		args:    "[--engine interp|jit] [--type raw|socket_filter|xdp] [--mem-hex HEX | --mem FILE | --packet FILE] [--budget N] [--program NAME | --section NAME] [--setup FILE.json] [--log] [--json] FILE",
		summary: "run a program in the Linux kernel and in ebpfvm and compare",
		help: `Loads the program into the running Linux kernel (BPF_PROG_TEST_RUN; needs
root) and into ebpfvm, runs it on the same input in the kernel and in every
engine (or the one --engine names), and compares r0 (all 64 bits), the
packet or memory, the writable context fields and the contents of every
map. It also compares the verdicts of the kernel's verifier and ebpfvm's.
The engines run without ebpfvm's verifier, so that they are compared even
where the verifiers disagree. --log prints the kernel verifier's log.

The input flags are run's. Socket filters and xdp programs get the context
the kernel's test run presents (device lo, ifindex 1); a socket filter's
packet gets protocol ETH_P_IP (0x0800) when it is at least 20 bytes long
(the kernel wants an IP header), else 0x88b5. Raw programs run in the
kernel as sched_cls programs whose prologue sets r1 and r2; the kernel's
verifier then wants data_end checks before accesses through r1.

With --json it prints one object: {"same": <bool>, "kernel": SIDE,
"engines": {NAME: SIDE}, "verifier": {"accepted": <bool>, "error": TEXT,
"insn": N}, "differences": [TEXT], "pointer_leak": TEXT}, where SIDE is
run's object ("r0", "error", "insns", "packet_hex", "maps") plus
"accepted" and "load_error".

Exit status: 0 every side agrees (or both verifiers refuse the program), 1
a difference or a program only one side refuses, 2 bad input, usage, or no
kernel to compare with.

` + inputHelp,
		run: runDiff,
	})
}

// diffSide is the JSON form of one side's outcome.
type diffSide struct {
	Accepted  bool           `json:"accepted"`
	LoadError string         `json:"load_error,omitempty"`
	R0        uint64         `json:"r0"`
	R0Bits    int            `json:"r0_bits"`
	Error     string         `json:"error"`
	Insns     uint64         `json:"insns"`
	PacketHex *string        `json:"packet_hex,omitempty"`
	Maps      map[string]any `json:"maps,omitempty"`
}

type diffVerdict struct {
	Accepted bool   `json:"accepted"`
	Error    string `json:"error"`
	Insn     int    `json:"insn"`
}

type diffResult struct {
	Same        bool                `json:"same"`
	Kernel      diffSide            `json:"kernel"`
	Engines     map[string]diffSide `json:"engines"`
	Verifier    diffVerdict         `json:"verifier"`
	Differences []string            `json:"differences"`
	PointerLeak string              `json:"pointer_leak,omitempty"`
}

func runDiff(e *env, args []string) error {
	fs := newFlags("diff")
	var f runFlags
	f.register(fs)
	jsonOut := fs.Bool("json", false, "print the comparison as one JSON object")
	withLog := fs.Bool("log", false, "print the kernel verifier's log")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one FILE, got %d arguments", len(pos))
	}
	if err := f.checkInputs(false); err != nil {
		return err
	}
	engines := difftest.Engines
	if flagSet(fs, "engine") {
		eng, err := ebpfvm.ParseEngine(f.engine)
		if err != nil {
			return usagef("%v", err)
		}
		engines = []ebpfvm.Engine{eng}
	}
	typ, err := f.progType()
	if err != nil {
		return err
	}
	spec, name, data, err := loadSpec(pos[0], e.stdin, typ, f.program, f.section)
	if err != nil {
		return err
	}
	if data, err = f.input(data); err != nil {
		return err
	}
	if f.setup != "" {
		if err := setupContents(spec, f.setup); err != nil {
			return err
		}
	}
	ks, err := difftest.KernelSpec(spec, name)
	if err != nil {
		return err
	}
	c := &difftest.Case{Spec: ks, Input: kernel.Input{Data: data, Context: diffContext(ks.Program.Type, data)}}
	rep, err := difftest.Run(c, &difftest.Options{Engines: engines, Budget: f.budget, KernelLog: *withLog})
	if err != nil {
		if errors.Is(err, kernel.ErrUnavailable) {
			return fmt.Errorf("no kernel to compare with: %w", err)
		}
		return err
	}
	if !rep.Same() {
		difftest.ExplainLeak(c, rep)
	}
	if *jsonOut {
		if err := json.NewEncoder(e.stdout).Encode(diffJSON(rep)); err != nil {
			return err
		}
	} else {
		fmt.Fprint(e.stdout, difftest.FormatReport(rep))
		if *withLog && rep.Kernel.Log != "" {
			fmt.Fprintf(e.stdout, "\nkernel verifier log:\n%s\n", strings.TrimRight(rep.Kernel.Log, "\n"))
		}
	}
	if !rep.Same() {
		return &exitError{code: exitFailure, err: errors.New(summary(rep))}
	}
	return nil
}

// flagSet reports whether the command line set the flag.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// diffContext is the context both sides start from: the one the kernel's
// test run presents, with a protocol the kernel accepts for the packet.
func diffContext(typ string, data []byte) []byte {
	ctx := kernel.DefaultContext(typ)
	if typ == kernel.TypeSocketFilter && len(data) < 20 {
		// ETH_P_802_EX1 (local experimental, no header the kernel checks),
		// in network byte order as __sk_buff.protocol holds it.
		binary.LittleEndian.PutUint32(ctx[16:], 0xb588)
	}
	return ctx
}

// setupContents adds the entries of a --setup file to the maps' initial
// contents, so that both sides create their maps with them.
func setupContents(spec *ebpfvm.CollectionSpec, path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var entries []setupEntry
	if err := json.Unmarshal(raw, &entries); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for i, en := range entries {
		ms, ok := spec.Maps[en.Map]
		if !ok {
			return fmt.Errorf("%s: entry %d: no map %q", path, i, en.Map)
		}
		if en.Program != "" {
			return fmt.Errorf("%s: entry %d: programs in maps (tail calls) cannot be compared with the kernel", path, i)
		}
		key, err := hex.DecodeString(en.KeyHex)
		if err != nil {
			return fmt.Errorf("%s: entry %d: key_hex: %w", path, i, err)
		}
		value, err := hex.DecodeString(en.ValueHex)
		if err != nil {
			return fmt.Errorf("%s: entry %d: value_hex: %w", path, i, err)
		}
		ms.Contents = append(ms.Contents, ebpfvm.MapKV{Key: key, Value: value})
	}
	return nil
}

func summary(r *difftest.Report) string {
	switch {
	case r.VerdictDiffers && r.Kernel.Loaded:
		return "ebpfvm's verifier refuses a program the kernel accepts"
	case r.VerdictDiffers:
		return "ebpfvm's verifier accepts a program the kernel refuses"
	case len(r.Diffs) > 0:
		return fmt.Sprintf("%d differences between the kernel and ebpfvm", len(r.Diffs))
	}
	return "the kernel and ebpfvm differ"
}

func diffJSON(r *difftest.Report) diffResult {
	out := diffResult{
		Same:        r.Same(),
		Kernel:      sideJSON(r.Kernel),
		Engines:     map[string]diffSide{},
		Verifier:    diffVerdict{Accepted: r.Verifier.Accepted, Error: r.Verifier.Reason, Insn: r.Verifier.Insn},
		Differences: []string{},
		PointerLeak: r.PointerLeak,
	}
	for _, s := range r.Engines {
		out.Engines[s.Name] = sideJSON(s)
	}
	for _, d := range r.Diffs {
		out.Differences = append(out.Differences, d.Engine+": "+d.String())
	}
	return out
}

func sideJSON(s *difftest.Side) diffSide {
	d := diffSide{Accepted: s.Loaded, LoadError: s.LoadError, R0: s.R0, R0Bits: s.R0Bits, Error: s.RunError, Insns: s.Insns}
	if !s.Loaded {
		return d
	}
	h := hex.EncodeToString(s.Data)
	d.PacketHex = &h
	d.Maps = map[string]any{}
	for name, kvs := range s.Maps {
		m := map[string]any{}
		for _, kv := range kvs {
			if kv.PerCPU != nil {
				vals := make([]string, len(kv.PerCPU))
				for i, v := range kv.PerCPU {
					vals[i] = hex.EncodeToString(v)
				}
				m[hex.EncodeToString(kv.Key)] = vals
			} else {
				m[hex.EncodeToString(kv.Key)] = hex.EncodeToString(kv.Value)
			}
		}
		d.Maps[name] = m
	}
	return d
}
