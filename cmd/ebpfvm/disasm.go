package main

import (
	"fmt"

	"github.com/ebpfvm/ebpfvm/isa"
)

func init() {
	register(&command{
		name:    "disasm",
		args:    "FILE",
		summary: "print a program in LLVM's assembly syntax",
		help: `Prints one instruction per line as "<slot>: <text>" in the syntax of
llvm-objdump -d. A 64-bit immediate load takes two slots, so the line after
"4: r1 = 5 ll" is numbered 6. The listing assembles back with "ebpfvm asm".

` + inputHelp,
		run: runDisasm,
	})
}

func runDisasm(e *env, args []string) error {
	pos, err := parseFlags(newFlags("disasm"), args)
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
	_, err = fmt.Fprint(e.stdout, isa.Listing(p.insns))
	return err
}
