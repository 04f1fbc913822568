package conformance_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm/conformance"
	"github.com/ebpfvm/ebpfvm/internal/shared"
	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/isa/asm"
)

func TestParse(t *testing.T) {
	const file = `# comment
# another

-- asm
mov %r0, 1 # set r0
exit
-- mem
00 01 aa FF
-- result
0x1122334455667788
-- c
int f(void) { return 1; }
-- no register offset
call instruction
`
	tc, err := conformance.Parse("x.data", []byte(file))
	require.NoError(t, err)
	require.Equal(t, "x.data", tc.Name)
	require.Equal(t, "mov %r0, 1 # set r0\nexit", tc.Asm)
	require.Equal(t, 5, tc.AsmLine)
	require.Nil(t, tc.Raw)
	require.Equal(t, []isa.Instruction{isa.ALUMov.Imm(isa.R0, 1), isa.Return()}, tc.Program)
	require.Equal(t, []byte{0x00, 0x01, 0xaa, 0xff}, tc.Mem)
	require.True(t, tc.HasResult)
	require.Equal(t, uint64(0x1122334455667788), tc.Result)
	require.False(t, tc.ExpectError)
	require.Equal(t, "int f(void) { return 1; }", tc.C)
	require.True(t, tc.NoRegisterOffset)
}

func TestParseRawForms(t *testing.T) {
	want := isa.MustEncode([]isa.Instruction{isa.LoadImm64(isa.R0, 0x1122334455667788), isa.Return()})
	for _, tc := range []struct{ name, raw string }{
		{"words", "0x5566778800000018\n0x1122334400000000\n0x0000000000000095\n"},
		{"bytes", "18 00 00 00 88 77 66 55\n00 00 00 00 44 33 22 11\r\n95 00 00 00 00 00 00 00\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := conformance.Parse(tc.name, []byte("-- raw\n"+tc.raw+"-- result\n0x1122334455667788\n"))
			require.NoError(t, err)
			require.Equal(t, want, got.Raw)
			require.Equal(t, []isa.Instruction{isa.LoadImm64(isa.R0, 0x1122334455667788), isa.Return()}, got.Program)
		})
	}
}

func TestParseAsmAndRaw(t *testing.T) {
	_, err := conformance.Parse("same", []byte("-- asm\nexit\n-- raw\n95 00 00 00 00 00 00 00\n"))
	require.NoError(t, err)
	_, err = conformance.Parse("different", []byte("-- asm\nexit\n-- raw\n95 00 00 00 01 00 00 00\n"))
	require.Error(t, err) // the raw one does not even decode
	_, err = conformance.Parse("different", []byte("-- asm\nexit\n-- raw\nb7 00 00 00 00 00 00 00\n"))
	require.ErrorContains(t, err, "different programs")
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		line       int
		msg        string
	}{
		{"no program", "# nothing\n-- result\n0x0\n", 1, "no program"},
		{"empty file", "", 1, "no program"},
		{"unknown section", "-- asm\nexit\n-- Unknown directive\n", 3, `unknown section "Unknown directive"`},
		{"repeated section", "-- asm\nexit\n-- asm\nexit\n", 3, "repeated"},
		{"text before sections", "hello\n-- asm\nexit\n", 1, "before the first section"},
		{"bad result", "-- asm\nexit\n-- result\nzz\n", 3, "not a hexadecimal"},
		{"bad mem", "-- asm\nexit\n-- mem\n00 1\n", 4, "not two hexadecimal digits"},
		{"bad raw", "-- raw\n0xzz\n", 2, "not a 64-bit hexadecimal"},
		{"empty asm", "-- asm\n# only a comment\n-- result\n0x0\n", 1, "empty program"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := conformance.Parse("f.data", []byte(tc.file))
			var ce *conformance.Error
			require.ErrorAs(t, err, &ce)
			require.Equal(t, "f.data", ce.File)
			require.Equal(t, tc.line, ce.Line)
			require.Contains(t, ce.Msg, tc.msg)
		})
	}
}

func TestParseAsmErrorHasFileLine(t *testing.T) {
	_, err := conformance.Parse("f.data", []byte("# c\n-- asm\nmov %r0, 1\nmov %r0, %r11\nexit\n"))
	var ae *asm.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "f.data", ae.File)
	require.Equal(t, 4, ae.Line)
	require.Equal(t, 10, ae.Col)
}

func TestParseRawDecodeError(t *testing.T) {
	_, err := conformance.Parse("f.data", []byte("-- raw\n07 00 01 00 01 00 00 00\n-- error\n"))
	var de *isa.DecodeError
	require.ErrorAs(t, err, &de)
	require.Equal(t, 0, de.Index)
}

// TestSuite parses every file of the suite: each program in tests/ must
// load; in negative/ every file must be refused except the two whose
// program is valid (their expectation is about running it).
func TestSuite(t *testing.T) {
	dir := shared.Dir(t, "conformance")
	files, err := conformance.Files(filepath.Join(dir, "tests"))
	require.NoError(t, err)
	require.Len(t, files, 313)
	for _, f := range files {
		tc, err := conformance.Load(f)
		require.NoError(t, err, f)
		require.NotEmpty(t, tc.Program, f)
		require.True(t, tc.HasResult || tc.ExpectError, f)
	}

	valid := map[string]bool{"error.data": true, "incorrect_return_value_high_bits.data": true}
	files, err = conformance.Files(filepath.Join(dir, "negative"))
	require.NoError(t, err)
	require.Len(t, files, 60)
	for _, f := range files {
		_, err := conformance.Load(f)
		base := filepath.Base(f)
		if valid[base] {
			require.NoError(t, err, base)
			continue
		}
		require.Error(t, err, base)
		var ae *asm.Error
		var de *isa.DecodeError
		var ce *conformance.Error
		switch {
		case strings.HasPrefix(base, "unused-"):
			require.True(t, errors.As(err, &de), "%s: %v", base, err)
		case strings.HasPrefix(base, "invalid_unknown_directive"), strings.HasPrefix(base, "empty"):
			require.True(t, errors.As(err, &ce), "%s: %v", base, err)
		default:
			require.True(t, errors.As(err, &ae), "%s: %v", base, err)
		}
	}
}
