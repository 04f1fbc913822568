package verifier_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ebpfvm/ebpfvm"
	"github.com/ebpfvm/ebpfvm/internal/difftest"
	"github.com/ebpfvm/ebpfvm/internal/progen"
	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/kernel"
	"github.com/ebpfvm/ebpfvm/verifier"
	"github.com/ebpfvm/ebpfvm/vm"
)

// unsafeFaults are the faults a program the verifier accepted must never
// raise: they are what the verifier exists to rule out.
var unsafeFaults = map[vm.FaultKind]bool{
	vm.FaultOutOfBounds: true, vm.FaultNull: true, vm.FaultNotWritable: true, vm.FaultMisaligned: true,
	vm.FaultBadJump: true, vm.FaultInvalidInsn: true, vm.FaultContext: true, vm.FaultBadCall: true,
	vm.FaultCallDepth: true,
}

func envNum(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// TestSoundnessCampaign is the differential soundness campaign: programs
// from internal/progen, as generated (valid), with random mutations of one
// to three instructions, and with an unsafe snippet at their entry, are
// loaded through the facade, which verifies them; every program the
// verifier accepts runs in the interpreter on random inputs (the
// generator's own first), and no run may raise a fault the verifier rules
// out. VERIFIER_SOUNDNESS sets the number of programs (default 200),
// VERIFIER_SOUNDNESS_SEED the seed.
func TestSoundnessCampaign(t *testing.T) {
	n := envNum("VERIFIER_SOUNDNESS", 200)
	seed := uint64(envNum("VERIFIER_SOUNDNESS_SEED", 1))
	const inputs = 4
	r := rand.New(rand.NewPCG(seed, 3))
	start := time.Now()
	var accepted, rejected, runs, faults, budget int
	for i := range n {
		if i > 0 && i%10000 == 0 {
			fmt.Printf("soundness progress: %d programs, %d accepted, %d runs, %d unsafe faults, %s\n",
				i, accepted, runs, faults, time.Since(start).Round(time.Second))
		}
		g := progen.Generate(seed, i, progen.Config{})
		spec, desc := g.Spec, fmt.Sprintf("progen(%d,%d)", seed, i)
		switch i % 4 {
		case 1, 2:
			for range 1 + r.IntN(3) {
				var d string
				spec, d = verifier.MutateRandomForTest(spec, r)
				desc += "+" + d
			}
		case 3:
			kinds := verifier.UnsafeKindsForTest
			var d string
			var err error
			// Not the 1M-instruction loops: they only cost time.
			spec, d, err = verifier.MutateUnsafeForTest(spec, kinds[r.IntN(len(kinds)-1)], r)
			if err != nil {
				t.Fatal(err)
			}
			desc += "+" + d
		}
		cs, name, err := difftest.CollectionSpec(spec)
		if err != nil {
			t.Fatalf("%s: %v", desc, err)
		}
		// A load that takes long is reported, and saved while it runs
		// (VERIFIER_SOUNDNESS_DUMP), so that even a hang leaves its
		// program behind.
		loadStart := time.Now()
		watch := make(chan struct{})
		go func(spec *kernel.Spec, desc string) {
			select {
			case <-watch:
			case <-time.After(30 * time.Second):
				fmt.Printf("soundness: %s still loading after 30s\n", desc)
				if dir := os.Getenv("VERIFIER_SOUNDNESS_DUMP"); dir != "" {
					b, _ := json.Marshal(spec)
					os.WriteFile(fmt.Sprintf("%s/slow-%d-%d.json", dir, seed, i), b, 0o644)
				}
			}
		}(spec, desc)
		coll, err := ebpfvm.NewCollection(cs, &ebpfvm.CollectionOptions{NumCPU: 1})
		close(watch)
		if d := time.Since(loadStart); d > 5*time.Second {
			t.Logf("%s: loading took %s (%v)", desc, d.Round(time.Millisecond), err)
		}
		if err != nil {
			var se *ebpfvm.SpecError
			if !errors.As(err, &se) {
				t.Fatalf("%s: %v", desc, err)
			}
			rejected++
			continue
		}
		accepted++
		prog := coll.Programs[name]
		for k := range inputs {
			data := g.Input.Data
			if k > 0 {
				data = make([]byte, r.IntN(160))
				for j := range data {
					data[j] = byte(r.Uint32())
				}
			}
			_, err := prog.Execute(&ebpfvm.RunOptions{Data: data, Budget: 2_000_000, AnyCPU: true})
			runs++
			var fault *vm.Fault
			if errors.As(err, &fault) {
				if unsafeFaults[fault.Kind] {
					faults++
					t.Errorf("%s accepted but faulted: %v\n%s", desc, err, isa.Listing(spec.Program.Instructions))
					if dir := os.Getenv("VERIFIER_SOUNDNESS_DUMP"); dir != "" {
						// The program and the input, to replay.
						b, _ := json.Marshal(struct {
							Spec *kernel.Spec
							Data []byte
						}{spec, data})
						os.WriteFile(fmt.Sprintf("%s/fault-%d-%d.json", dir, seed, i), b, 0o644)
					}
				} else {
					budget++
				}
			}
		}
		coll.Close()
	}
	report := fmt.Sprintf("soundness campaign: seed %d, %d programs, %d accepted, %d rejected, %d runs, %d unsafe faults, %d other stops, %s\n",
		seed, n, accepted, rejected, runs, faults, budget, time.Since(start).Round(time.Second))
	fmt.Print(report)
	if out := os.Getenv("VERIFIER_SOUNDNESS_OUT"); out != "" {
		os.WriteFile(out, []byte(report), 0o644)
	}
}
