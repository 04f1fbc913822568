// Package kernel loads programs and maps into the running Linux kernel
// through github.com/cilium/ebpf, returns the kernel verifier's verdict and
// runs the programs with BPF_PROG_TEST_RUN, so that ebpfvm's results can be
// compared with the reference implementation. It needs Linux and the
// privileges bpf() asks for (root, or CAP_BPF with CAP_PERFMON and
// CAP_NET_ADMIN); elsewhere every function returns an error matching
// ErrUnavailable.
//
// Programs are described with the same instructions, program types and map
// specs as the rest of the library (Spec), so that one description runs on
// both sides. Load creates the maps, fills them and loads the program;
// Loaded.Run runs it once and returns r0, the packet and the maps'
// contents; Close releases every kernel object. Test does all three.
//
// # Kernel quirks hidden here
//
//   - socket_filter: the kernel's test run takes its input as an Ethernet
//     frame and starts the packet after the 14-byte header, while ebpfvm's
//     socket filters see the packet as given from offset 0. Run prepends a
//     header (destination MAC 00:00:00:00:00:00, the loopback device's, so
//     pkt_type is PACKET_HOST) whose EtherType is the protocol of the input
//     context (ETH_P_IP if unset) and strips it from the output.
//   - ld_abs/ld_ind at SKF_LL_OFF offsets read from the MAC header: in the
//     kernel, the Ethernet header Run prepends; ebpfvm's packets carry no
//     link-layer header, so there a read reaching into those 14 bytes ends
//     the program with r0 = 0 (reads past them read the packet on both
//     sides).
//   - The test run uses the loopback device: __sk_buff.ifindex and
//     xdp_md.ingress_ifindex read 1. DefaultContext returns a context with
//     the values the kernel presents, for ebpfvm's side of a comparison.
//   - __sk_buff fields the kernel derives itself (len, protocol) must be
//     zero in its context input; Run clears them. The skb test run refuses
//     IPv4 frames shorter than 20 bytes and IPv6 ones shorter than 40 (an
//     IP header); other EtherTypes take packets of any length.
//   - An xdp test run asked for its context back without being given one
//     sees data_end 0, an empty packet; and its output starts with the
//     metadata that bpf_xdp_adjust_meta made. Run always gives a context
//     with the packet's bounds and cuts the metadata from the output
//     (ctx_out says how long it is), so that Result.Data is the packet
//     from data to data_end, as in ebpfvm.
//   - The verifier returns EAGAIN when a signal is pending, which Go's
//     runtime causes routinely; cilium/ebpf retries the load, and Load
//     retries again if EAGAIN still comes through.
//   - The test run's return value is 32 bits wide. To recover all of r0,
//     Load also loads a variant of the program that stores r0 into a
//     one-element array map before every exit of the main function, and Run
//     runs that variant: Result.R0 is then the full register
//     (Result.R0Bits 64). Exits the variant cannot see (an out-of-packet
//     ld_abs ends the program with r0 = 0) are covered by clearing the map
//     before each run and checking its low half against the return value;
//     where that fails, or Options.R0Only32 is set, R0Bits is 32.
//   - "raw" programs (r1 = input memory, r2 = its length) have no kernel
//     program type. They are loaded as sched_cls programs with a 5-insn
//     prologue that sets r1 to the packet data (after a prepended 14-byte
//     header of EtherType 0x88b5, local experimental, which the kernel
//     accepts with any length) and r2 to its length. The kernel's verifier
//     then requires
//     data_end checks before any access through r1, which raw programs
//     seldom have; instruction indexes in errors are those of the original
//     program.
//
// # Kernel bugs found by the comparison
//
//   - Linux 6.18 fails to load a program whose second bpf_loop call, with
//     another callback, has nr_loops 0 ("verifier bug: No program to jit
//     at insn N (subprog < 0)", EFAULT, and a kernel warning): the
//     callback was removed as dead code. Also when nr_loops is a pointer.
//   - Linux 6.18 does not track precision through the value an atomic
//     fetch loads from the stack: it prunes paths on which that value
//     differs and can hard-wire a branch that is in fact taken, changing
//     the program's result (testdata/atomic-fetch-precision.s).
//   - Linux 6.18 fails with EFAULT on some programs with a may_goto inside
//     nested bounded loops ("verifier bug: REG INVARIANTS VIOLATION",
//     "backtracking misuse" in the kernel log), and takes minutes over
//     others.
//
// The program generator avoids all three.
//
// # Known differences not mimicked by ebpfvm
//
//   - ld_abs/ld_ind at the negative offsets SKF_NET_OFF (-0x100000) and
//     SKF_LL_OFF (-0x200000) read the kernel's network and MAC headers;
//     ebpfvm's socket filters end the program with r0 = 0 there, as for any
//     offset outside the packet.
//   - bpf_skb_load_bytes_relative(..., BPF_HDR_START_MAC) reads from the MAC
//     header the kernel sees, which in a test run is the prepended one;
//     ebpfvm takes the packet's start as the MAC header.
//   - A narrow load of a __sk_buff field that the kernel keeps in fewer
//     bytes than the field's 4 (protocol, vlan_proto, vlan_tci,
//     queue_mapping, tc_index, gso_segs, gso_size are 16-bit, pkt_type
//     3-bit) is rewritten to a load of the whole kernel field when it is at
//     least as wide as it, wherever it points: a 2-byte load of the upper
//     half of __sk_buff.protocol returns the protocol, not 0. ebpfvm reads
//     the bytes of the 32-bit field.
//   - Values that depend on the machine or the moment (bpf_ktime_get_ns,
//     bpf_get_prandom_u32, bpf_get_smp_processor_id, per-CPU map slots)
//     differ by nature; the generator of internal/progen avoids them.
package kernel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	stdmaps "maps"
	"slices"

	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/maps"
)

