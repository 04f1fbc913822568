package helpers

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/ebpfvm/ebpfvm/progtype"
)

// TestXDPAdjustMetaLimits checks bpf_xdp_adjust_meta against Linux 6.18:
// metadata may grow to 255 bytes (a multiple of 4, so 252) as far as the
// headroom allows (256 bytes minus the 40 of struct xdp_frame).
func TestXDPAdjustMetaLimits(t *testing.T) {
	tests := []struct {
		deltas []int
		want   uint64 // the last call's result
	}{
		{[]int{-32}, 0},
		{[]int{-36}, 0},
		{[]int{-28, -8}, 0},
		{[]int{-216}, 0},
		{[]int{-220}, neg(unix.EINVAL)},
		{[]int{-2}, neg(unix.EACCES)},
		{[]int{4}, neg(unix.EINVAL)},
		{[]int{-8, 8}, 0},
	}
	for _, tt := range tests {
		src := "r6 = r1\n"
		for _, d := range tt.deltas {
			src += "r1 = r6\nr2 = " + strconv.Itoa(d) + "\ncall 54\n"
		}
		r0, _, err := runProgram(t, progtype.XDP, src+"exit", make([]byte, 14), nil)
		require.NoError(t, err)
		require.Equal(t, tt.want, r0, "deltas %v", tt.deltas)
	}
}
