package shared

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDirFindsConformance(t *testing.T) {
	dir := Dir(t, "conformance")
	_, err := os.Stat(filepath.Join(dir, "tests"))
	require.NoError(t, err)
}

func TestRepoRoot(t *testing.T) {
	root, err := repoRoot()
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
}

// recorder notes Skipf and Fatalf instead of stopping the test.
type recorder struct {
	testing.TB
	skipped, failed bool
}

func (r *recorder) Helper()               { r.TB.Helper() }
func (r *recorder) Skipf(string, ...any)  { r.skipped = true }
func (r *recorder) Fatalf(string, ...any) { r.failed = true }

func TestDirMissing(t *testing.T) {
	for _, tc := range []struct {
		ci             string
		skipped, fails bool
	}{
		{ci: "", skipped: true},
		{ci: "false", skipped: true},
		{ci: "true", fails: true},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			r := &recorder{TB: t}
			require.Empty(t, Dir(r, "no-such-data-dir"))
			require.Equal(t, tc.skipped, r.skipped)
			require.Equal(t, tc.fails, r.failed)
		})
	}
}
