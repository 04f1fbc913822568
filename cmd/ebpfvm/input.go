package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/ebpfvm/ebpfvm/conformance"
	"github.com/ebpfvm/ebpfvm/elf"
	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/isa/asm"
)

// inputHelp describes the input files every command reads.
const inputHelp = `Input files (FILE; "-" reads standard input), recognised by extension, else by content:
  .bin        raw bytecode: little-endian 8-byte instruction slots
  .s, .asm    text assembly, in LLVM's syntax or the conformance suite's
  .data       a BPF conformance suite test; its "-- mem" is the input memory
  .o          an ELF object from clang -target bpf; --program NAME or
              --section NAME picks a program (default: the first)`

// inputFormat is how a program file is written.
type inputFormat int

const (
	formatRaw inputFormat = iota
	formatAsm
	formatData
	formatELF
)

func (f inputFormat) String() string {
	return [...]string{"raw bytecode", "assembly", "conformance test", "ELF object"}[f]
}

// program is a loaded input file: the instructions and what the file says
// about running them.
type program struct {
	path   string
	format inputFormat
	insns  []isa.Instruction
	// mem is the input memory a conformance test gives, else nil.
	mem []byte
	// test is the parsed conformance test for .data input, else nil.
	test *conformance.Test
	// object is the ELF object and elfProg the program selected in it, for
	// ELF input, else nil. insns are elfProg's.
	object  *elf.Object
	elfProg *elf.Program
}

// loadProgram reads and decodes the program in path ("-" for stdin), the
// first program of an ELF object.
func loadProgram(path string, stdin io.Reader) (*program, error) {
	return loadProgramSelect(path, stdin, "", "")
}

// loadProgramSelect reads and decodes the program in path ("-" for stdin).
// In an ELF object it picks the program called name, else the first in
// section, else the first; name and section apply only to ELF objects.
// Every command that takes a program file loads it through here.
func loadProgramSelect(path string, stdin io.Reader, name, section string) (*program, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	p := &program{path: path, format: detectFormat(path, data)}
	file := path
	if path == "-" {
		file = "<stdin>"
	}
	if p.format != formatELF && (name != "" || section != "") {
		return nil, usagef("--program and --section select programs of ELF objects, and %s is %s", file, p.format)
	}
	switch p.format {
	case formatRaw:
		p.insns, err = isa.Decode(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	case formatAsm:
		p.insns, err = asm.Assemble(file, string(data))
		if err != nil {
			return nil, err
		}
	case formatData:
		p.test, err = conformance.Parse(file, data)
		if err != nil {
			return nil, err
		}
		p.insns, p.mem = p.test.Program, p.test.Mem
	case formatELF:
		p.object, err = elf.LoadReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		p.elfProg, err = selectProgram(p.object, name, section)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		p.insns = p.elfProg.Insns
	}
	if len(p.insns) == 0 {
		return nil, fmt.Errorf("%s: the program is empty", file)
	}
	return p, nil
}

// selectProgram picks the program of obj called name and in section
// (either may be empty), or the first one.
func selectProgram(obj *elf.Object, name, section string) (*elf.Program, error) {
	var names []string
	for _, p := range obj.Programs {
		if (name == "" || p.Name == name) && (section == "" || p.Section == section) {
			return p, nil
		}
		names = append(names, fmt.Sprintf("%s (section %s)", p.Name, p.Section))
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("the object has no programs")
	}
	var want []string
	if name != "" {
		want = append(want, "program "+name)
	}
	if section != "" {
		want = append(want, "section "+section)
	}
	return nil, fmt.Errorf("no %s; the programs are %s", strings.Join(want, " in "), strings.Join(names, ", "))
}

var elfMagic = []byte("\x7fELF")

// detectFormat decides by extension, and for other names by content: ELF
// magic, conformance section headers, text, else raw bytecode.
func detectFormat(path string, data []byte) inputFormat {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".bin":
		return formatRaw
	case ".s", ".asm":
		return formatAsm
	case ".data":
		return formatData
	case ".o", ".elf":
		return formatELF
	}
	switch {
	case bytes.HasPrefix(data, elfMagic):
		return formatELF
	case isConformance(data):
		return formatData
	case isText(data):
		return formatAsm
	}
	return formatRaw
}

func isConformance(data []byte) bool {
	for line := range strings.Lines(string(data)) {
		if strings.HasPrefix(line, "-- asm") || strings.HasPrefix(line, "-- raw") {
			return true
		}
	}
	return false
}

// isText reports whether data reads as text: valid UTF-8 without control
// characters other than white space. Bytecode almost always has a zero byte.
func isText(data []byte) bool {
	if len(data) == 0 || !utf8.Valid(data) {
		return false
	}
	for _, c := range data {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' {
			return false
		}
	}
	return true
}
