package elf_test

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/require"
)

// TestTestdataUpToDate recompiles the C test programs with "make testdata"
// into a temporary directory and checks that the committed objects match:
// the same programs with the same instructions (as cilium/ebpf prints them,
// with their references and source lines) and the same maps. It needs
// clang-19, llvm-strip-19, llvm-objdump-19 and make; without them it is skipped, except
// under CI (CI=true), which installs them.
func TestTestdataUpToDate(t *testing.T) {
	for _, tool := range []string{"clang-19", "llvm-strip-19", "llvm-objdump-19", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is needed to check the compiled test programs: %v", tool, err)
			}
			t.Skipf("%s not found: %v", tool, err)
		}
	}
	sources, err := filepath.Glob("../testdata/*.c")
	require.NoError(t, err)
	bad, err := filepath.Glob("../testdata/bad/*.c")
	require.NoError(t, err)
	sources = append(sources, bad...)
	committed, err := filepath.Glob("../testdata/*.o")
	require.NoError(t, err)
	badObjs, err := filepath.Glob("../testdata/bad/*.o")
	require.NoError(t, err)
	committed = append(committed, badObjs...)
	var want []string
	for _, src := range sources {
		want = append(want, strings.TrimSuffix(src, ".c")+".o")
	}
	require.ElementsMatch(t, want, committed, "every testdata/*.c needs its committed .o, and no other .o may be there")

	out := t.TempDir()
	cmd := exec.Command("make", "-s", "-j2", "-C", "..", "testdata", "OUT="+out)
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, "make testdata:\n%s", msg)

	for _, obj := range committed {
		rel, err := filepath.Rel("../testdata", obj)
		require.NoError(t, err)
		t.Run(rel, func(t *testing.T) {
			require.Equal(t, describe(t, filepath.Join(out, rel)), describe(t, obj),
				"%s is out of date: run make testdata and commit it", obj)
		})
	}
}

// describe prints what matters of an object: its disassembly with
// relocations, and as cilium/ebpf reads it, its programs (instructions with
// references and source lines) and maps.
func describe(t *testing.T, path string) string {
	t.Helper()
	var b strings.Builder
	dis, err := exec.Command("llvm-objdump-19", "-d", "-r", path).CombinedOutput()
	require.NoError(t, err, "%s", dis)
	// The first lines name the file.
	_, dis, _ = bytes.Cut(dis, []byte("Disassembly"))
	b.Write(dis)
	spec, err := ebpf.LoadCollectionSpec(path)
	if err != nil {
		// The objects with unsupported features may be beyond cilium/ebpf.
		_, msg, _ := strings.Cut(err.Error(), path+": ")
		fmt.Fprintf(&b, "error: %s\n", msg)
		return b.String()
	}
	for _, name := range slices.Sorted(maps.Keys(spec.Programs)) {
		p := spec.Programs[name]
		fmt.Fprintf(&b, "program %s section %s type %s license %s\n%v\n", name, p.SectionName, p.Type, p.License, p.Instructions)
	}
	for _, name := range slices.Sorted(maps.Keys(spec.Maps)) {
		m := spec.Maps[name]
		fmt.Fprintf(&b, "map %s: %v inner %v contents %v\n", name, m, m.InnerMap, m.Contents)
	}
	return b.String()
}

// TestExamplesUpToDate is TestTestdataUpToDate for the examples' objects
// (examples/NAME/bpf/*.o, built by "make examples").
func TestExamplesUpToDate(t *testing.T) {
	for _, tool := range []string{"clang-19", "llvm-strip-19", "llvm-objdump-19", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is needed to check the compiled example programs: %v", tool, err)
			}
			t.Skipf("%s not found: %v", tool, err)
		}
	}
	sources, err := filepath.Glob("../examples/*/bpf/*.c")
	require.NoError(t, err)
	require.NotEmpty(t, sources)
	out := t.TempDir()
	msg, err := exec.Command("make", "-s", "-j2", "-C", "..", "examples", "EXOUT="+out).CombinedOutput()
	require.NoError(t, err, "make examples:\n%s", msg)
	for _, src := range sources {
		obj := strings.TrimSuffix(src, ".c") + ".o"
		rel, err := filepath.Rel("../examples", obj)
		require.NoError(t, err)
		t.Run(rel, func(t *testing.T) {
			require.Equal(t, describe(t, filepath.Join(out, rel)), describe(t, obj),
				"%s is out of date: run make examples and commit it", obj)
		})
	}
}
