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

// KernelVerifyAsForTest is KernelVerifyForTest loading the program as the
// kernel program type kernelType (e.g. "syscall" for a hook that runs as
// raw here).
func KernelVerifyAsForTest(t testing.TB, p Program, kernelType string, level int) (ok bool, log, unavailable string) {
	j, err := newKernelJob(p, level)
	if err != nil {
		return false, "", err.Error()
	}
	j.Type = kernelType
	kv := runKernelJob(j)
	return kv.OK, kv.Log, kv.Err
}

// KernelAvailableForTest skips (fails under CI) where bpf() is unavailable.
func KernelAvailableForTest(t testing.TB) { kernelAvailable(t) }
