package helpers

import (
	"encoding/binary"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/ebpfvm/ebpfvm/progtype"
)

// TestStrtolClearsResult checks what Linux 6.18 does when strtol or
// strtoul fails: it returns the error and leaves 0 in *res, which it
// clears before parsing.
func TestStrtolClearsResult(t *testing.T) {
	for _, id := range []int{105, 106} {
		for _, tt := range []struct {
			text string
			want uint64
		}{
			{"z", neg(unix.EINVAL)},
			{"", neg(unix.EINVAL)},
			{"99999999999999999999", neg(unix.ERANGE)},
		} {
			// mem: the text at 0, *res (filled with 0xff) at 32.
			mem := make([]byte, 40)
			copy(mem, tt.text)
			binary.LittleEndian.PutUint64(mem[32:], ^uint64(0))
			n := max(len(tt.text), 1)
			src := "r6 = r1\nr2 = " + strconv.Itoa(n) + "\nr3 = 0\nr4 = r6\nr4 += 32\ncall " + strconv.Itoa(id) + "\nexit"
			r0, out, err := runProgram(t, progtype.Raw, src, mem, nil)
			require.NoError(t, err)
			require.Equal(t, tt.want, r0, "helper %d on %q", id, tt.text)
			require.Zero(t, binary.LittleEndian.Uint64(out[32:]), "helper %d on %q", id, tt.text)
		}
	}
}
