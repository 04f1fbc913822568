package asm_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm/conformance"
	"github.com/ebpfvm/ebpfvm/internal/shared"
	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/isa/asm"
)

// TestConformanceRoundTrip: every program of the suite, assembled from the
// suite's syntax, encoded, decoded, listed in LLVM's syntax and assembled
// again gives the same bytes.
func TestConformanceRoundTrip(t *testing.T) {
	files, err := conformance.Files(filepath.Join(shared.Dir(t, "conformance"), "tests"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			tc, err := conformance.Load(f)
			require.NoError(t, err)
			if tc.Asm == "" {
				return // raw only
			}
			insns, err := asm.Assemble(f, tc.Asm)
			require.NoError(t, err)
			b, err := isa.Encode(insns)
			require.NoError(t, err)
			dec, err := isa.Decode(b)
			require.NoError(t, err)
			listing := isa.Listing(dec)
			again, err := asm.Assemble("listing", listing)
			require.NoError(t, err, listing)
			b2, err := isa.Encode(again)
			require.NoError(t, err)
			require.Equal(t, b, b2, listing)
		})
	}
}

// TestConformanceNegative: the suite's malformed assembly is refused with an
// error that means what the reference assembler's message says; the two
// valid programs of negative/ assemble.
func TestConformanceNegative(t *testing.T) {
	dir := filepath.Join(shared.Dir(t, "conformance"), "negative")
	for name, msg := range map[string]string{
		"invalid_imm32_dec_range.data":          "immediate 2147483648 does not fit in 32 bits",
		"invalid_imm32_hex_range.data":          "immediate 0x100000000 does not fit in 32 bits",
		"invalid_label.data":                    `undefined label "NOT_A_LABEL"`,
		"invalid_lock.data":                     "invalid number of operands for lock",
		"invalid_lock2.data":                    "invalid number of operands for lock",
		"invalid_mnemonic.data":                 `unknown mnemonic "ldxq"`,
		"invalid_offset.data":                   "expected a memory operand",
		"invalid_offset_range.data":             "offset 0x10000 out of range",
		"invalid_operand_count.data":            "invalid number of operands for lddw",
		"invalid_register.data":                 "invalid register %r50",
		"error.data":                            "",
		"incorrect_return_value_high_bits.data": "",
	} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, name))
			require.NoError(t, err)
			_, err = conformance.Parse(name, data)
			if msg == "" {
				require.NoError(t, err)
				return
			}
			var ae *asm.Error
			require.True(t, errors.As(err, &ae), "%v", err)
			require.Contains(t, ae.Msg, msg)
		})
	}

	// Every other file of negative/ is either raw bytecode or not a
	// well-formed test file; none is assembly the assembler lets through.
	files, err := conformance.Files(dir)
	require.NoError(t, err)
	refused := 0
	for _, f := range files {
		_, err := conformance.Load(f)
		if err != nil {
			refused++
		}
	}
	require.Equal(t, len(files)-2, refused)
}
