package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm/conformance"
	"github.com/ebpfvm/ebpfvm/internal/shared"
	"github.com/ebpfvm/ebpfvm/isa"
)

// result is the outcome of one in-process run of the command line.
type result struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &env{stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr})
	return result{code, stdout.String(), stderr.String()}
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, data, 0o644))
	return path
}

var (
	prog        = []isa.Instruction{isa.LoadImm64(isa.R1, 5), isa.ALUMov.Imm(isa.R0, 42), isa.Return()}
	progListing = "0: r1 = 5 ll\n2: r0 = 42\n3: exit\n"
)

func TestDisasmInputs(t *testing.T) {
	code := isa.MustEncode(prog)
	for _, tc := range []struct {
		name string
		file string
		data []byte
	}{
		{"raw by extension", "p.bin", code},
		{"raw by content", "p", code},
		{"llvm assembly", "p.s", []byte("r1 = 5 ll\nr0 = 42\nexit\n")},
		{"ubpf assembly", "p.asm", []byte("lddw %r1, 5\nmov %r0, 42\nexit\n")},
		{"assembly by content", "p.txt", []byte("lddw %r1, 5\nmov %r0, 42\nexit\n")},
		{"conformance", "p.data", []byte("-- asm\nlddw %r1, 5\nmov %r0, 42\nexit\n-- result\n0x2a\n")},
		{"conformance by content", "p.test", []byte("# c\n-- raw\n18 01 00 00 05 00 00 00\n00 00 00 00 00 00 00 00\nb7 00 00 00 2a 00 00 00\n95 00 00 00 00 00 00 00\n")},
		{"listing", "p.s", []byte(progListing)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, "", "disasm", writeFile(t, tc.file, tc.data))
			require.Equal(t, 0, r.code, r.stderr)
			require.Equal(t, progListing, r.stdout)
			require.Empty(t, r.stderr)
		})
	}
}

func TestDisasmStdin(t *testing.T) {
	r := runCLI(t, string(isa.MustEncode(prog)), "disasm", "-")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, progListing, r.stdout)

	r = runCLI(t, "mov %r0, 42\nexit\n", "disasm", "-")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "0: r0 = 42\n1: exit\n", r.stdout)
}

func TestAsm(t *testing.T) {
	src := writeFile(t, "p.s", []byte("r1 = 5 ll\nmov %r0, 42\nexit\n"))
	want := isa.MustEncode(prog)

	// Flags after the file, as DESIGN.md writes it, and before.
	dir := t.TempDir()
	after, before := filepath.Join(dir, "after.bin"), filepath.Join(dir, "before.bin")
	for out, args := range map[string][]string{
		after:  {"asm", src, "-o", after},
		before: {"asm", "-o", before, src},
	} {
		r := runCLI(t, "", args...)
		require.Equal(t, 0, r.code, r.stderr)
		require.Empty(t, r.stdout)
		got, err := os.ReadFile(out)
		require.NoError(t, err)
		require.Equal(t, want, got)

		// What asm writes, disasm reads back.
		r = runCLI(t, "", "disasm", out)
		require.Equal(t, progListing, r.stdout)
	}

	// Without -o (or with -o -) the bytecode goes to standard output.
	for _, args := range [][]string{{"asm", src}, {"asm", "-o", "-", src}} {
		r := runCLI(t, "", args...)
		require.Equal(t, 0, r.code, r.stderr)
		require.Equal(t, string(want), r.stdout)
	}

	// A conformance file converts to raw bytecode.
	r := runCLI(t, "", "asm", writeFile(t, "p.data", []byte("-- asm\nlddw %r1, 5\nmov %r0, 42\nexit\n")))
	require.Equal(t, string(want), r.stdout)
}

