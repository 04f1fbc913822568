package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm/internal/shared"
)

func TestRunPrintsR0(t *testing.T) {
	dir := shared.Dir(t, "conformance/tests")
	r := runCLI(t, "", "run", filepath.Join(dir, "subnet.data"))
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "1\n", r.stdout)

	r = runCLI(t, "", "run", "--json", filepath.Join(dir, "mem-len.data"))
	require.Equal(t, 0, r.code, r.stderr)
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	require.Equal(t, map[string]any{"r0": float64(8), "error": "", "insns": float64(2)}, out)

	// --mem-hex overrides the file's memory.
	r = runCLI(t, "", "run", "--mem-hex", "00 01 02", filepath.Join(dir, "mem-len.data"))
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "3\n", r.stdout)
}

// TestRunJITFallback: until the JIT exists, --engine jit runs the
// interpreter, with the same output and a note on stderr saying so.
func TestRunJITFallback(t *testing.T) {
	file := filepath.Join(shared.Dir(t, "conformance/tests"), "subnet.data")
	r := runCLI(t, "", "run", "--engine", "jit", "--json", file)
	require.Equal(t, 0, r.code, r.stderr)
	require.JSONEq(t, `{"r0": 1, "error": "", "insns": 10}`, r.stdout)
	require.Contains(t, r.stderr, "the JIT is not implemented yet; the interp engine ran the program")

	r = runCLI(t, "", "run", "--json", file)
	require.Equal(t, 0, r.code, r.stderr)
	require.Empty(t, r.stderr)
}

func TestRunExitCodes(t *testing.T) {
	loop := writeFile(t, "loop.s", []byte("r0 = 0\nloop:\nr0 += 1\ngoto loop\n"))
	r := runCLI(t, "", "run", "--budget", "100", "--json", loop)
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "BPF program is too large", "the verifier rejects the endless loop")
	r = runCLI(t, "", "run", "--no-verify", "--budget", "100", "--json", loop)
	require.Equal(t, 1, r.code)
	var out struct {
		R0    uint64 `json:"r0"`
		Error string `json:"error"`
		Insns uint64 `json:"insns"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	require.Contains(t, out.Error, "budget")
	require.Greater(t, out.Insns, uint64(100))

	null := writeFile(t, "null.s", []byte("r1 = 0\nr0 = *(u8 *)(r1 + 0)\nexit\n"))
	r = runCLI(t, "", "run", "--no-verify", null)
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "null")
	require.Empty(t, r.stdout)

	ok := writeFile(t, "ok.s", []byte("r0 = 0\nexit\n"))
	for _, args := range [][]string{
		{"run"},
		{"run", "--type", "nope", ok},
		{"run", "--mem-hex", "zz", ok},
		{"run", "--mem-hex", "00", "--packet", ok, ok},
		{"run", filepath.Join(t.TempDir(), "missing.s")},
		{"run", writeFile(t, "bad.s", []byte("r0 = = 1\n"))},
		{"run", writeFile(t, "bad.bin", []byte{1, 2, 3})},
	} {
		r := runCLI(t, "", args...)
		require.Equal(t, 2, r.code, "%v: %s", args, r.stderr)
	}
}

func TestRunXDPPacketAndPcap(t *testing.T) {
	// Pass IPv4, drop anything else; shrink passed packets by 4 bytes.
	prog := writeFile(t, "xdp.s", []byte(`
		r6 = r1
		r2 = *(u32 *)(r6 + 0)
		r3 = *(u32 *)(r6 + 4)
		r4 = r2
		r4 += 14
		r0 = 1
		if r4 > r3 goto out
		r5 = *(u16 *)(r2 + 12)
		if r5 != 0x8 goto out
		r1 = r6
		r2 = -4
		call 65
		r0 = 2
	out:
		exit`))
	ipv4 := ethernet(t, layers.EthernetTypeIPv4, 40)
	arp := ethernet(t, layers.EthernetTypeARP, 28)
	pkt := writeFile(t, "pkt.bin", ipv4)
	r := runCLI(t, "", "run", "--type", "xdp", "--packet", pkt, "--json", prog)
	require.Equal(t, 0, r.code, r.stderr)
	var out struct {
		R0        uint64 `json:"r0"`
		PacketHex string `json:"packet_hex"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	require.Equal(t, uint64(2), out.R0)
	require.Len(t, out.PacketHex, 2*(len(ipv4)-4))

	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	require.NoError(t, w.WriteFileHeader(65535, layers.LinkTypeEthernet))
	for _, p := range [][]byte{ipv4, arp, ipv4} {
		require.NoError(t, w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(0, 0), CaptureLength: len(p), Length: len(p)}, p))
	}
	pcap := writeFile(t, "in.pcap", buf.Bytes())
	r = runCLI(t, "", "run", "--type", "xdp", "--pcap", pcap, prog)
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "3 packets")
	require.Contains(t, r.stdout, "       2  XDP_PASS")
	require.Contains(t, r.stdout, "       1  XDP_DROP")

	r = runCLI(t, "", "run", "--type", "xdp", "--pcap", pcap, "--json", prog)
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, 3, bytes.Count([]byte(r.stdout), []byte("\n")))

	r = runCLI(t, "", "run", "--no-verify", "--pcap", pcap, prog)
	require.Equal(t, 2, r.code, "raw programs take no packets")
	r = runCLI(t, "", "run", "--type", "xdp", "--pcap", writeFile(t, "junk.pcap", []byte("junk")), prog)
	require.Equal(t, 2, r.code)
}

