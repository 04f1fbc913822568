// Command histogram is the classic observability example: an eBPF program
// aggregates event sizes into a log2 histogram inside a map, and Go prints
// it the way bcc's tools do. Only the 64 counters cross from the program to
// Go, not the events.
//
//	go run ./examples/histogram [-events N]
package main

import (
	_ "embed"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/ebpfvm/ebpfvm"
	"github.com/ebpfvm/ebpfvm/maps"
)

// bpf/histogram.o is compiled from bpf/histogram.c by "make examples".
//
//go:embed bpf/histogram.o
var object []byte

const eventSize = 32 // struct event in histogram.c

func main() {
	events := flag.Int("events", 1_000_000, "number of synthetic I/O events")
	flag.Parse()
	if err := run(*events); err != nil {
		log.Fatal(err)
	}
}

func run(n int) error {
	spec, err := ebpfvm.LoadCollectionSpecFromBytes(object)
	if err != nil {
		return err
	}
	coll, err := ebpfvm.NewCollection(spec, nil)
	if err != nil {
		return err
	}
	defer coll.Close()
	prog := coll.Programs["record_size"]

	// Synthetic block I/O sizes: mostly 4 KiB pages, some small metadata
	// writes, a tail of large sequential reads (log-normal around each).
	rng := rand.New(rand.NewPCG(1, 2))
	ev := make([]byte, eventSize)
	copy(ev[16:], "postgres")
	start := time.Now()
	for i := range n {
		var mean float64
		switch r := rng.Float64(); {
		case r < 0.6:
			mean = 4096
		case r < 0.85:
			mean = 512
		default:
			mean = 131072
		}
		size := uint32(math.Exp(math.Log(mean) + rng.NormFloat64()*0.7))
		binary.LittleEndian.PutUint64(ev[0:], uint64(i)*1000)
		binary.LittleEndian.PutUint32(ev[8:], 4242)
		binary.LittleEndian.PutUint32(ev[12:], size)
		if _, err := prog.Run(&ebpfvm.RunOptions{Data: ev, AnyCPU: true}); err != nil {
			return fmt.Errorf("event %d: %w", i, err)
		}
	}
	elapsed := time.Since(start)

	counts := make([]uint64, 64)
	for b := range counts {
		counts[b], err = maps.LookupAs[uint32, uint64](coll.Maps["sizes"], uint32(b))
		if err != nil {
			return err
		}
	}
	printLog2Hist(os.Stdout, "size (bytes)", counts)

	fmt.Printf("\n%d events in %v (%.1f M events/s)\n", n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds()/1e6)
	fmt.Printf("copying every event to Go: %s; reading the histogram: %s (%.0fx less)\n",
		bytesString(uint64(n)*eventSize), bytesString(uint64(len(counts))*8), float64(n)*eventSize/float64(len(counts)*8))
	return nil
}

// printLog2Hist prints counts as bcc's print_log2_hist does.
func printLog2Hist(w *os.File, label string, counts []uint64) {
	last := -1
	var max uint64
	for i, c := range counts {
		if c > 0 {
			last = i
		}
		max = max2(max, c)
	}
	fmt.Fprintf(w, "%24s : count     distribution\n", label)
	for i := 0; i <= last; i++ {
		lo, hi := uint64(0), uint64(1)
		if i > 0 {
			lo, hi = uint64(1)<<i, uint64(1)<<(i+1)-1
		}
		stars := 0
		if max > 0 {
			stars = int(counts[i] * 40 / max)
		}
		fmt.Fprintf(w, "%10d -> %-10d : %-8d |%-40s|\n", lo, hi, counts[i], strings.Repeat("*", stars))
	}
}

func max2(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

func bytesString(n uint64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
