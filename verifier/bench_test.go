package verifier

import (
	"testing"

	"github.com/ebpfvm/ebpfvm/progtype"
)

// BenchmarkMillion verifies a loop the verifier gives up on after a
// million processed instructions.
func BenchmarkMillion(b *testing.B) {
	p := testProgram(b, progtype.SocketFilter, "r0 = 0\nr1 = 0\nl: r1 += 1\nif r1 != 0 goto l\nexit")
	for b.Loop() {
		_, err := Verify(p, Options{})
		if err == nil {
			b.Fatal("accepted")
		}
	}
}
