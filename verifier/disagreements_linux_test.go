//go:build linux

package verifier

// knownDisagreements lists, by programHash, every program of the agreement
// campaign (campaign_linux_test.go) on which this package and the running
// kernel disagree, with the reason.
var knownDisagreements = map[string]string{}
