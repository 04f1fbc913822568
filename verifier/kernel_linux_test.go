//go:build linux

package verifier

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/kernel"
	"golang.org/x/sys/unix"
)

// kernelVerdict is the kernel verifier's answer for a program.
type kernelVerdict struct {
	OK  bool   `json:"ok"`
	Log string `json:"log"`
	// Err is set when the program could not be submitted at all (map
	// creation failed, bpf() unavailable): such programs are not compared.
	Err string `json:"err"`
}

// kernelJob is a program as the unprivileged helper process receives it.
type kernelJob struct {
	Code  []byte         `json:"code"`
	Type  string         `json:"type"`
	Maps  []kernelMap    `json:"maps"`
	Refs  map[int]int    `json:"refs"` // instruction index -> map index
	Offs  map[int]int32  `json:"offs"`
	Level int            `json:"level"`
	Extra map[string]int `json:"extra,omitempty"`
}

type kernelMap struct {
	Type                           uint32
	KeySize, ValueSize, MaxEntries uint32
	Flags                          uint32
	Inner                          *kernelMap
	Frozen                         bool
	Value                          []byte
}

func toKernelMap(m *Map) *kernelMap {
	if m == nil {
		return nil
	}
	return &kernelMap{Type: uint32(m.Type), KeySize: m.KeySize, ValueSize: m.ValueSize, MaxEntries: m.MaxEntries,
		Flags: m.Flags, Inner: toKernelMap(m.Inner), Frozen: m.Frozen, Value: m.Value}
}

func kernelProgType(name string) (ebpf.ProgramType, bool) {
	switch name {
	case "socket_filter":
		return ebpf.SocketFilter, true
	case "xdp":
		return ebpf.XDP, true
	case "sched_cls":
		return ebpf.SchedCLS, true
	case "sched_act":
		return ebpf.SchedACT, true
	case "kprobe":
		return ebpf.Kprobe, true
	case "tracepoint":
		return ebpf.TracePoint, true
	case "raw_tracepoint":
		return ebpf.RawTracepoint, true
	case "perf_event":
		return ebpf.PerfEvent, true
	case "cgroup_skb":
		return ebpf.CGroupSKB, true
	case "syscall":
		return ebpf.Syscall, true
	}
	return 0, false
}

func newKernelJob(p Program, level int) (*kernelJob, error) {
	code, err := isa.Encode(p.Instructions)
	if err != nil {
		return nil, err
	}
	typ := "raw"
	if p.Type != nil {
		typ = p.Type.Name()
	}
	j := &kernelJob{Code: code, Type: typ, Refs: map[int]int{}, Offs: map[int]int32{}, Level: level}
	idx := map[*Map]int{}
	for i, r := range p.Refs {
		k, ok := idx[r.Map]
		if !ok {
			k = len(j.Maps)
			idx[r.Map] = k
			j.Maps = append(j.Maps, *toKernelMap(r.Map))
		}
		j.Refs[i] = k
		j.Offs[i] = r.Offset
	}
	return j, nil
}

func createKernelMap(km *kernelMap) (*ebpf.Map, error) {
	spec := &ebpf.MapSpec{Type: ebpf.MapType(km.Type), KeySize: km.KeySize, ValueSize: km.ValueSize,
		MaxEntries: km.MaxEntries, Flags: km.Flags}
	if km.Inner != nil {
		spec.InnerMap = &ebpf.MapSpec{Type: ebpf.MapType(km.Inner.Type), KeySize: km.Inner.KeySize,
			ValueSize: km.Inner.ValueSize, MaxEntries: km.Inner.MaxEntries, Flags: km.Inner.Flags}
	}
	if spec.Type == ebpf.PerfEventArray && spec.MaxEntries == 0 {
		spec.MaxEntries = 1
	}
	m, err := ebpf.NewMap(spec)
	if err != nil {
		return nil, err
	}
	if km.Frozen {
		if km.Value != nil {
			if err := m.Update(uint32(0), km.Value, ebpf.UpdateAny); err != nil {
				m.Close()
				return nil, err
			}
		}
		if err := m.Freeze(); err != nil {
			m.Close()
			return nil, err
		}
	}
	return m, nil
}

