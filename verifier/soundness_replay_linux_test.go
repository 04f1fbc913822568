//go:build linux

package verifier_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/ebpfvm/ebpfvm/internal/difftest"
	"github.com/ebpfvm/ebpfvm/kernel"
	"github.com/stretchr/testify/require"
)

// TestSoundnessReplay runs a program the soundness campaign dumped
// (VERIFIER_SOUNDNESS_REPLAY=fault-SEED-I.json) in the kernel and in every
// engine, on the input it faulted on, and prints the comparison: whether
// the kernel accepts it too, and where the runs part.
func TestSoundnessReplay(t *testing.T) {
	file := os.Getenv("VERIFIER_SOUNDNESS_REPLAY")
	if file == "" {
		t.Skip("set VERIFIER_SOUNDNESS_REPLAY to a dumped program")
	}
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	var dump struct {
		Spec *kernel.Spec
		Data []byte
	}
	require.NoError(t, json.Unmarshal(b, &dump))
	c := &difftest.Case{Spec: dump.Spec, Input: kernel.Input{Data: dump.Data}}
	rep, err := difftest.Run(c, nil)
	require.NoError(t, err)
	out, _ := json.MarshalIndent(rep, "", "  ")
	t.Logf("%s\n%s", difftest.Listing(dump.Spec), out)
}
