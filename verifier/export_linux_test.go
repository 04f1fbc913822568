//go:build linux

package verifier

import "testing"

// KernelVerifyForTest gives the external tests the kernel's verdict on p:
// whether it loads, the verifier's log at level, and why the kernel could
// not be asked (empty if it was).
func KernelVerifyForTest(t testing.TB, p Program, unpriv bool, level int) (ok bool, log, unavailable string) {
	kv := kernelVerify(t, p, unpriv, level)
	return kv.OK, kv.Log, kv.Err
}

// KernelAvailableForTest skips (fails under CI) where bpf() is unavailable.
func KernelAvailableForTest(t testing.TB) { kernelAvailable(t) }
