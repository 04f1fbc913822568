package difftest

import (
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm/internal/kerneltest"
)

// TestInjectedBugIsCaught proves that the campaign catches a semantic bug
// of the interpreter: it builds this package with the ebpfvm_smodbug tag
// (signed modulo takes the divisor's sign) and runs TestInjectedSmodBug,
// which wants the bug found and shrunk to at most 5 instructions.
func TestInjectedBugIsCaught(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the package again with -tags ebpfvm_smodbug")
	}
	kerneltest.Require(t)
	goTool, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the go tool is needed to build the injected-bug test: %v", err)
		}
		t.Skipf("the go tool is needed to build the injected-bug test: %v", err)
	}
	cmd := exec.Command(goTool, "test", "-tags", "ebpfvm_smodbug", "-count=1", "-run", "^TestInjectedSmodBug$", "-v", ".")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "--- PASS: TestInjectedSmodBug")
	t.Logf("%s", out)
}
