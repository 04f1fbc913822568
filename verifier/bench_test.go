package verifier

import (
	"runtime"
	"testing"
	"time"

	"github.com/ebpfvm/ebpfvm/progtype"
	"github.com/stretchr/testify/require"
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

// TestMillionMemory verifies programs that take the verifier to its
// complexity limit and reports the peak heap: the saved states stay
// bounded (the kernel's eviction heuristics) rather than growing with the
// instructions processed.
func TestMillionMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("a second of verification")
	}
	for _, src := range []string{
		// A loop the verifier gives up on.
		"r0 = 0\nr1 = 0\nl: r1 += 1\nif r1 != 0 goto l\nexit",
		// A bounded loop of 199,000 iterations: accepted after 995,000
		// instructions.
		`r0 = 0
r1 = 0
l: r0 += 3
r0 &= 0xff
r2 = r0
r1 += 1
if r1 < 199000 goto l
r0 = 0
exit`,
	} {
		p := testProgram(t, progtype.SocketFilter, src)
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		done := make(chan struct{})
		peak := make(chan uint64)
		go func() {
			var m runtime.MemStats
			var max uint64
			for {
				runtime.ReadMemStats(&m)
				if m.HeapAlloc > max {
					max = m.HeapAlloc
				}
				select {
				case <-done:
					peak <- max
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
		}()
		start := time.Now()
		res, err := Verify(p, Options{})
		elapsed := time.Since(start)
		close(done)
		heap := (<-peak - before.HeapAlloc) >> 20
		processed := 0
		if err == nil {
			processed = res.Stats.Processed
		}
		if err == nil {
			t.Logf("accepted: processed %d insns, %d states saved, peak %d, in %s, peak heap +%d MiB", processed,
				res.Stats.TotalStates, res.Stats.PeakStates, elapsed.Round(time.Millisecond), heap)
		} else {
			t.Logf("rejected (%v) in %s, peak heap +%d MiB", err, elapsed.Round(time.Millisecond), heap)
		}
		require.Less(t, heap, uint64(256))
	}
}

// BenchmarkTrivialProgram measures the fixed cost of a verification, which
// dominates for the small programs most users load.
func BenchmarkTrivialProgram(b *testing.B) {
	p := testProgram(b, progtype.SocketFilter, "r0 = 0\nexit")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(p, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
