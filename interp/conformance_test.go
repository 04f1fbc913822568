package interp

import (
	"path/filepath"
	"testing"

	"github.com/ebpfvm/ebpfvm/conformance"
	"github.com/ebpfvm/ebpfvm/internal/shared"
	"github.com/ebpfvm/ebpfvm/progtype"
	"github.com/ebpfvm/ebpfvm/vm"
	"github.com/stretchr/testify/require"
)

// TestConformance runs every program of the public BPF conformance suite
// through the interpreter, unverified, and checks its result or error.
func TestConformance(t *testing.T) {
	if haveFast {
		t.Run("fast", func(t *testing.T) { conformanceSuite(t, false) })
	}
	// The Go loop, which runs everywhere fastRun does not exist.
	t.Run("dispatch", func(t *testing.T) {
		defer SetFast(SetFast(false))
		conformanceSuite(t, false)
	})
	// The class decoder behind the dispatch switch handles every
	// instruction on its own: run the suite through it alone too, so that
	// the paths are held to the same results.
	t.Run("generic", func(t *testing.T) { conformanceSuite(t, true) })
}

func conformanceSuite(t *testing.T, generic bool) {
	dir := shared.Dir(t, "conformance/tests")
	files, err := conformance.Files(dir)
	require.NoError(t, err)
	require.Len(t, files, 313, "the suite has 313 programs")
	// The suite's kernel runs bind helper 5 to bpf_ktime_get_ns; any helper
	// that returns will do.
	helpers := make([]vm.HelperFunc, 6)
	helpers[5] = func(*vm.Machine, uint64, uint64, uint64, uint64, uint64) (uint64, error) { return 1234, nil }
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			test, err := conformance.Load(file)
			require.NoError(t, err)
			p, err := vm.NewProgram(test.Program, vm.ProgramOptions{Helpers: helpers})
			require.NoError(t, err)
			m := vm.NewMachine(nil)
			m.Budget = 10_000_000
			args, _, err := progtype.SetupRaw(m, test.Mem)
			require.NoError(t, err)
			e := New(p)
			if generic {
				for i := range e.code.insns {
					e.code.insns[i].kind = kGeneric
				}
			}
			r0, err := e.Run(m, args[:]...)
			if test.ExpectError {
				require.Error(t, err, "the program must fail")
				return
			}
			require.NoError(t, err)
			require.True(t, test.HasResult)
			require.Equal(t, test.Result, r0, "r0 = %#x, want %#x", r0, test.Result)
		})
	}
}
