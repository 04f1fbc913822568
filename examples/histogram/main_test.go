package main

import "testing"

func TestRun(t *testing.T) {
	if err := run(10_000); err != nil {
		t.Fatal(err)
	}
}
