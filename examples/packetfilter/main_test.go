package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeCapture(f, 2000); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := run(path, "23,445"); err != nil {
		t.Fatal(err)
	}
}