// ErrUnavailable is returned (wrapped) when programs cannot be loaded into
// the kernel: another operating system, or bpf() refused for lack of
// privileges.
var ErrUnavailable = errors.New("kernel: bpf() is unavailable")

// Program types the package can load, by ebpfvm's names.
const (
	TypeRaw          = "raw"
	TypeSocketFilter = "socket_filter"
	TypeXDP          = "xdp"
)

// Spec is a program and the maps it uses, in the terms of the rest of the
// library.
type Spec struct {
	Program *Program
	// Maps are created in the kernel, by name, before the program loads.
	Maps map[string]*Map
}

// Clone returns a copy of s that shares no memory with it (map specs are
// copied by value).
func (s *Spec) Clone() *Spec {
	prog := *s.Program
	prog.Instructions = slices.Clone(s.Program.Instructions)
	prog.References = stdmaps.Clone(s.Program.References)
	out := &Spec{Program: &prog, Maps: make(map[string]*Map, len(s.Maps))}
	for name, m := range s.Maps {
		mc := *m
		mc.Contents = make([]KV, len(m.Contents))
		for i, kv := range m.Contents {
			mc.Contents[i] = KV{Key: bytes.Clone(kv.Key), Value: bytes.Clone(kv.Value)}
			for _, v := range kv.PerCPU {
				mc.Contents[i].PerCPU = append(mc.Contents[i].PerCPU, bytes.Clone(v))
			}
		}
		out.Maps[name] = &mc
	}
	return out
}

// Program is a program to load.
type Program struct {
	Name string
	// Type is "raw", "socket_filter" or "xdp" (progtype names).
	Type         string
	Instructions []isa.Instruction
	// References maps instruction indexes (not slots) of lddw instructions
	// to the maps they load; the kernel's map fd is written into them.
	References map[int]Reference
	// License defaults to "GPL", which every helper accepts.
	License string
}

// Reference is what a lddw loads: a map pointer, or with Value a pointer
// Offset bytes into the value of a single-element array map.
type Reference struct {
	Map    string
	Value  bool
	Offset int64
}

// Map is a map to create and its initial contents.
type Map struct {
	Spec maps.Spec
	// Contents are written after creation. For per-CPU maps, Value is
	// written to every CPU's slot.
	Contents []KV
	// Freeze makes the map read-only to user space after it is filled, as
	// loaders do for .rodata (whose programs' view the map's flags decide).
	Freeze bool
}

// KV is one entry of a map.
type KV struct {
	Key, Value []byte
	// PerCPU holds the values of a per-CPU map's entry read back after a
	// run, one per possible CPU (Value is then nil).
	PerCPU [][]byte
}

// Options configures Load.
type Options struct {
	// Log asks for the verifier's log of an accepted program too (a
	// rejected program's log is always returned).
	Log bool
	// R0Only32 skips the variant program that recovers the upper half of
	// r0: one load instead of two, Result.R0Bits 32.
	R0Only32 bool
	// Strict loads the program without CAP_PERFMON (and CAP_SYS_ADMIN) in
	// effect, keeping CAP_BPF and CAP_NET_ADMIN: the verifier then refuses
	// programs that leak pointers (into r0, maps or the packet), compare
	// them or copy parts of them, as it does for loaders without
	// CAP_PERFMON. Pointers are kernel addresses here and virtual
	// addresses in ebpfvm, so a comparison means something only for
	// programs that pass this check. The process needs CAP_PERFMON or
	// CAP_SYS_ADMIN in its permitted set (root has them).
	Strict bool
}

