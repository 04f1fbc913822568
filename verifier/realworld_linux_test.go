//go:build linux

package verifier_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ebpfvm/ebpfvm"
	"github.com/ebpfvm/ebpfvm/elf"
	"github.com/ebpfvm/ebpfvm/verifier"
	"github.com/stretchr/testify/require"
)

// realWorldObjects lists the objects of public projects the verifier is
// compared on: the little-endian test objects github.com/cilium/ebpf ships
// in its module (clang-compiled programs of many kernel types, which the
// module cache holds wherever this repository builds), plus any the user
// names in EBPFVM_OBJECTS (a glob, e.g. a checkout's build output).
func realWorldObjects(t *testing.T) []string {
	t.Helper()
	var files []string
	if dir := ciliumModule(t); dir != "" {
		for _, g := range []string{"testdata/*-el.elf", "examples/*/*_bpfel.o"} {
			f, err := filepath.Glob(filepath.Join(dir, g))
			require.NoError(t, err)
			files = append(files, f...)
		}
	}
	if g := os.Getenv("EBPFVM_OBJECTS"); g != "" {
		f, err := filepath.Glob(g)
		require.NoError(t, err)
		require.NotEmpty(t, f, "EBPFVM_OBJECTS=%s matches no file", g)
		files = append(files, f...)
	}
	if len(files) == 0 {
		msg := "no real-world objects: cilium/ebpf's testdata is not in the module cache"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return files
}

// ciliumModule is the directory of the cilium/ebpf version this module
// requires, in the module cache.
func ciliumModule(t *testing.T) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/cilium/ebpf").Output()
	if err != nil {
		t.Logf("go list -m github.com/cilium/ebpf: %v", err)
		return ""
	}
	dir := strings.TrimSpace(string(out))
	if _, err := os.Stat(dir); err != nil {
		t.Logf("cilium/ebpf: %v", err)
		return ""
	}
	return dir
}

// TestRealWorldObjects verifies every program of the real-world objects
// with this package and with the running kernel (privileged; socket
// filters also unprivileged) and requires the same verdicts. Objects and
// programs ebpfvm cannot load (kfuncs, CO-RE against the kernel's BTF,
// struct_ops, program types the verifier does not model) are reported
// with the reason, not compared.
func TestRealWorldObjects(t *testing.T) {
	verifier.KernelAvailableForTest(t)
	var table, skipped strings.Builder
	table.WriteString("| object | program | type | kernel | ours | unpriv kernel | unpriv ours |\n|---|---|---|---|---|---|---|\n")
	compared, agree, objects := 0, 0, 0
	for _, f := range realWorldObjects(t) {
		base := filepath.Base(filepath.Dir(f)) + "/" + filepath.Base(f)
		objects++
		obj, err := elf.Load(f)
		if err != nil {
			fmt.Fprintf(&skipped, "- %s: %v\n", base, strings.TrimPrefix(err.Error(), f+": "))
			continue
		}
		cs, err := ebpfvm.CollectionSpecFromObject(obj)
		if err != nil {
			fmt.Fprintf(&skipped, "- %s: %v\n", base, err)
			continue
		}
		for _, name := range cs.ProgramNames() {
			p, err := ebpfvm.VerifierProgram(cs, name, nil)
			if err != nil {
				fmt.Fprintf(&skipped, "- %s %s: %v\n", base, name, err)
				continue
			}
			kt := cs.Programs[name].KernelType
			if kt == "" {
				kt = p.Type.Name()
			}
			ours := ourVerdictOnce(p, false)
			ok, log, unavail := verifier.KernelVerifyAsForTest(t, p, kt, 1)
			if unavail != "" {
				fmt.Fprintf(&skipped, "- %s %s: the kernel could not be asked: %s\n", base, name, unavail)
				continue
			}
			compared++
			same := ok == (ours == "")
			uk, uo := "-", "-"
			if kt == "socket_filter" {
				uok, ulog, unavail := verifier.KernelVerifyForTest(t, p, true, 1)
				if unavail == "" {
					uours := ourVerdictOnce(p, true)
					uk, uo = verdictWord(uok), verdictWord(uours == "")
					require.Equal(t, uok, uours == "", "%s %s unprivileged: kernel %v, ours %q\n%s", base, name, uok, uours, ulog)
				}
			}
			require.True(t, same, "%s %s: kernel %v, ours %q\n%s", base, name, ok, ours, log)
			agree++
			fmt.Fprintf(&table, "| %s | %s | %s | %s | %s | %s | %s |\n", base, name, kt, verdictWord(ok), verdictWord(ours == ""), uk, uo)
		}
	}
	report := fmt.Sprintf("real-world objects: %d objects, %d programs compared, %d agree\n\n%s\nnot compared:\n%s",
		objects, compared, agree, table.String(), skipped.String())
	fmt.Print(report)
	if out := os.Getenv("VERIFIER_REALWORLD_OUT"); out != "" {
		require.NoError(t, os.WriteFile(out, []byte(report), 0o644))
	}
	// A floor, so that a change in where the objects come from cannot
	// leave the comparison empty without notice.
	require.GreaterOrEqual(t, compared, 30)
}

// ourVerdictOnce is the rejection message of one verification, "" when
// the program is accepted.
func ourVerdictOnce(p verifier.Program, unpriv bool) string {
	if _, err := verifier.Verify(p, verifier.Options{Unprivileged: unpriv}); err != nil {
		return err.Error()
	}
	return ""
}
