package main

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm/internal/kerneltest"
)

func TestDiff(t *testing.T) {
	kerneltest.Require(t)
	smod := writeFile(t, "smod.s", []byte("r0 = -7\nr1 = 3\nr0 s%= r1\nexit\n"))
	rawMem := writeFile(t, "raw.s", []byte("r0 = *(u8 *)(r1 + 0)\nexit\n"))
	pkt := make([]byte, 64)
	for i := range pkt {
		pkt[i] = byte(i)
	}
	pktFile := writeFile(t, "pkt.bin", pkt)
	xdp := writeFile(t, "xdp.s", []byte(`
		r2 = *(u32 *)(r1 + 0)
		r3 = *(u32 *)(r1 + 4)
		r4 = r2
		r4 += 8
		r0 = 1
		if r4 > r3 goto out
		r0 = *(u64 *)(r2 + 0)
		*(u8 *)(r2 + 1) = 0xee
	out:
		exit
	`))
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"same", []string{"diff", smod}, 0, "kernel: r0 = 0xffffffffffffffff (-1)", ""},
		{"xdp packet and 64-bit r0", []string{"diff", "--type", "xdp", "--packet", pktFile, xdp}, 0, "same", ""},
		{"socket filter, short packet", []string{"diff", "--type", "socket_filter", "--mem-hex", "0102", smod}, 0, "same", ""},
		{"rejected by the kernel", []string{"diff", "--mem-hex", "01", rawMem}, 1, "kernel: rejected: insn 0:", "the kernel refuses"},
		{"one engine", []string{"diff", "--engine", "interp", smod}, 0, "interp:", ""},
		{"no file", []string{"diff"}, 2, "", "want one FILE"},
		{"pcap", []string{"diff", "--pcap", pktFile, smod}, 2, "", "--pcap"},
		{"short xdp packet", []string{"diff", "--type", "xdp", "--mem-hex", "01", smod}, 2, "", "at least 14 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, "", tt.args...)
			require.Equal(t, tt.code, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			require.Contains(t, r.stdout, tt.stdout)
			require.Contains(t, r.stderr, tt.stderr)
		})
	}
}

func TestDiffJSON(t *testing.T) {
	kerneltest.Require(t)
	prog := writeFile(t, "p.s", []byte("r0 = 0x1122334455667788 ll\nexit\n"))
	r := runCLI(t, "", "diff", "--json", "--type", "xdp", "--mem-hex", "000102030405060708090a0b0c0d", prog)
	require.Equal(t, 0, r.code, r.stderr)
	var out diffResult
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	require.True(t, out.Same)
	require.Equal(t, uint64(0x1122334455667788), out.Kernel.R0)
	require.Equal(t, 64, out.Kernel.R0Bits)
	require.Equal(t, "000102030405060708090a0b0c0d", *out.Kernel.PacketHex)
	require.Contains(t, out.Engines, "interp")
	require.Equal(t, out.Kernel.R0, out.Engines["interp"].R0)
	require.True(t, out.Verifier.Accepted)
	require.Empty(t, out.Differences)
}

func TestDiffELF(t *testing.T) {
	kerneltest.Require(t)
	if _, err := os.Stat("../../testdata/xdp_parse.o"); err != nil {
		t.Skip("testdata/xdp_parse.o is missing")
	}
	pkt := writeFile(t, "pkt.bin", make([]byte, 64))
	r := runCLI(t, "", "diff", "--packet", pkt, "../../testdata/xdp_parse.o")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	require.Contains(t, r.stdout, "same")
}

func TestFuzz(t *testing.T) {
	kerneltest.Require(t)
	r := runCLI(t, "", "fuzz", "--seed", "3", "--count", "100", "--progress", "0")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	require.Contains(t, r.stdout, "seed 3, mix all: 100 programs")
	require.Contains(t, r.stdout, "interp: ")

	r = runCLI(t, "", "fuzz", "--seed", "3", "--count", "20", "--mix", "alu,jmp", "--type", "socket_filter", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var out fuzzSummary
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	require.Equal(t, 20, out.Programs)
	require.Equal(t, "alu,jmp", out.Mix)
	require.Nil(t, out.Mismatch)

	for _, bad := range [][]string{{"--mix", "nope"}, {"--type", "raw"}, {"--count", "-1"}, {"file"}} {
		r = runCLI(t, "", append([]string{"fuzz"}, bad...)...)
		require.Equal(t, 2, r.code, "%v: %s", bad, r.stderr)
	}
}
