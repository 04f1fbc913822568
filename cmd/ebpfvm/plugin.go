package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/ebpfvm/ebpfvm"
	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/progtype"
)

func init() {
	register(&command{
		name:    "conformance-plugin",
		args:    "[HEXMEM] [--engine interp|jit] [--elf]",
		summary: "run a program as a plugin of the BPF conformance suite's runner",
		help: `Speaks the plugin protocol of github.com/Alan-Jowett/bpf_conformance: the
program arrives on standard input (as hex bytes separated by white space, as
the runner writes it, or as raw bytecode), the input memory as the first
argument in hex (possibly empty), plugin options after it (the runner passes
them as one argument; they are split on spaces). It prints r0 in hex and
exits 0, or prints the error on standard error and exits 1 (2 for bad
input). With --elf, standard input is an ELF object whose first program runs.

  bpf_conformance_runner --test_file_directory tests \
      --plugin_path ebpfvm --plugin_options "conformance-plugin --engine interp"`,
		run: runPlugin,
	})
}

func runPlugin(e *env, args []string) error {
	// The runner passes all options as one argument: split them.
	var split []string
	for _, a := range args {
		if strings.HasPrefix(strings.TrimSpace(a), "-") {
			split = append(split, strings.Fields(a)...)
		} else {
			split = append(split, a)
		}
	}
	fs := newFlags("conformance-plugin")
	engineName := fs.String("engine", "interp", "engine: interp or jit")
	isELF := fs.Bool("elf", false, "standard input is an ELF object")
	pos, err := parseFlags(fs, split)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("want at most one HEXMEM argument, got %d", len(pos))
	}
	var mem []byte
	if len(pos) == 1 {
		mem, err = hex.DecodeString(strings.Join(strings.Fields(pos[0]), ""))
		if err != nil {
			return usagef("HEXMEM: %v", err)
		}
	}
	engine, err := ebpfvm.ParseEngine(*engineName)
	if err != nil {
		return usagef("%v", err)
	}
	input, err := io.ReadAll(e.stdin)
	if err != nil {
		return err
	}
	code := decodeHexText(input)
	var spec *ebpfvm.CollectionSpec
	name := "main"
	if *isELF {
		spec, err = ebpfvm.LoadCollectionSpecFromBytes(code)
		if err != nil {
			return err
		}
		names := spec.ProgramNames()
		if len(names) == 0 {
			return fmt.Errorf("the ELF object has no programs")
		}
		name = names[0]
		spec.Programs[name].Type = progtype.Raw
	} else {
		insns, err := isa.Decode(code)
		if err != nil {
			return err
		}
		spec = ebpfvm.NewProgramSpec(name, progtype.Raw, insns)
	}
	coll, err := ebpfvm.NewCollection(spec, &ebpfvm.CollectionOptions{Engine: engine, NumCPU: 1})
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	defer coll.Close()
	r0, err := coll.Programs[name].Run(&ebpfvm.RunOptions{Data: mem, AnyCPU: true})
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	_, err = fmt.Fprintf(e.stdout, "%x\n", r0)
	return err
}

// decodeHexText returns the bytes written in b as hex separated by white
// space, or b itself if b is not such text.
func decodeHexText(b []byte) []byte {
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return b
	}
	joined := strings.Join(fields, "")
	out, err := hex.DecodeString(joined)
	if err != nil {
		return b
	}
	return out
}
