package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestVerifyVerdicts(t *testing.T) {
	ok := writeFile(t, "ok.s", []byte("r0 = 0\nexit\n"))
	r := runCLI(t, "", "verify", ok)
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "accepted")

	bad := writeFile(t, "bad.s", []byte("r0 = 0\nr1 = 0x100000000 ll\nr0 = *(u64 *)(r10 + 8)\nexit\n"))
	r = runCLI(t, "", "verify", bad)
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr+r.stdout, "insn 3: invalid read from stack R10 off=8 size=8")

	r = runCLI(t, "", "verify", "--json", bad)
	require.Equal(t, 1, r.code)
	var out verifyResult
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	require.Equal(t, verifyResult{Accepted: false, Error: "invalid read from stack R10 off=8 size=8", Insn: 3}, out)

	r = runCLI(t, "", "verify", "--json", ok)
	require.Equal(t, 0, r.code)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	require.Equal(t, verifyResult{Accepted: true, Insn: -1}, out)
}

func TestVerifyUsage(t *testing.T) {
	r := runCLI(t, "", "verify")
	require.Equal(t, 2, r.code)
	ok := writeFile(t, "ok.s", []byte("r0 = 0\nexit\n"))
	r = runCLI(t, "", "verify", "--type", "nonsense", ok)
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "unknown program type")
	r = runCLI(t, "", "verify", "--log", "3", ok)
	require.Equal(t, 2, r.code)
	r = runCLI(t, "", "verify", filepath.Join(t.TempDir(), "missing.o"))
	require.Equal(t, 2, r.code)
}

func TestVerifyLogAndModes(t *testing.T) {
	// Reading uninitialised stack is allowed as root, not unprivileged.
	src := writeFile(t, "uninit.s", []byte("*(u64 *)(r10 - 16) = 0\nr0 = *(u64 *)(r10 - 8)\nr0 = 0\nexit\n"))
	r := runCLI(t, "", "verify", "--type", "socket_filter", src)
	require.Equal(t, 0, r.code, r.stderr)
	r = runCLI(t, "", "verify", "--type", "socket_filter", "--unprivileged", "--log", "1", src)
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stdout+r.stderr, "1: (79) r0 = *(u64 *)(r10 -8)\ninvalid read from stack off -8+0 size 8")

	r = runCLI(t, "", "verify", "--log", "2", "--stats", "--type", "socket_filter", src)
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "0: R1=ctx() R10=fp0\n0: (7a) *(u64 *)(r10 -16) = 0")
	require.Contains(t, r.stdout, "processed 4 insns")
}

func TestVerifyKernelTypes(t *testing.T) {
	// A kprobe may read pt_regs, not write it.
	read := writeFile(t, "read.s", []byte("r2 = *(u64 *)(r1 + 112)\nr0 = 0\nexit\n"))
	write := writeFile(t, "write.s", []byte("r2 = 1\n*(u64 *)(r1 + 112) = r2\nr0 = 0\nexit\n"))
	r := runCLI(t, "", "verify", "--type", "kprobe", read)
	require.Equal(t, 0, r.code, r.stderr)
	r = runCLI(t, "", "verify", "--type", "kprobe", "--json", write)
	require.Equal(t, 1, r.code)
	var out verifyResult
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	require.Equal(t, "invalid bpf_context access off=112 size=8", out.Error)
	require.Equal(t, 1, out.Insn)
}

func TestVerifyTestdataObjects(t *testing.T) {
	// The repository's own compiled test programs, not ../shared.
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "*.o"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		r := runCLI(t, "", "verify", f)
		require.Equal(t, 0, r.code, "%s: %s", f, r.stderr)
	}
}

func TestVerifyEveryProgramOfAnObject(t *testing.T) {
	maps := filepath.Join("..", "..", "testdata", "maps.o")
	r := runCLI(t, "", "verify", "--json", maps)
	require.Equal(t, 0, r.code, r.stderr)
	var got []string
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	for dec.More() {
		var out verifyResult
		require.NoError(t, dec.Decode(&out))
		require.True(t, out.Accepted)
		got = append(got, out.Program)
	}
	require.Equal(t, []string{"array_ops", "hash_ops", "percpu_ops", "lru_ops", "queue_stack"}, got)

	// Unprivileged, both loop programs are rejected: each gets its line
	// and the command fails.
	r = runCLI(t, "", "verify", "--unprivileged", filepath.Join("..", "..", "testdata", "loops.o"))
	require.Equal(t, 1, r.code)
	require.Equal(t, "loop_for: rejected: insn 19: back-edge from insn 19 to 10\n"+
		"loop_bpf_loop: rejected: insn 7: loading/calling other bpf or kernel functions are allowed for CAP_BPF and CAP_SYS_ADMIN\n", r.stdout)

	// A selected program is verified alone, without a program field.
	r = runCLI(t, "", "verify", "--json", "--program", "hash_ops", maps)
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "{\"accepted\":true,\"error\":\"\",\"insn\":-1}\n", r.stdout)
}
