package verifier

// Exported for the external tests (soundness_test.go).
var (
	MutateRandomForTest = mutateRandom
	MutateUnsafeForTest = mutateUnsafe
	UnsafeKindsForTest  = unsafeKinds
)
