// Package conformance reads the test files of the BPF ISA conformance suite
// (github.com/Alan-Jowett/bpf_conformance): a program in the suite's
// assembly syntax or as raw bytecode, its input memory, and the expected
// result or error.
//
// A file is a list of sections, each introduced by a line "-- NAME"; lines
// starting with "#" before the first section are comments. The sections are
// "asm", "raw", "mem", "result", "error", "c" and "no register offset";
// anything else is an error, as is a file without a program.
package conformance

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/isa/asm"
)

// Test is one parsed test file.
type Test struct {
	// Name is the name the file was parsed under (Load uses its path).
	Name string
	// Asm is the text of the "-- asm" section, or "" if there is none.
	Asm string
	// AsmLine is the file line of the first line of Asm.
	AsmLine int
	// Raw is the bytecode of the "-- raw" section, or nil if there is none.
	Raw []byte
	// Program is the program: decoded from Raw if present, else assembled
	// from Asm. When both are present they encode the same bytes.
	Program []isa.Instruction
	// Mem is the input memory ("-- mem"), empty if there is none.
	Mem []byte
	// Result is the expected r0 ("-- result"), valid if HasResult.
	Result    uint64
	HasResult bool
	// ExpectError says the program must be refused or must fail at run
	// time ("-- error"); ErrorText is the reference implementation's
	// message, possibly empty.
	ExpectError bool
	ErrorText   string
	// C is the C source the program was compiled from ("-- c").
	C string
	// NoRegisterOffset is the "-- no register offset" marker some runtimes
	// use; it carries no expectation.
	NoRegisterOffset bool
}

// Error reports a malformed test file.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// section is the text of one section and the file line of its first line.
type section struct {
	header int // line of "-- NAME"
	first  int // line after the header
	lines  []string
}

func (s *section) text() string { return strings.Join(s.lines, "\n") }

var knownSections = []string{"asm", "raw", "mem", "result", "error", "c", "no register offset"}

