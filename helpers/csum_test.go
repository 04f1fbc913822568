package helpers

import (
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm/progtype"
)

// TestCsumDiffLinux618 checks bpf_csum_diff against results of Linux 6.18
// (x86-64), whose helper takes buffers of any length and folds the result
// to 16 bits (since 6.13). internal/difftest compares the helper with the
// running kernel on random buffers.
func TestCsumDiffLinux618(t *testing.T) {
	tests := []struct {
		from, to string // hex; "" is a NULL pointer and size 0
		seed     int32
		want     uint64
	}{
		{"40060000", "3f060000", 0, 0xfffe},
		{"010203", "", 0, 0xfdfb},
		{"", "ffffffffffffffff01", 0, 0x1},
		{"00000000", "", 0, 0x0},
		{"", "", 0, 0x0},
		{"", "", -1, 0xffff},
		{"", "0000", 0, 0x0},
		{"ffffffff", "ffffffff", -1, 0xffff},
		{"44332211", "", 0, 0xbb99},
		{"44", "", 0x1234, 0x11f0},
		{"4433221100000000", "", 0x1234, 0xcdcd},
		{"44332211", "88776655", 0, 0x8888},
		{"4433221100", "88776655", 0, 0x8888},
		{"0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40", "fffefd", -5, 0xdbf4},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s_%s_%d", tt.from, tt.to, tt.seed), func(t *testing.T) {
			from, err := hex.DecodeString(tt.from)
			require.NoError(t, err)
			to, err := hex.DecodeString(tt.to)
			require.NoError(t, err)
			mem := append(append(make([]byte, 0, 128), from...), to...)
			if len(mem) == 0 {
				mem = []byte{0}
			}
			src := fmt.Sprintf("r6 = r1\nr1 = 0\nr2 = %d\nr3 = 0\nr4 = %d\nr5 = %d\n", len(from), len(to), tt.seed)
			if len(from) > 0 {
				src += "r1 = r6\n"
			}
			if len(to) > 0 {
				src += fmt.Sprintf("r3 = r6\nr3 += %d\n", len(from))
			}
			r0, _, err := runProgram(t, progtype.Raw, src+"call 28\nexit", mem, nil)
			require.NoError(t, err)
			require.Equal(t, tt.want, r0)
		})
	}
}