// runKernelJob loads the job's program in the running kernel, as the
// calling process's credentials allow.
func runKernelJob(j *kernelJob) kernelVerdict {
	pt, ok := kernelProgType(j.Type)
	if !ok {
		return kernelVerdict{Err: "no kernel program type " + j.Type}
	}
	var made []*ebpf.Map
	defer func() {
		for _, m := range made {
			m.Close()
		}
	}()
	for i := range j.Maps {
		m, err := createKernelMap(&j.Maps[i])
		if err != nil {
			return kernelVerdict{Err: fmt.Sprintf("map %d: %v", i, err)}
		}
		made = append(made, m)
	}
	var insns asm.Instructions
	r := bytes.NewReader(j.Code)
	for idx := 0; r.Len() > 0; idx++ {
		var ins asm.Instruction
		if err := ins.Unmarshal(r, binary.LittleEndian, "linux"); err != nil {
			return kernelVerdict{Err: "decode: " + err.Error()}
		}
		if k, ok := j.Refs[idx]; ok {
			src := ins.Src
			switch src {
			case asm.Register(isa.PseudoMapIdx):
				src = asm.PseudoMapFD
			case asm.Register(isa.PseudoMapIdxValue):
				src = asm.PseudoMapValue
			}
			ins.Src = src
			hi := ins.Constant >> 32
			if off := j.Offs[idx]; off != 0 {
				hi = int64(off)
			}
			ins.Constant = hi<<32 | int64(uint32(made[k].FD()))
		}
		insns = append(insns, ins)
	}
	// Unprivileged loaders cannot load BTF: the kernel then judges the
	// program without function information, as it would theirs.
	if decoded, err := isa.Decode(j.Code); err == nil && os.Geteuid() == 0 {
		kernel.AddFuncInfo(decoded, insns)
	}
	spec := &ebpf.ProgramSpec{Type: pt, Instructions: insns, License: "GPL"}
	if pt == ebpf.Syscall {
		// The kernel loads syscall programs only as sleepable.
		spec.Flags = unix.BPF_F_SLEEPABLE
	}
	opts := ebpf.ProgramOptions{LogLevel: ebpf.LogLevel(j.Level), LogSizeStart: 1 << 16}
	if j.Level == 0 {
		opts.LogLevel = ebpf.LogLevelBranch
	}
	for attempt := 0; ; attempt++ {
		p, err := ebpf.NewProgramWithOptions(spec, opts)
		if errors.Is(err, unix.EAGAIN) && attempt < 100 {
			continue
		}
		if err == nil {
			log := p.VerifierLog
			p.Close()
			return kernelVerdict{OK: true, Log: log}
		}
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return kernelVerdict{Log: strings.Join(ve.Log, "\n")}
		}
		if strings.Contains(err.Error(), "not supported (requires") {
			// cilium/ebpf probes the kernel first; an unprivileged
			// loader fails the probe where the kernel refuses it.
			return kernelVerdict{Log: err.Error()}
		}
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.E2BIG) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EACCES) {
			return kernelVerdict{Log: err.Error()}
		}
		return kernelVerdict{Err: err.Error()}
	}
}

// kernelVerify returns the kernel verifier's verdict on p: as root, or
// (unpriv) in a helper process running as nobody without capabilities.
func kernelVerify(t testing.TB, p Program, unpriv bool, level int) kernelVerdict {
	t.Helper()
	j, err := newKernelJob(p, level)
	if err != nil {
		return kernelVerdict{Err: err.Error()}
	}
	if !unpriv {
		return runKernelJob(j)
	}
	return runUnprivJob(t, j)
}