// Load reads and parses the test file at path.
func Load(path string) (*Test, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Files lists the *.data files in dir, sorted by name.
func Files(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.data"))
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	return files, nil
}

// Parse parses a test file; name is used in error messages. The program is
// assembled or decoded, so an error may also be an *asm.Error (with the
// file's line numbers) or wrap an *isa.DecodeError.
func Parse(name string, data []byte) (*Test, error) {
	sections, err := split(name, string(data))
	if err != nil {
		return nil, err
	}
	t := &Test{Name: name}
	errAt := func(line int, format string, args ...any) error {
		return &Error{File: name, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	if s := sections["asm"]; s != nil {
		t.Asm, t.AsmLine = s.text(), s.first
	}
	if s := sections["raw"]; s != nil {
		if t.Raw, err = parseRaw(s, errAt); err != nil {
			return nil, err
		}
	}
	if s := sections["mem"]; s != nil {
		if t.Mem, err = parseHexBytes(s, errAt); err != nil {
			return nil, err
		}
	}
	if s := sections["result"]; s != nil {
		text := strings.TrimSpace(s.text())
		digits := strings.TrimPrefix(strings.TrimPrefix(text, "0x"), "0X")
		if t.Result, err = strconv.ParseUint(digits, 16, 64); err != nil {
			return nil, errAt(s.header, "result %q is not a hexadecimal 64-bit number", text)
		}
		t.HasResult = true
	}
	if s := sections["error"]; s != nil {
		t.ExpectError, t.ErrorText = true, strings.TrimSpace(s.text())
	}
	if s := sections["c"]; s != nil {
		t.C = s.text()
	}
	t.NoRegisterOffset = sections["no register offset"] != nil

	if err := t.loadProgram(sections, errAt); err != nil {
		return nil, err
	}
	return t, nil
}

// split cuts the file into its sections.
func split(name, data string) (map[string]*section, error) {
	sections := map[string]*section{}
	var cur *section
	for i, line := range strings.Split(data, "\n") {
		n := i + 1
		line = strings.TrimSuffix(line, "\r")
		if head, ok := strings.CutPrefix(line, "-- "); ok {
			head = strings.TrimSpace(head)
			if !slices.Contains(knownSections, head) {
				return nil, &Error{File: name, Line: n, Msg: fmt.Sprintf("unknown section %q", head)}
			}
			if prev := sections[head]; prev != nil {
				return nil, &Error{File: name, Line: n, Msg: fmt.Sprintf("section %q repeated (first on line %d)", head, prev.header)}
			}
			cur = &section{header: n, first: n + 1}
			sections[head] = cur
			continue
		}
		if cur == nil {
			if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
				return nil, &Error{File: name, Line: n, Msg: "text before the first section"}
			}
			continue
		}
		cur.lines = append(cur.lines, line)
	}
	return sections, nil
}

// loadProgram assembles and decodes the program sections.
func (t *Test) loadProgram(sections map[string]*section, errAt func(int, string, ...any) error) error {
	asmSec, rawSec := sections["asm"], sections["raw"]
	if asmSec == nil && rawSec == nil {
		return errAt(1, "no program: the file has neither an asm nor a raw section")
	}
	var fromAsm []isa.Instruction
	if asmSec != nil {
		insns, err := asm.Assemble(t.Name, t.Asm)
		if err != nil {
			// Report the line in the file, not in the section.
			if ae, ok := errors.AsType[*asm.Error](err); ok {
				ae.Line += t.AsmLine - 1
			}
			return err
		}
		if len(insns) == 0 {
			return errAt(asmSec.header, "empty program: the asm section has no instructions")
		}
		fromAsm, t.Program = insns, insns
	}
	if rawSec == nil {
		return nil
	}
	insns, err := isa.Decode(t.Raw)
	if err != nil {
		return fmt.Errorf("%s:%d: raw program: %w", t.Name, rawSec.header, err)
	}
	if len(insns) == 0 {
		return errAt(rawSec.header, "empty program: the raw section has no instructions")
	}
	if fromAsm != nil {
		b, err := isa.Encode(fromAsm)
		if err != nil {
			return fmt.Errorf("%s: asm program: %w", t.Name, err)
		}
		if !slices.Equal(b, t.Raw) {
			return errAt(rawSec.header, "the asm and raw sections hold different programs")
		}
	}
	t.Program = insns
	return nil
}

// parseRaw reads bytecode written either as one 64-bit little-endian slot
// value per line ("0x0000000000000095") or as hex bytes ("95 00 00 00 00 00
// 00 00").
func parseRaw(s *section, errAt func(int, string, ...any) error) ([]byte, error) {
	out := []byte{}
	for i, line := range s.lines {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if len(fields) == 1 && strings.HasPrefix(fields[0], "0x") {
			v, err := strconv.ParseUint(fields[0][2:], 16, 64)
			if err != nil {
				return nil, errAt(s.first+i, "raw slot %q is not a 64-bit hexadecimal number", fields[0])
			}
			out = binary.LittleEndian.AppendUint64(out, v)
			continue
		}
		for _, f := range fields {
			b, err := hexByte(f)
			if err != nil {
				return nil, errAt(s.first+i, "raw byte %q is not two hexadecimal digits", f)
			}
			out = append(out, b)
		}
	}
	return out, nil
}

// parseHexBytes reads bytes written as two hex digits each, separated by
// white space.
func parseHexBytes(s *section, errAt func(int, string, ...any) error) ([]byte, error) {
	out := []byte{}
	for i, line := range s.lines {
		for _, f := range strings.Fields(line) {
			b, err := hexByte(f)
			if err != nil {
				return nil, errAt(s.first+i, "memory byte %q is not two hexadecimal digits", f)
			}
			out = append(out, b)
		}
	}
	return out, nil
}

func hexByte(s string) (byte, error) {
	if len(s) != 2 {
		return 0, hex.ErrLength
	}
	var b [1]byte
	_, err := hex.Decode(b[:], []byte(s))
	return b[0], err
}
