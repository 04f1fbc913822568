//go:build ebpfvm_smodbug

package interp

// The ebpfvm_smodbug build tag injects a deliberate bug: 64-bit signed
// modulo takes the sign of the divisor (a floored modulo, as in Python)
// instead of the dividend's. internal/difftest's tests build with it to
// prove that the kernel differential campaign finds such a bug and shrinks
// it to a handful of instructions. Never use it otherwise.
const smodBug = true

func smodBuggy(a, b int64) int64 {
	r := a % b
	if r != 0 && (r < 0) != (b < 0) {
		r += b
	}
	return r
}
