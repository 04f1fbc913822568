package helpers

import (
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebpfvm/ebpfvm/vm"
)

// HZ is the tick rate behind bpf_jiffies64 and bpf_ktime_get_coarse_ns
// (Debian's and most distributions' kernels use 250).
const HZ = 250

// Env is what helpers need from the host for a run: the clock, randomness,
// where trace output goes, and the identity of the "current task" that
// tracing helpers report. The loader stores it in vm.Machine.Env. Every
// field is optional; inject Clock and Rand to make runs reproducible.
type Env struct {
	// Clock returns monotonic nanoseconds (bpf_ktime_get_ns); default: time
	// since the process started.
	Clock func() uint64
	// Rand returns random numbers (bpf_get_prandom_u32); default: math/rand/v2.
	Rand func() uint32
	// Trace receives bpf_trace_printk output; nil discards it. Writes are
	// serialised.
	Trace io.Writer
	// PidTgid, UidGid and Comm are what bpf_get_current_pid_tgid,
	// bpf_get_current_uid_gid and bpf_get_current_comm report.
	PidTgid uint64
	UidGid  uint64
	Comm    string
	// NumaNode is what bpf_get_numa_node_id reports.
	NumaNode uint32
	// Prog is the program type's state for this run, opaque to this package.
	Prog any

	traceMu sync.Mutex
	// redirectTo records the last bpf_redirect target (+1; 0 = none).
	redirectTo atomic.Uint64
}

func (e *Env) lastRedirect(ifindex uint64) { e.redirectTo.Store(uint64(uint32(ifindex)) + 1) }

// RedirectTarget returns the ifindex of the last bpf_redirect call and
// whether there was one.
func (e *Env) RedirectTarget() (uint32, bool) {
	v := e.redirectTo.Load()
	return uint32(v - 1), v != 0
}

var processStart = time.Now()

var defaultEnv Env

// EnvOf returns the Env of a run (an empty one if the loader set none).
func EnvOf(m *vm.Machine) *Env {
	if e, ok := m.Env.(*Env); ok && e != nil {
		return e
	}
	return &defaultEnv
}

func (e *Env) now() uint64 {
	if e.Clock != nil {
		return e.Clock()
	}
	return uint64(time.Since(processStart))
}

func (e *Env) random() uint32 {
	if e.Rand != nil {
		return e.Rand()
	}
	return rand.Uint32()
}

func (e *Env) trace(b []byte) {
	if e.Trace == nil {
		return
	}
	e.traceMu.Lock()
	defer e.traceMu.Unlock()
	_, _ = e.Trace.Write(b)
}
