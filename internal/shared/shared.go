// Package shared locates the data shared by all checkouts of the project
// (the conformance suite, reference outputs), which lives beside the
// repository in ../shared so that it is not copied into every clone.
package shared

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns <repo root>/../shared/<sub>, the repository root being the
// nearest directory above the working directory that holds go.mod. When the
// directory is missing the test is skipped, except under CI (CI=true) where
// missing data must not pass silently and the test fails.
func Dir(t testing.TB, sub string) string {
	t.Helper()
	root, err := repoRoot()
	if err == nil {
		dir := filepath.Join(root, "..", "shared", sub)
		if _, err = os.Stat(dir); err == nil {
			return dir
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("shared data %q not found: %v", sub, err)
	} else {
		t.Skipf("shared data %q not found: %v", sub, err)
	}
	return ""
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