// Input is what a run starts from.
type Input struct {
	// Data is the packet (socket_filter, xdp) or the input memory (raw).
	Data []byte
	// Context is the context in ebpfvm's layout for the type (struct
	// __sk_buff, struct xdp_md), as progtype.Input.Context.
	Context []byte
}

// Result is the outcome of a run.
type Result struct {
	// R0 is the program's return value; R0Bits says whether it is the full
	// register (64) or only its low half (32).
	R0     uint64
	R0Bits int
	// Data is the packet or memory after the run.
	Data []byte
	// Context is the kernel's context after the run (ctx_out), in the
	// layout's byte form; nil for types without writable context fields
	// (raw, xdp).
	Context []byte
	// Maps holds the contents of every map with keys after the run, by
	// name, sorted by key. Maps without keys (queues, ring buffers) and maps
	// of maps or programs are left out.
	Maps map[string][]KV
}

// RejectedError is the verifier's refusal of a program.
type RejectedError struct {
	// Insn is the instruction index (slot) the verifier stopped at, or -1.
	Insn int
	// Reason is the verifier's last message, e.g. "R1 invalid mem access
	// 'scalar'"; Log its whole log.
	Reason string
	Log    string
	Err    error
}

func (e *RejectedError) Error() string {
	if e.Insn >= 0 {
		return fmt.Sprintf("kernel verifier: insn %d: %s", e.Insn, e.Reason)
	}
	return fmt.Sprintf("kernel verifier: %s", e.Reason)
}

func (e *RejectedError) Unwrap() error { return e.Err }

// Layout offsets of the context fields this package reads or clears.
const (
	skbLen            = 0
	skbProtocol       = 16
	skbIfindex        = 40
	skbSize           = 192
	xdpData           = 0
	xdpDataEnd        = 4
	xdpIngressIfindex = 12
	xdpRxQueueIndex   = 16
	xdpSize           = 24
	// loopbackIfindex is the index of "lo", the device of every test run.
	loopbackIfindex = 1
	// ethPIP is ETH_P_IP, the EtherType used when the context names none.
	ethPIP = 0x0800
	// ethPIPv6 is ETH_P_IPV6.
	ethPIPv6 = 0x86dd
	// ethPLocal is ETH_P_802_EX1, "local experimental": the EtherType of
	// the frames raw programs run in, for which the kernel checks nothing.
	ethPLocal = 0x88b5
	// ethHeaderLen is ETH_HLEN.
	ethHeaderLen = 14
)

// DefaultContext returns the context a kernel test run presents when given
// none, in ebpfvm's layout for typ: for socket_filter, protocol ETH_P_IP
// (in network byte order, as __sk_buff.protocol reads) and ifindex 1; for
// xdp, ingress_ifindex 1. Giving it to ebpfvm's side of a comparison makes
// both sides see the same context. It returns nil for raw.
func DefaultContext(typ string) []byte {
	switch typ {
	case TypeSocketFilter:
		c := make([]byte, skbSize)
		binary.LittleEndian.PutUint32(c[skbProtocol:], uint32(htons(ethPIP)))
		binary.LittleEndian.PutUint32(c[skbIfindex:], loopbackIfindex)
		return c
	case TypeXDP:
		c := make([]byte, xdpSize)
		binary.LittleEndian.PutUint32(c[xdpIngressIfindex:], loopbackIfindex)
		return c
	}
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (s *Spec) check() error {
	if s == nil || s.Program == nil {
		return errors.New("kernel: no program")
	}
	p := s.Program
	switch p.Type {
	case TypeRaw, TypeSocketFilter, TypeXDP:
	default:
		return fmt.Errorf("kernel: program type %q is not supported (raw, socket_filter, xdp)", p.Type)
	}
	if len(p.Instructions) == 0 {
		return errors.New("kernel: the program is empty")
	}
	for i, ref := range p.References {
		if i < 0 || i >= len(p.Instructions) || !p.Instructions[i].IsLDDW() {
			return fmt.Errorf("kernel: reference to map %q at insn %d, which is not a lddw", ref.Map, i)
		}
		if _, ok := s.Maps[ref.Map]; !ok {
			return fmt.Errorf("kernel: insn %d refers to map %q, which the spec does not have", i, ref.Map)
		}
	}
	return nil
}
