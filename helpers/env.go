package helpers

import (
	"io"
	"math/rand/v2"
	"sync"
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
}

// runState is the helpers' per-run state, in vm.Machine.HelperState.
type runState struct {
	redirect   uint32 // bpf_redirect's ifindex
	redirected bool
	keys       []byte // for_each_map_elem's key slots
}

func stateOf(m *vm.Machine) *runState {
	if s, ok := m.HelperState.(*runState); ok {
		return s
	}
	s := &runState{}
	m.HelperState = s
	return s
}

// RedirectTarget returns the ifindex a run passed to bpf_redirect, if any.
func RedirectTarget(m *vm.Machine) (uint32, bool) {
	if s, ok := m.HelperState.(*runState); ok && s.redirected {
		return s.redirect, true
	}
	return 0, false
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
