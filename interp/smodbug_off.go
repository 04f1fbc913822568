//go:build !ebpfvm_smodbug

package interp

// smodBug is false in every normal build, so that the compiler removes
// the buggy path from mod64 (see smodbug_on.go).
const smodBug = false

func smodBuggy(a, b int64) int64 { return a % b }
