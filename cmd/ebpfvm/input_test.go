package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm/elf"
	"github.com/ebpfvm/ebpfvm/isa"
)

// TestDisasmELF disassembles every program of every test object and
// assembles the listing back to the same instructions.
func TestDisasmELF(t *testing.T) {
	files, err := filepath.Glob("../../testdata/*.o")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		obj, err := elf.Load(file)
		require.NoError(t, err)
		for i, p := range obj.Programs {
			t.Run(filepath.Base(file)+"/"+p.Name, func(t *testing.T) {
				args := []string{"disasm", "--program", p.Name, file}
				if i == 0 {
					args = []string{"disasm", file}
				}
				r := runCLI(t, "", args...)
				require.Equal(t, 0, r.code, r.stderr)
				lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
				require.Len(t, lines, len(p.Insns))
				require.True(t, strings.HasPrefix(lines[0], "0: "), lines[0])

				src := writeFile(t, "p.s", []byte(r.stdout))
				r = runCLI(t, "", "asm", src)
				require.Equal(t, 0, r.code, r.stderr)
				require.Equal(t, string(isa.MustEncode(p.Insns)), r.stdout)
			})
		}
	}
}

func TestDisasmELFAnnotations(t *testing.T) {
	r := runCLI(t, "", "disasm", "--program", "strings", "../../testdata/globals.o")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "0: ld_pseudo r1, 2, 17179869185  # map .data+4\n")
	require.Contains(t, r.stdout, "3: ld_pseudo r3, 2, 4  # map .rodata.str1.1\n")

	r = runCLI(t, "", "disasm", "../../testdata/subprog.o")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "4: call pc+10  # call add3\n")
	require.Contains(t, r.stdout, "15: r0 = r2  # add3:\n")

	r = runCLI(t, "", "disasm", "--program", "loop_bpf_loop", "../../testdata/loops.o")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "7: ld_pseudo r2, 4, 10  # function sum_squares\n")

	r = runCLI(t, "", "disasm", "../../testdata/tailcall.o")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "2: ld_pseudo r2, 1, 0  # map jump_table\n")
}

func TestELFSelection(t *testing.T) {
	const file = "../../testdata/histogram.o"
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	obj, err := elf.Load(file)
	require.NoError(t, err)
	listing := func(name string) string {
		return elfListing(obj.Program(name))
	}
	noExt := writeFile(t, "histogram", data)
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"default is the first", []string{file}, "", listing("hist_skb")},
		{"by name", []string{"--program", "hist_event", file}, "", listing("hist_event")},
		{"by section", []string{"--section", "syscall", file}, "", listing("hist_event")},
		{"by both", []string{"--program", "hist_skb", "--section", "socket", file}, "", listing("hist_skb")},
		{"flag after file", []string{file, "--program", "hist_event"}, "", listing("hist_event")},
		{"by content", []string{noExt}, "", listing("hist_skb")},
		{"stdin", []string{"--program", "hist_event", "-"}, string(data), listing("hist_event")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.stdin, append([]string{"disasm"}, tc.args...)...)
			require.Equal(t, 0, r.code, r.stderr)
			require.Equal(t, tc.want, r.stdout)
		})
	}
}

func TestELFErrors(t *testing.T) {
	data, err := os.ReadFile("../../testdata/maps.o")
	require.NoError(t, err)
	truncated := writeFile(t, "t.o", data[:len(data)/2])
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no such program", []string{"--program", "nope", "../../testdata/maps.o"},
			"no program nope; the programs are array_ops (section socket), hash_ops (section socket)"},
		{"no program in section", []string{"--program", "array_ops", "--section", "xdp", "../../testdata/maps.o"},
			"no program array_ops in section xdp;"},
		{"selection without ELF", []string{"--program", "x", writeFile(t, "p.s", []byte("exit\n"))},
			"--program and --section select programs of ELF objects"},
		{"unsupported", []string{"../../testdata/bad/kfunc.o"},
			"elf: section xdp, program kfunc, insn 0: unsupported: call to kernel function (kfunc) bpf_cast_to_kern_ctx"},
		{"truncated", []string{truncated}, "t.o: elf:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, "", append([]string{"disasm"}, tc.args...)...)
			require.Equal(t, exitBadInput, r.code)
			require.Contains(t, r.stderr, tc.want)
			require.Empty(t, r.stdout)
		})
	}
}
