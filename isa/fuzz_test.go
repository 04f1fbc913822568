package isa_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/isa/asm"
)

// FuzzDecode: Decode never panics and refuses only with a *DecodeError; what
// it accepts re-encodes to the same bytes, and its text assembles back to
// them. The seed corpus is in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Add(slots(movSlot, exitSlot))
	f.Fuzz(func(t *testing.T, b []byte) {
		insns, err := isa.Decode(b)
		if err != nil {
			var de *isa.DecodeError
			require.ErrorAs(t, err, &de)
			require.GreaterOrEqual(t, de.Offset, 0)
			require.LessOrEqual(t, de.Offset, len(b))
			require.Equal(t, de.Offset, de.Index*isa.SlotSize)
			return
		}
		re, err := isa.Encode(insns)
		require.NoError(t, err)
		require.Equal(t, b, re)

		var text strings.Builder
		for _, ins := range insns {
			text.WriteString(ins.String() + "\n")
			_ = ins.KernelString(nil)
		}
		back, err := asm.Assemble("fuzz", text.String())
		require.NoError(t, err, "%s", text.String())
		require.Equal(t, insns, back, "%s", text.String())
	})
}
