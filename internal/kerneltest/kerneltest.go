// Package kerneltest decides whether tests that need the Linux kernel's
// bpf() run: they skip with the reason where bpf() is unavailable (another
// OS, no privileges), except under CI (CI=true), where a missing kernel
// must not pass silently and the test fails.
package kerneltest

import (
	"os"
	"testing"

	"github.com/ebpfvm/ebpfvm/kernel"
)

// Require skips or fails t unless programs can be loaded into the kernel.
func Require(t testing.TB) {
	t.Helper()
	err := kernel.Available()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("the kernel differential tests need bpf() (run as root on Linux): %v", err)
	}
	t.Skipf("skipping kernel differential test: %v", err)
}
