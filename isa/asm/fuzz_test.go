package asm_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/isa/asm"
)

// FuzzAssemble: Assemble never panics and fails only with an *asm.Error; a
// program it accepts is valid, encodes, and assembles to the same
// instructions from its own listing. The seed corpus is in
// testdata/fuzz/FuzzAssemble.
func FuzzAssemble(f *testing.F) {
	f.Add("mov %r0, 1\nloop: r0 += 1\nif r0 < 10 goto loop\nexit\n")
	f.Fuzz(func(t *testing.T, src string) {
		insns, err := asm.Assemble("fuzz.s", src)
		if err != nil {
			var ae *asm.Error
			require.True(t, errors.As(err, &ae), "error %v is not an *asm.Error", err)
			require.Positive(t, ae.Line)
			require.Positive(t, ae.Col)
			return
		}
		var text strings.Builder
		for _, ins := range insns {
			require.NoError(t, ins.Validate())
			text.WriteString(ins.String() + "\n")
		}
		_, err = isa.Encode(insns)
		require.NoError(t, err)
		back, err := asm.Assemble("listing", text.String())
		require.NoError(t, err, "%s", text.String())
		require.Equal(t, insns, back)
	})
}
