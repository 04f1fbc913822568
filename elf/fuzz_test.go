package elf_test

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm/elf"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/FuzzLoad from the compiled test programs")

// FuzzLoad checks that no input makes Load panic, and that what loads is
// consistent. The seeds are the test programs; the committed corpus adds
// truncated and corrupted variants (see TestFuzzCorpus).
func FuzzLoad(f *testing.F) {
	for _, file := range objects(f) {
		data, err := os.ReadFile(file)
		require.NoError(f, err)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, err := elf.LoadReader(bytes.NewReader(data))
		if err != nil {
			require.Nil(t, obj)
			return
		}
		checkObject(t, obj)
	})
}

// TestFuzzCorpus checks the committed seed corpus of FuzzLoad exists, and
// with -update-corpus writes it: every test program truncated and
// corrupted at random (fixed seed), the relocations of a few made invalid,
// and the objects with unsupported features.
func TestFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzLoad")
	if !*updateCorpus {
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		require.NotEmpty(t, entries)
		return
	}
	require.NoError(t, os.RemoveAll(dir))
	require.NoError(t, os.MkdirAll(dir, 0o755))
	write := func(name string, data []byte) {
		text := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i, file := range objects(t) {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		base := strings.TrimSuffix(filepath.Base(file), ".o")
		write(base+"-truncated", data[:r.IntN(len(data)/64)*64])
		write(base+"-corrupted", corruptions(data, uint64(i), 1)[0])
		if rels := relocations(t, data); len(rels) > 0 {
			in := bytes.Clone(data)
			putU64(in[rels[0].off:], rels[0].target+3)
			write(base+"-badreloc", in)
		}
	}
	bad, err := filepath.Glob("../testdata/bad/*.o")
	require.NoError(t, err)
	for _, file := range bad {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		write("unsupported-"+strings.TrimSuffix(filepath.Base(file), ".o"), data)
	}
}
