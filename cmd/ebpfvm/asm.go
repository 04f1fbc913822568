package main

import (
	"os"

	"github.com/ebpfvm/ebpfvm/isa"
)

func init() {
	register(&command{
		name:    "asm",
		args:    "[-o OUT.bin] FILE",
		summary: "assemble a program into raw bytecode",
		help: `Writes the program as raw bytecode (little-endian 8-byte slots) to OUT.bin,
or to standard output without -o (or with -o -). FILE is usually assembly
but may be any input below, which makes asm a converter to .bin too.

` + inputHelp,
		run: runAsm,
	})
}

func runAsm(e *env, args []string) error {
	fs := newFlags("asm")
	out := fs.String("o", "-", "output `file` (- for standard output)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one FILE, got %d arguments", len(pos))
	}
	p, err := loadProgram(pos[0], e.stdin)
	if err != nil {
		return err
	}
	code, err := isa.Encode(p.insns)
	if err != nil {
		return err
	}
	if *out == "-" {
		_, err = e.stdout.Write(code)
		return err
	}
	return os.WriteFile(*out, code, 0o644)
}
