// Package asm assembles BPF programs from text. It reads two syntaxes, told
// apart line by line so that they can even be mixed:
//
//   - LLVM's, as llvm-objdump and llvm-mc print it and as
//     isa.Instruction.String prints it, including that method's extensions
//     for encodings LLVM's text loses ("call pc+N", "call kfunc N",
//     "ld_pseudo" with a 64-bit immediate, "skb[r1 + N]"):
//     "r0 = 42", "if w1 s> 5 goto +2", "*(u32 *)(r10 - 4) = w1", "exit";
//   - the uBPF-style syntax of the BPF conformance suite: "mov %r0, 42",
//     "jsgt32 %r1, 5, label", "stxw [%r10-4], %r1", "lock fetch add [%r1+0], %r2".
//
// Both syntaxes share labels ("name:", also on the line of an instruction),
// the slot numbers that isa.Listing puts in front of each line ("12: "),
// comments ("#", "//" or ";" to the end of the line) and numbers (decimal or
// 0x-hexadecimal, optionally negative). Jump targets are labels or signed
// slot offsets; as in the conformance suite's assembler, "exit" names the
// first exit instruction unless the program defines a label of that name.
//
// A 32-bit immediate is accepted when it is a signed 32-bit decimal number or
// a hexadecimal number of at most 32 bits (0xffffffff is -1); offsets must be
// signed 16-bit numbers. Anything else is an error, never silently truncated.
package asm

import (
	"fmt"
	"strings"

	"github.com/ebpfvm/ebpfvm/isa"
)

// Error reports a problem in the assembly text, located by line and column
// (both 1-based; the column counts bytes).
type Error struct {
	File string
	Line int
	Col  int
	Msg  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// fixup says which field of an instruction receives a label's offset.
type fixup uint8

const (
	fixNone   fixup = iota
	fixOffset       // the 16-bit offset of a jump
	fixImm          // the 32-bit immediate of gotol or a local call
)

// item is one assembled instruction waiting for its label to be resolved.
type item struct {
	ins      isa.Instruction
	line     int
	col      int    // column of the instruction's first token
	label    string // jump target still to resolve, if fix != fixNone
	labelCol int
	fix      fixup
}

type labelDef struct {
	slot int
	line int
}

type assembler struct {
	file   string
	items  []item
	slots  int // slot index of the next instruction
	labels map[string]labelDef
	// firstExit is the slot of the first exit instruction, or -1: the
	// implicit target of "exit" used as a label.
	firstExit int
}

// Assemble assembles src, whose name filename is used in error messages. It
// returns the program's instructions, or an *Error for the first problem.
// Empty text (or text with only labels and comments) gives no instructions
// and no error.
func Assemble(filename, src string) ([]isa.Instruction, error) {
	a := &assembler{file: filename, labels: map[string]labelDef{}, firstExit: -1}
	for i, line := range strings.Split(src, "\n") {
		if err := a.line(i+1, line); err != nil {
			return nil, err
		}
	}
	return a.finish()
}

func (a *assembler) errorf(line, col int, format string, args ...any) *Error {
	return &Error{File: a.file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

func (a *assembler) line(n int, text string) error {
	toks, bad := lex(stripComment(text))
	if bad != 0 {
		return a.errorf(n, bad, "unexpected character %q", text[bad-1])
	}
	// A slot number as isa.Listing prints it ("12: r0 = 1"), so that a
	// listing assembles back; the number itself is not checked, so that
	// edited listings still assemble.
	if len(toks) >= 2 && toks[0].kind == tokNum && toks[1].text == ":" {
		toks = toks[2:]
	}
	// Leading labels.
	for len(toks) >= 2 && toks[0].kind == tokIdent && toks[1].text == ":" {
		name := toks[0].text
		if prev, dup := a.labels[name]; dup {
			return a.errorf(n, toks[0].col, "label %q already defined on line %d", name, prev.line)
		}
		if looksLikeRegister(name) {
			return a.errorf(n, toks[0].col, "label %q has the name of a register", name)
		}
		a.labels[name] = labelDef{slot: a.slots, line: n}
		toks = toks[2:]
	}
	if len(toks) == 0 {
		return nil
	}
	if toks[0].kind == tokIdent && strings.HasPrefix(toks[0].text, ".") {
		return a.directive(n, toks)
	}
	p := &parser{a: a, line: n, toks: toks}
	var it item
	var err error
	if isLLVMLine(toks) {
		it, err = p.llvm()
	} else {
		it, err = p.ubpf()
	}
	if err != nil {
		return err
	}
	it.line, it.col = n, toks[0].col
	if it.ins.IsExit() && a.firstExit < 0 {
		a.firstExit = a.slots
	}
	a.items = append(a.items, it)
	a.slots += it.ins.Slots()
	return nil
}

// directive accepts the section and symbol directives that compiler output
// carries around code and that do not change the instructions.
func (a *assembler) directive(n int, toks []token) error {
	switch toks[0].text {
	case ".text", ".section", ".globl", ".global", ".p2align", ".align", ".type", ".size", ".file":
		return nil
	}
	return a.errorf(n, toks[0].col, "unknown directive %s", toks[0].text)
}

func (a *assembler) finish() ([]isa.Instruction, error) {
	insns := make([]isa.Instruction, len(a.items))
	slot := 0
	for i, it := range a.items {
		ins := it.ins
		if it.fix != fixNone {
			def, ok := a.labels[it.label]
			if !ok && it.label == "exit" && a.firstExit >= 0 {
				def, ok = labelDef{slot: a.firstExit}, true
			}
			if !ok {
				return nil, a.errorf(it.line, it.labelCol, "undefined label %q", it.label)
			}
			rel := int64(def.slot) - int64(slot+1)
			if it.fix == fixOffset {
				if rel < -1<<15 || rel > 1<<15-1 {
					return nil, a.errorf(it.line, it.labelCol, "jump to %q is %d slots away, beyond the 16-bit offset (use gotol)", it.label, rel)
				}
				ins.Offset = int16(rel)
			} else {
				if rel < -1<<31 || rel > 1<<31-1 {
					return nil, a.errorf(it.line, it.labelCol, "target %q is %d slots away, beyond the 32-bit offset", it.label, rel)
				}
				ins.Imm = rel
			}
		}
		// The parsers only build valid encodings; this is a safety net that
		// turns a parser bug into an error instead of a bad program.
		if err := ins.Validate(); err != nil {
			return nil, a.errorf(it.line, it.col, "internal error: invalid instruction: %v", err)
		}
		insns[i] = ins
		slot += ins.Slots()
	}
	return insns, nil
}

// isLLVMLine tells the two syntaxes apart by the first tokens: LLVM's
// statements start with a register, "*", or a keyword uBPF does not use;
// "exit" and "call N" read the same in both.
func isLLVMLine(toks []token) bool {
	t := toks[0]
	if t.kind == tokPunct {
		return true
	}
	switch t.text {
	case "if", "goto", "gotol", "may_goto", "callx", "ld_pseudo", "exit":
		return true
	case "lock":
		return len(toks) > 1 && toks[1].text == "*"
	case "call":
		if len(toks) < 2 {
			return false
		}
		switch s := toks[1].text; {
		case strings.HasPrefix(s, "%"), s == "local", s == "helper", s == "runtime":
			return false
		}
		return true
	}
	_, _, ok := parseRegName(t.text)
	return ok && len(toks) > 1 && toks[1].kind == tokPunct
}
