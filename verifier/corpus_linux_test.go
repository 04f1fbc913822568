//go:build linux

package verifier_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ebpfvm/ebpfvm"
	"github.com/ebpfvm/ebpfvm/elf"
	"github.com/ebpfvm/ebpfvm/verifier"
	"github.com/stretchr/testify/require"
)

var verificationTime = regexp.MustCompile(`verification time (\d+) usec`)

// TestTestdataCorpus verifies every program of testdata/*.o with this
// package and with the running kernel (privileged; socket filters also
// unprivileged), requires the same verdicts, and reports how long each
// verifier took: the kernel's own "verification time" (log level 4) against
// Verify's duration, both the median of several runs.
func TestTestdataCorpus(t *testing.T) {
	verifier.KernelAvailableForTest(t)
	files, err := filepath.Glob("../testdata/*.o")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var report strings.Builder
	report.WriteString("| object | program | type | kernel | ours | unpriv kernel | unpriv ours | kernel µs | ours µs | ratio |\n|---|---|---|---|---|---|---|---|---|---|\n")
	var kernelTotal, ourTotal float64
	runs := 0
	for _, f := range files {
		obj, err := elf.Load(f)
		require.NoError(t, err, f)
		cs, err := ebpfvm.CollectionSpecFromObject(obj)
		require.NoError(t, err, f)
		names := make([]string, 0, len(cs.Programs))
		for n := range cs.Programs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, name := range names {
			p, err := ebpfvm.VerifierProgram(cs, name, nil)
			require.NoError(t, err, "%s %s", f, name)
			typ := p.Type.Name()
			kverify := func(level int) (bool, string, string) {
				return verifier.KernelVerifyForTest(t, p, false, level)
			}
			if kt := cs.Programs[name].KernelType; typ == "raw" && kt != "" {
				// A hook that runs here as raw memory: the kernel
				// checks it as its own type.
				typ += " (" + kt + ")"
				kverify = func(level int) (bool, string, string) {
					return verifier.KernelVerifyAsForTest(t, p, kt, level)
				}
			}
			ours, ourUS := ourVerdict(p, false)
			ok, log, unavail := kverify(4)
			if unavail != "" {
				t.Logf("%s %s: kernel unavailable: %s", filepath.Base(f), name, unavail)
				continue
			}
			require.Equal(t, ok, ours == "", "%s %s: kernel %v, ours %q\n%s", f, name, ok, ours, log)
			kernelUS := kernelTime(log, kverify)
			uk, uo := "-", "-"
			if typ == "socket_filter" {
				uok, ulog, unavail := verifier.KernelVerifyForTest(t, p, true, 1)
				if unavail == "" {
					uours, _ := ourVerdict(p, true)
					uk, uo = verdictWord(uok), verdictWord(uours == "")
					require.Equal(t, uok, uours == "", "%s %s unprivileged: kernel %v, ours %q\n%s", f, name, uok, uours, ulog)
				}
			}
			fmt.Fprintf(&report, "| %s | %s | %s | %s | %s | %s | %s | %.0f | %.0f | %.2f |\n", filepath.Base(f), name, typ,
				verdictWord(ok), verdictWord(ours == ""), uk, uo, kernelUS, ourUS, ourUS/kernelUS)
			kernelTotal += kernelUS
			ourTotal += ourUS
			runs++
		}
	}
	fmt.Fprintf(&report, "\n%d programs: kernel %.0f µs, ours %.0f µs in total, ratio %.2f\n", runs, kernelTotal, ourTotal, ourTotal/kernelTotal)
	fmt.Print(report.String())
	if out := os.Getenv("VERIFIER_CORPUS_OUT"); out != "" {
		require.NoError(t, os.WriteFile(out, []byte(report.String()), 0o644))
	}
}

func verdictWord(ok bool) string {
	if ok {
		return "accept"
	}
	return "reject"
}

// ourVerdict is the rejection message ("" when accepted) and the median
// verification time in microseconds.
func ourVerdict(p verifier.Program, unpriv bool) (string, float64) {
	var times []time.Duration
	msg := ""
	for range 15 {
		start := time.Now()
		_, err := verifier.Verify(p, verifier.Options{Unprivileged: unpriv})
		times = append(times, time.Since(start))
		msg = ""
		if err != nil {
			msg = err.Error()
		}
	}
	slices.Sort(times)
	return msg, float64(times[len(times)/2].Nanoseconds()) / 1000
}

// kernelTime is the median of the kernel's own verification times over a
// few loads.
func kernelTime(first string, kverify func(int) (bool, string, string)) float64 {
	var us []float64
	for i := range 5 {
		log := first
		if i > 0 {
			_, log, _ = kverify(4)
		}
		if m := verificationTime.FindStringSubmatch(log); m != nil {
			v, _ := strconv.ParseFloat(m[1], 64)
			us = append(us, v)
		}
	}
	if len(us) == 0 {
		return 0
	}
	slices.Sort(us)
	return us[len(us)/2]
}
