package helpers

import (
	"strings"
	"testing"
	"unicode"

	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/require"
)

// TestKernelNames checks the name table against cilium/ebpf's, which is
// generated from the kernel's uapi header.
func TestKernelNames(t *testing.T) {
	for id := 1; id < len(kernelNames); id++ {
		camel := strings.TrimPrefix(asm.BuiltinFunc(id).String(), "Fn")
		var b strings.Builder
		for i, r := range camel {
			if i > 0 && unicode.IsUpper(r) {
				prev := rune(camel[i-1])
				if unicode.IsLower(prev) || unicode.IsDigit(prev) || (id == 147 && i == 1) {
					b.WriteByte('_')
				}
			}
			b.WriteRune(unicode.ToLower(r))
		}
		require.Equal(t, b.String(), kernelNames[id], "helper %d", id)
	}
	id, ok := KernelID("bpf_map_lookup_elem")
	require.True(t, ok)
	require.Equal(t, int32(1), id)
	id, ok = KernelID("ringbuf_output")
	require.True(t, ok)
	require.Equal(t, int32(IDRingbufOutput), id)
}

// TestStandardPrototypes checks that every standard helper is registered
// under its kernel name and id, and that its prototype is well formed.
func TestStandardPrototypes(t *testing.T) {
	r := Standard()
	for _, id := range r.IDs() {
		h, _ := r.Lookup(id)
		require.Equal(t, "bpf_"+h.Name, KernelName(id), "helper %d", id)
		for i, a := range h.Args {
			if a == ArgConstSize || a == ArgConstSizeOrZero {
				require.Greater(t, i, 0)
				prev := h.Args[i-1]
				require.Contains(t, []ArgKind{ArgPtrToMem, ArgPtrToMemOrNull, ArgPtrToUninitMem}, prev, "%s: size argument %d follows %s", h.Name, i+1, prev)
			}
		}
		if h.CallbackArgs > 0 {
			require.Contains(t, h.Args[:], ArgPtrToFunc, h.Name)
		}
	}
}
