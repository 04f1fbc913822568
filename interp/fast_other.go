//go:build !amd64 || purego

package interp

// haveFast reports that fastRun exists on this platform: it does not, and
// run uses its Go loop alone.
const haveFast = false

func fastRun(*state) { panic("interp: fastRun is not available") }
