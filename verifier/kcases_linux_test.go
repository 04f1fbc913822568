//go:build linux

package verifier

import (
	"errors"
	"strings"
	"testing"
)

// TestCasesKernel checks the expected verdict of every table case against
// the running kernel, and prints the kernel's message where it differs
// from ours.
func TestCasesKernel(t *testing.T) {
	kernelAvailable(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := c.program(t)
			if c.name == "too complex" {
				t.Skip("takes the kernel seconds")
			}
			if c.noKernel != "" {
				t.Skip(c.noKernel)
			}
			kv := kernelVerify(t, p, c.unpriv, 1)
			if kv.Err != "" {
				t.Skipf("kernel: %s", kv.Err)
			}
			want := c.err == ""
			if kv.OK != want {
				t.Errorf("kernel verdict %v, expected %v\n%s", kv.OK, want, tail(kv.Log, 6))
				return
			}
			_, err := Verify(p, Options{Unprivileged: c.unpriv})
			var ve *Error
			if errors.As(err, &ve) && !kv.OK && !strings.Contains(kv.Log, ve.Msg) {
				t.Logf("messages differ:\n  ours:   %s\n  kernel: %s", ve.Msg, tail(kv.Log, 3))
			}
		})
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	var keep []string
	for _, l := range lines {
		if strings.HasPrefix(l, "processed ") || strings.HasPrefix(l, "verification time") || strings.HasPrefix(l, "stack depth") {
			continue
		}
		keep = append(keep, l)
	}
	if len(keep) > n {
		keep = keep[len(keep)-n:]
	}
	return strings.Join(keep, "\n")
}
