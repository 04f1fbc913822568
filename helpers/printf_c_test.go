package helpers

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm/progtype"
)

// TestSnprintfChar checks %c against Linux 6.18: the argument's low byte
// is written as it is, also from 0x80 up (not as UTF-8), and widths pad it
// with spaces, also with a '0' flag.
func TestSnprintfChar(t *testing.T) {
	tests := []struct {
		format string
		arg    uint64
		want   string
	}{
		{"%c", 0x41, "A"},
		{"%c", 0x141, "A"},
		{"%c", 0xe9, "\xe9"},
		{"%c", 0x80, "\x80"},
		{"%c", 0xff, "\xff"},
		{"%3c|", 0xe9, "  \xe9|"},
		{"%-3c|", 0xe9, "\xe9  |"},
		{"%03c|", 0x41, "  A|"},
		{"%-03c|", 0x41, "A  |"},
		{"%010d|", 5, "0000000005|"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s_%#x", tt.format, tt.arg), func(t *testing.T) {
			// mem: the format at 0, the argument at 16, the output at 32.
			mem := make([]byte, 64)
			copy(mem, tt.format)
			for i := range 8 {
				mem[16+i] = byte(tt.arg >> (8 * i))
			}
			src := "r6 = r1\nr1 = r6\nr1 += 32\nr2 = 16\nr3 = r6\nr4 = r6\nr4 += 16\nr5 = 8\ncall 165\nexit"
			r0, out, err := runProgram(t, progtype.Raw, src, mem, nil)
			require.NoError(t, err)
			require.Equal(t, uint64(len(tt.want)+1), r0)
			require.Equal(t, tt.want+"\x00", string(out[32:32+len(tt.want)+1]))
		})
	}
}