func TestBadInput(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.s")
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"no command", nil, "usage: ebpfvm COMMAND"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"disasm without file", []string{"disasm"}, "usage: ebpfvm disasm [--program NAME | --section NAME] FILE"},
		{"disasm two files", []string{"disasm", "a", "b"}, "want one FILE, got 2"},
		{"unknown flag", []string{"asm", "-x", "p.s"}, "flag provided but not defined: -x"},
		{"missing file", []string{"disasm", missing}, "no such file"},
		{"assembly error", []string{"disasm", writeFile(t, "bad.s", []byte("r0 = 1\nr0 += w1\n"))}, "bad.s:2:7: register w1 has the wrong width"},
		{"decode error", []string{"disasm", writeFile(t, "bad.bin", []byte{0xff, 0, 0, 0, 0, 0, 0, 0})}, "unknown opcode 0xff"},
		{"truncated bytecode", []string{"disasm", writeFile(t, "bad.bin", []byte{0x95, 0, 0})}, "not a multiple of 8"},
		{"empty program", []string{"disasm", writeFile(t, "empty.s", []byte("# nothing\n"))}, "the program is empty"},
		{"bad conformance file", []string{"disasm", writeFile(t, "bad.data", []byte("-- asm\nexit\n-- Unknown\n"))}, `unknown section "Unknown"`},
		{"truncated elf", []string{"disasm", writeFile(t, "p.o", []byte("\x7fELF"))}, "p.o: elf: EOF"},
		{"unwritable output", []string{"asm", "-o", filepath.Join(missing, "x.bin"), writeFile(t, "p.s", []byte("exit\n"))}, "no such file"},
		{"help for unknown command", []string{"help", "nope"}, `unknown command "nope"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, "", tc.args...)
			require.Equal(t, exitBadInput, r.code)
			require.Contains(t, r.stderr, tc.stderr)
			require.Empty(t, r.stdout)
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		r := runCLI(t, "", args...)
		require.Equal(t, 0, r.code)
		for name := range commands {
			require.Contains(t, r.stdout, "  "+name+" ")
		}
		require.Contains(t, r.stdout, "Exit status")
	}
	for _, args := range [][]string{{"help", "asm"}, {"asm", "-h"}} {
		r := runCLI(t, "", args...)
		require.Equal(t, 0, r.code)
		require.Contains(t, r.stdout, "usage: ebpfvm asm [-o OUT.bin] FILE")
		require.Contains(t, r.stdout, "standard output without -o")
	}
}

// TestExitCodes checks the mechanism later commands use to exit 1.
func TestExitCodes(t *testing.T) {
	register(&command{name: "test-fail", run: func(*env, []string) error {
		return &exitError{code: exitFailure, err: errors.New("the program faulted")}
	}})
	t.Cleanup(func() { delete(commands, "test-fail") })
	r := runCLI(t, "", "test-fail")
	require.Equal(t, exitFailure, r.code)
	require.Equal(t, "ebpfvm test-fail: the program faulted\n", r.stderr)
}

// TestDisasmConformance disassembles every program of the conformance suite
// and assembles the listing back to the same bytes.
func TestDisasmConformance(t *testing.T) {
	files, err := conformance.Files(filepath.Join(shared.Dir(t, "conformance"), "tests"))
	require.NoError(t, err)
	for _, f := range files {
		r := runCLI(t, "", "disasm", f)
		require.Equal(t, 0, r.code, "%s: %s", f, r.stderr)
		back := runCLI(t, r.stdout, "asm", "-")
		require.Equal(t, 0, back.code, "%s: %s", f, back.stderr)
		tc, err := conformance.Load(f)
		require.NoError(t, err)
		require.Equal(t, string(isa.MustEncode(tc.Program)), back.stdout, f)
	}
}

// TestBinary builds the command and checks that main turns run's result
// into the process's exit status.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "ebpfvm")
	build := exec.Command("go", "build", "-o", bin, ".")
	// Build for the machine the test runs on, also when the test itself is
	// cross-compiled and run under an emulator (GOARCH=arm64 go test -exec
	// qemu-aarch64): the binary is executed directly.
	build.Env = append(os.Environ(), "GOARCH=", "GOOS=")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	src := writeFile(t, "p.s", []byte("r0 = 42\nexit\n"))
	out, err = exec.Command(bin, "disasm", src).Output()
	require.NoError(t, err)
	require.Equal(t, "0: r0 = 42\n1: exit\n", string(out))

	err = exec.Command(bin, "disasm").Run()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, exitBadInput, ee.ExitCode())
}
