package verifier

import (
	"errors"
	"strings"
	"testing"

	"github.com/ebpfvm/ebpfvm/progtype"
	"github.com/stretchr/testify/require"
)

func (c vcase) program(t testing.TB) Program {
	typ := c.typ
	if typ == nil {
		typ = progtype.SocketFilter
	}
	return testProgram(t, typ, c.src)
}

func TestCases(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Verify(c.program(t), Options{LogLevel: 2, Unprivileged: c.unpriv})
			if c.err == "" {
				if err != nil {
					var ve *Error
					if errors.As(err, &ve) {
						t.Fatalf("rejected: %v\n%s", err, ve.Log)
					}
					t.Fatal(err)
				}
				return
			}
			require.Error(t, err)
			var ve *Error
			require.True(t, errors.As(err, &ve), "%T", err)
			if !strings.Contains(ve.Msg, c.err) {
				t.Fatalf("got %q, want %q\n%s", ve.Msg, c.err, ve.Log)
			}
		})
	}
}
