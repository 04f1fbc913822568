package main

import (
	"fmt"
	"strings"

	"github.com/ebpfvm/ebpfvm/elf"
	"github.com/ebpfvm/ebpfvm/isa"
)

func init() {
	register(&command{
		name:    "disasm",
		args:    "[--program NAME | --section NAME] FILE",
		summary: "print a program in LLVM's assembly syntax",
		help: `Prints one instruction per line as "<slot>: <text>" in the syntax of
llvm-objdump -d. A 64-bit immediate load takes two slots, so the line after
"4: r1 = 5 ll" is numbered 6. The listing assembles back with "ebpfvm asm".

For an ELF object, a comment after an instruction says what it refers to
("# map counts", "# map .rodata+8", "# call add3") and marks the first
instruction of each subprogram ("# add3:"). Map loads keep their pseudo
source ("ld_pseudo r1, 1, N", N being the map's index in the object), which
the loader resolves.

` + inputHelp,
		run: runDisasm,
	})
}

func runDisasm(e *env, args []string) error {
	fs := newFlags("disasm")
	program := fs.String("program", "", "in an ELF object, the program `NAME` (default: the first)")
	section := fs.String("section", "", "in an ELF object, the first program in section `NAME`")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one FILE, got %d arguments", len(pos))
	}
	p, err := loadProgramSelect(pos[0], e.stdin, *program, *section)
	if err != nil {
		return err
	}
	if p.elfProg == nil {
		_, err = fmt.Fprint(e.stdout, isa.Listing(p.insns))
		return err
	}
	_, err = fmt.Fprint(e.stdout, elfListing(p.elfProg))
	return err
}

// elfListing is isa.Listing with comments naming what instructions refer
// to and where subprograms start.
func elfListing(p *elf.Program) string {
	starts := map[int]string{}
	for _, f := range p.Funcs[1:] {
		starts[f.Insn] = f.Name
	}
	var b strings.Builder
	slot := 0
	for i, ins := range p.Insns {
		fmt.Fprintf(&b, "%d: %s", slot, ins)
		var notes []string
		if f, ok := starts[i]; ok {
			notes = append(notes, f+":")
		}
		if r, ok := p.Refs[i]; ok {
			switch {
			case r.Kind == elf.RefMap:
				notes = append(notes, "map "+r.Map)
			case r.Kind == elf.RefMapValue && r.Offset == 0:
				notes = append(notes, "map "+r.Map)
			case r.Kind == elf.RefMapValue:
				notes = append(notes, fmt.Sprintf("map %s+%d", r.Map, r.Offset))
			case ins.IsLDDW():
				notes = append(notes, "function "+r.Func)
			default:
				notes = append(notes, "call "+r.Func)
			}
		}
		if len(notes) > 0 {
			fmt.Fprintf(&b, "  # %s", strings.Join(notes, ", "))
		}
		b.WriteByte('\n')
		slot += ins.Slots()
	}
	return b.String()
}
