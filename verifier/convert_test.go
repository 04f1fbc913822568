//go:build linux

package verifier

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/ebpfvm/ebpfvm/internal/progen"
	"github.com/ebpfvm/ebpfvm/kernel"
	"github.com/ebpfvm/ebpfvm/progtype"
)

// fromKernelSpec converts a kernel.Spec (the generator's output) into the
// verifier's input.
func fromKernelSpec(s *kernel.Spec) Program {
	p := Program{Instructions: s.Program.Instructions, Refs: map[int]Ref{}}
	switch s.Program.Type {
	case kernel.TypeXDP:
		p.Type = progtype.XDP
	case kernel.TypeSocketFilter:
		p.Type = progtype.SocketFilter
	default:
		p.Type = progtype.Raw
	}
	vm := map[string]*Map{}
	for name, km := range s.Maps {
		m := MapFromSpec(&km.Spec)
		m.Name = name
		if km.Freeze {
			m.Frozen = true
			for _, kv := range km.Contents {
				if len(kv.Key) == 4 && kv.Key[0]|kv.Key[1]|kv.Key[2]|kv.Key[3] == 0 {
					m.Value = kv.Value
				}
			}
		}
		vm[name] = m
	}
	for idx, r := range s.Program.References {
		p.Refs[idx] = Ref{Map: vm[r.Map], Offset: int32(r.Offset)}
	}
	return p
}

// kernelPriv is the verdict of the kernel run as root.
func kernelPriv(s *kernel.Spec) (bool, string, error) {
	l, err := kernel.Load(s, &kernel.Options{R0Only32: true})
	if err == nil {
		l.Close()
		return true, "", nil
	}
	var re *kernel.RejectedError
	if errors.As(err, &re) {
		return false, re.Reason, nil
	}
	return false, "", err
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func TestProgenAgreementQuick(t *testing.T) {
	kernelAvailable(t)
	n := envInt("VERIFIER_PROGEN", 200)
	seed := uint64(envInt("VERIFIER_SEED", 1))
	disagree := 0
	for i := range n {
		g := progen.Generate(seed, i, progen.Config{})
		kok, kmsg, err := kernelPriv(g.Spec)
		if err != nil {
			t.Fatalf("program %d: %v", i, err)
		}
		_, verr := Verify(fromKernelSpec(g.Spec), Options{})
		if (verr == nil) != kok {
			disagree++
			if disagree <= 5 {
				msg := ""
				var ve *Error
				if errors.As(verr, &ve) {
					msg = ve.Msg
					_, verr2 := Verify(fromKernelSpec(g.Spec), Options{LogLevel: 1})
					if errors.As(verr2, &ve) {
						t.Logf("log:\n%s", tail(ve.Log, 12))
					}
				}
				t.Errorf("program %d (%s): kernel %v %q, ours %q", i, g.Spec.Program.Type, kok, kmsg, msg)
			}
		}
	}
	fmt.Printf("progen quick: %d/%d disagree\n", disagree, n)
}

func TestUnsafeQuick(t *testing.T) {
	kernelAvailable(t)
	n := envInt("VERIFIER_UNSAFE", 100)
	r := rand.New(rand.NewPCG(1, 2))
	bad := 0
	for i := range n {
		g := progen.Generate(3, i, progen.Config{})
		kind := unsafeKinds[i%len(unsafeKinds)]
		spec, desc, err := mutateUnsafe(g.Spec, kind, r)
		if err != nil {
			t.Fatal(err)
		}
		kok, kmsg, err := kernelPriv(spec)
		if err != nil {
			t.Fatalf("%d %s: %v", i, desc, err)
		}
		_, verr := Verify(fromKernelSpec(spec), Options{})
		if kok || verr == nil {
			bad++
			t.Errorf("%d %s (%s): kernel ok=%v %q ours %v", i, desc, spec.Program.Type, kok, kmsg, verr)
		}
	}
	fmt.Printf("unsafe quick: %d/%d not rejected by both\n", bad, n)
}

func TestRandomQuick(t *testing.T) {
	kernelAvailable(t)
	n := envInt("VERIFIER_RANDOM", 300)
	r := rand.New(rand.NewPCG(5, 6))
	bad := 0
	for i := range n {
		g := progen.Generate(9, i, progen.Config{})
		spec, desc := mutateRandom(g.Spec, r)
		kok, kmsg, err := kernelPriv(spec)
		if err != nil {
			t.Logf("%d %s: not loadable: %v", i, desc, err)
			continue
		}
		_, verr := Verify(fromKernelSpec(spec), Options{})
		if kok != (verr == nil) {
			bad++
			if bad <= 10 {
				t.Errorf("%d %s (%s): kernel ok=%v %q ours %v", i, desc, spec.Program.Type, kok, kmsg, verr)
			}
		}
	}
	fmt.Printf("random quick: %d/%d disagree\n", bad, n)
}