// ethernet builds an Ethernet frame of the given type with n payload bytes.
func ethernet(t *testing.T, typ layers.EthernetType, n int) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	eth := &layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 1}, DstMAC: []byte{2, 0, 0, 0, 0, 2}, EthernetType: typ}
	require.NoError(t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, eth, gopacket.Payload(make([]byte, n))))
	return buf.Bytes()
}

func TestRunELFWithSetupAndDump(t *testing.T) {
	setup := writeFile(t, "setup.json", []byte(`[
		{"map": "array_map", "key_hex": "03000000", "value_hex": "2a00000000000000"},
		{"map": "hash_map", "key_hex": "07000000", "value_hex": "0900000000000000"}
	]`))
	r := runCLI(t, "", "run", "--program", "array_ops", "--setup", setup, "--dump-maps", "--json", "--packet", writeFile(t, "p", make([]byte, 64)), "../../testdata/maps.o")
	require.Equal(t, 0, r.code, r.stderr)
	var out struct {
		R0   uint64                     `json:"r0"`
		Maps map[string]json.RawMessage `json:"maps"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	require.Equal(t, uint64(42+5), out.R0, "array_ops adds 5 to array_map[3]")
	var array map[string]string
	require.NoError(t, json.Unmarshal(out.Maps["array_map"], &array))
	require.Equal(t, "2f00000000000000", array["03000000"])
	var hash map[string]string
	require.NoError(t, json.Unmarshal(out.Maps["hash_map"], &hash))
	require.Equal(t, "0900000000000000", hash["07000000"])
	var percpu map[string][]string
	require.NoError(t, json.Unmarshal(out.Maps["percpu_map"], &percpu))

	// A prog_array entry names a program.
	setup = writeFile(t, "prog.json", []byte(`[{"map": "jump_table", "key_hex": "00000000", "program": "tail_odd"}]`))
	r = runCLI(t, "", "run", "--program", "tail_entry", "--setup", setup, "--packet", writeFile(t, "p", make([]byte, 64)), "../../testdata/tailcall.o")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "200\n", r.stdout)

	for _, bad := range []string{
		`[{"map": "nope", "key_hex": "00", "value_hex": "00"}]`,
		`[{"map": "array_map", "key_hex": "0", "value_hex": "00"}]`,
		`[{"map": "array_map", "key_hex": "00000000", "value_hex": "00"}]`,
		`{`,
	} {
		r = runCLI(t, "", "run", "--program", "array_ops", "--setup", writeFile(t, "bad.json", []byte(bad)), "../../testdata/maps.o")
		require.Equal(t, 2, r.code, "%s: %s", bad, r.stderr)
	}
}

func TestConformancePlugin(t *testing.T) {
	// The runner writes the program as spaced hex bytes and passes the
	// memory and the options as two arguments.
	code := "b7 00 00 00 2a 00 00 00  07 00 00 00 01 00 00 00  95 00 00 00 00 00 00 00"
	r := runCLI(t, code, "conformance-plugin", "", "--engine interp")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "2b\n", r.stdout)

	// r0 = *(u8 *)(r1 + 1)
	code = "71 10 01 00 00 00 00 00  95 00 00 00 00 00 00 00"
	r = runCLI(t, code, "conformance-plugin", "aa  bb  cc  ")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "bb\n", r.stdout)

	// A fault: non-zero exit, the error on stderr.
	r = runCLI(t, code, "conformance-plugin", "")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "out of bounds")
	require.Empty(t, r.stdout)

	// --elf: the program comes from an ELF object on stdin.
	obj, err := os.ReadFile("../../testdata/policy.o")
	require.NoError(t, err)
	r = runCLI(t, string(obj), "conformance-plugin", strings.Repeat("00 ", 24), "--elf")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "1\n", r.stdout)
}
