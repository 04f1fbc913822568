package interp

// SetFast turns fastRun on or off for the runs that start after it, where
// it exists, and returns the previous setting. Tests use it to run the Go
// loop and the assembly one on the same input.
func SetFast(on bool) bool {
	old := useFast
	useFast = on
	return old
}

// HaveFast reports whether fastRun exists on this platform.
const HaveFast = haveFast
