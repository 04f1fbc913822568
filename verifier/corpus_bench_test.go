package verifier_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ebpfvm/ebpfvm"
	"github.com/ebpfvm/ebpfvm/elf"
	"github.com/ebpfvm/ebpfvm/verifier"
	"github.com/stretchr/testify/require"
)

// BenchmarkTestdata verifies each program of testdata/*.o, the corpus whose
// times TestTestdataCorpus compares with the kernel's.
func BenchmarkTestdata(b *testing.B) {
	files, err := filepath.Glob("../testdata/*.o")
	require.NoError(b, err)
	for _, f := range files {
		obj, err := elf.Load(f)
		require.NoError(b, err, f)
		cs, err := ebpfvm.CollectionSpecFromObject(obj)
		require.NoError(b, err, f)
		for _, name := range cs.ProgramNames() {
			p, err := ebpfvm.VerifierProgram(cs, name, nil)
			require.NoError(b, err, "%s %s", f, name)
			b.Run(strings.TrimSuffix(filepath.Base(f), ".o")+"/"+name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := verifier.Verify(p, verifier.Options{}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
