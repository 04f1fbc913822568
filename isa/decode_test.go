package isa_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm/conformance"
	"github.com/ebpfvm/ebpfvm/internal/shared"
	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/isa/asm"
)

func slots(s ...[]byte) []byte {
	var out []byte
	for _, b := range s {
		out = append(out, b...)
	}
	return out
}

var (
	exitSlot = []byte{0x95, 0, 0, 0, 0, 0, 0, 0}
	movSlot  = []byte{0xb7, 0x01, 0, 0, 42, 0, 0, 0}
)

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		code   []byte
		offset int
		index  int
		opcode isa.Opcode
		reason string
	}{
		{"length not a multiple of 8", slots(movSlot, exitSlot[:4]), 8, 1, 0, "length 12 is not a multiple of 8"},
		{"unknown opcode", slots(movSlot, []byte{0xff, 0, 0, 0, 0, 0, 0, 0}), 8, 1, 0xff, "unknown opcode 0xff"},
		{"unknown opcode of a known class", slots([]byte{0xf4, 0, 0, 0, 0, 0, 0, 0}), 0, 0, 0xf4, "unknown opcode 0xf4"},
		{"dst register above 10", slots([]byte{0xb7, 0x0b, 0, 0, 0, 0, 0, 0}), 0, 0, 0xb7, "invalid register r11 (dst)"},
		{"src register above 10", slots(exitSlot, []byte{0xbf, 0xc1, 0, 0, 0, 0, 0, 0}), 8, 1, 0xbf, "invalid register r12 (src)"},
		{"reserved src", slots([]byte{0x07, 0x10, 0, 0, 1, 0, 0, 0}), 0, 0, 0x07, "reserved field src is 1, must be 0"},
		{"reserved offset", slots([]byte{0x95, 0, 1, 0, 0, 0, 0, 0}), 0, 0, 0x95, "reserved field offset is 1, must be 0"},
		{"reserved imm", slots([]byte{0x0f, 0x21, 0, 0, 1, 0, 0, 0}), 0, 0, 0x0f, "reserved field imm is 1, must be 0"},
		{"reserved dst", slots([]byte{0x05, 0x01, 0, 0, 0, 0, 0, 0}), 0, 0, 0x05, "reserved field dst is 1, must be 0"},
		{"lddw cut off", slots(exitSlot, []byte{0x18, 0x01, 0, 0, 1, 0, 0, 0}), 8, 1, 0x18, "lddw is cut off"},
		{"lddw second slot opcode", slots(exitSlot, []byte{0x18, 0x01, 0, 0, 1, 0, 0, 0}, []byte{0x95, 0, 0, 0, 0, 0, 0, 0}), 16, 2, 0x95, "second slot of lddw must have zero opcode, registers and offset"},
		{"lddw second slot registers", slots([]byte{0x18, 0x01, 0, 0, 1, 0, 0, 0}, []byte{0, 0x10, 0, 0, 0, 0, 0, 0}), 8, 1, 0, "second slot of lddw"},
		{"lddw second slot offset", slots([]byte{0x18, 0x01, 0, 0, 1, 0, 0, 0}, []byte{0, 0, 0, 1, 0, 0, 0, 0}), 8, 1, 0, "second slot of lddw"},
		{"unknown lddw pseudo source", slots([]byte{0x18, 0x71, 0, 0, 1, 0, 0, 0}, make([]byte, 8)), 0, 0, 0x18, "unknown lddw pseudo source 7"},
		{"unknown atomic", slots([]byte{0xdb, 0x21, 0, 0, 0x02, 0, 0, 0}), 0, 0, 0xdb, "unknown atomic operation 0x2"},
		{"bad byte swap width", slots([]byte{0xd4, 0x01, 0, 0, 8, 0, 0, 0}), 0, 0, 0xd4, "byte swap width must be 16, 32 or 64, not 8"},
		{"bad signed division offset", slots([]byte{0x3f, 0x21, 2, 0, 0, 0, 0, 0}), 0, 0, 0x3f, "div offset must be 0 (unsigned) or 1 (signed), not 2"},
		{"unknown call source", slots([]byte{0x85, 0x30, 0, 0, 1, 0, 0, 0}), 0, 0, 0x85, "unknown call source 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := isa.Decode(tc.code)
			var de *isa.DecodeError
			require.ErrorAs(t, err, &de)
			require.Equal(t, tc.offset, de.Offset, "offset")
			require.Equal(t, tc.index, de.Index, "index")
			require.Equal(t, tc.opcode, de.Opcode, "opcode")
			require.Contains(t, de.Reason, tc.reason)
			require.Contains(t, de.Error(), tc.reason)
		})
	}
}

func TestDecodeEmpty(t *testing.T) {
	insns, err := isa.Decode(nil)
	require.NoError(t, err)
	require.Empty(t, insns)
}

// TestRandomRoundTrip checks, without any external tool, that random valid
// instructions survive encode → decode and String → assemble.
func TestRandomRoundTrip(t *testing.T) {
	insns := randomInstructions(4, 5000)
	b := encode(t, insns...)
	dec, err := isa.Decode(b)
	require.NoError(t, err)
	require.Equal(t, insns, dec)

	var text strings.Builder
	for _, ins := range insns {
		text.WriteString(ins.String() + "\n")
	}
	back, err := asm.Assemble("random", text.String())
	require.NoError(t, err)
	require.Equal(t, insns, back)
}

// TestGeneratorCoversDecode checks that the random generators used against
// LLVM and cilium/ebpf produce every variant Decode accepts.
func TestGeneratorCoversDecode(t *testing.T) {
	count := map[variant]int{}
	for _, ins := range randomInstructions(1, llvmNumInstructions) {
		require.NoError(t, ins.Validate(), "generator made an invalid instruction %+v", ins)
		count[variantOf(ins)]++
	}
	accepted := acceptedVariants()
	for _, v := range accepted {
		require.NotZero(t, count[v], "variant %s never generated", v)
	}
	require.Len(t, count, len(accepted), "the generator makes only variants Decode accepts")
	t.Logf("%d variants accepted by Decode, all generated", len(accepted))
}

// TestNegativeRawRefused: every raw program of the conformance suite's
// negative set is refused by Decode (the asm ones are isa/asm's business).
func TestNegativeRawRefused(t *testing.T) {
	files, err := conformance.Files(filepath.Join(shared.Dir(t, "conformance"), "negative"))
	require.NoError(t, err)
	raw := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		if !strings.Contains(string(data), "\n-- raw\n") {
			continue
		}
		raw++
		_, err = conformance.Parse(f, data)
		var de *isa.DecodeError
		require.ErrorAs(t, err, &de, f)
	}
	require.Equal(t, 45, raw, "raw programs in negative/")
}