// The unprivileged kernel: jobs go to a long-lived copy of the test binary
// running as user nobody, over its stdin and stdout.
var unpriv struct {
	once sync.Once
	mu   sync.Mutex
	cmd  *exec.Cmd
	enc  *json.Encoder
	dec  *json.Decoder
	err  error
	// restore is the unprivileged_bpf_disabled setting to put back.
	restore string
}

// TestMain restores the system setting the unprivileged comparison
// changed.
func TestMain(m *testing.M) {
	code := m.Run()
	if unpriv.restore != "" {
		os.WriteFile("/proc/sys/kernel/unprivileged_bpf_disabled", []byte(unpriv.restore), 0)
	}
	os.Exit(code)
}

const unprivEnv = "EBPFVM_VERIFIER_UNPRIV_HELPER"

func startUnprivHelper() error {
	if os.Geteuid() != 0 {
		return errors.New("the unprivileged comparison needs root to drop to user nobody")
	}
	old, err := os.ReadFile("/proc/sys/kernel/unprivileged_bpf_disabled")
	if err != nil {
		return err
	}
	switch strings.TrimSpace(string(old)) {
	case "0":
	case "2":
		// 2 lets root re-enable unprivileged bpf; 1 would need a reboot.
		// TestMain puts the setting back.
		if err := os.WriteFile("/proc/sys/kernel/unprivileged_bpf_disabled", []byte("0"), 0); err != nil {
			return fmt.Errorf("enabling unprivileged bpf: %w", err)
		}
		unpriv.restore = "2"

	default:
		return fmt.Errorf("kernel.unprivileged_bpf_disabled is %s: unprivileged bpf() is off until reboot", strings.TrimSpace(string(old)))
	}
	// The test binary lives in a directory only root may enter: run a
	// copy that user nobody can execute.
	exe, err := os.ReadFile(os.Args[0])
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "verifier-unpriv")
	if err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	bin := dir + "/verifier.test"
	if err := os.WriteFile(bin, exe, 0o755); err != nil {
		return err
	}
	cmd := exec.Command(bin, "-test.run=^TestUnprivHelperProcess$")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), unprivEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	unpriv.cmd, unpriv.enc, unpriv.dec = cmd, json.NewEncoder(in), json.NewDecoder(out)
	return nil
}

func runUnprivJob(t testing.TB, j *kernelJob) kernelVerdict {
	unpriv.once.Do(func() { unpriv.err = startUnprivHelper() })
	if unpriv.err != nil {
		return kernelVerdict{Err: unpriv.err.Error()}
	}
	unpriv.mu.Lock()
	defer unpriv.mu.Unlock()
	if err := unpriv.enc.Encode(j); err != nil {
		return kernelVerdict{Err: err.Error()}
	}
	var v kernelVerdict
	if err := unpriv.dec.Decode(&v); err != nil {
		return kernelVerdict{Err: err.Error()}
	}
	return v
}

// TestUnprivHelperProcess is the body of the unprivileged helper process;
// it does nothing in a normal test run.
func TestUnprivHelperProcess(t *testing.T) {
	if os.Getenv(unprivEnv) == "" {
		t.Skip("helper process only")
	}
	dec := json.NewDecoder(os.Stdin)
	enc := json.NewEncoder(os.Stdout)
	for {
		var j kernelJob
		if err := dec.Decode(&j); err != nil {
			os.Exit(0)
		}
		if err := enc.Encode(runKernelJob(&j)); err != nil {
			os.Exit(1)
		}
	}
}

// kernelAvailable reports whether bpf() works here; tests comparing with
// the kernel skip without it, except under CI where they fail.
func kernelAvailable(t testing.TB) {
	t.Helper()
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err == nil {
		m.Close()
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("bpf() is unavailable (%v) and CI=true: the kernel comparison must run", err)
	}
	t.Skipf("bpf() is unavailable here (%v): skipping the comparison with the kernel", err)
}
