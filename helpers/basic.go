package helpers

import (
	"encoding/binary"
	"math/bits"

	"github.com/ebpfvm/ebpfvm/vm"
	"golang.org/x/sys/unix"
)

// errno returns the helper result for a negative errno, as the kernel's
// helpers return them.
func errno(e unix.Errno) uint64 { return uint64(-int64(e)) }

// noArgs is the prototype of a helper without arguments returning a number.
func noArgs(id int32, name string) Proto {
	return Proto{ID: id, Name: name, Ret: RetInteger}
}

// Kernel helper ids this package implements.
const (
	IDMapLookupElem        = 1
	IDMapUpdateElem        = 2
	IDMapDeleteElem        = 3
	IDProbeRead            = 4
	IDKtimeGetNS           = 5
	IDTracePrintk          = 6
	IDGetPrandomU32        = 7
	IDGetSMPProcessorID    = 8
	IDTailCall             = 12
	IDGetCurrentPidTgid    = 14
	IDGetCurrentUidGid     = 15
	IDGetCurrentComm       = 16
	IDPerfEventOutput      = 25
	IDCsumDiff             = 28
	IDGetNumaNodeID        = 42
	IDXDPAdjustHead        = 44
	IDProbeReadStr         = 45
	IDXDPAdjustMeta        = 54
	IDXDPAdjustTail        = 65
	IDMapPushElem          = 87
	IDMapPopElem           = 88
	IDMapPeekElem          = 89
	IDStrtol               = 105
	IDStrtoul              = 106
	IDProbeReadUser        = 112
	IDProbeReadKernel      = 113
	IDProbeReadUserStr     = 114
	IDProbeReadKernelStr   = 115
	IDJiffies64            = 118
	IDKtimeGetBootNS       = 125
	IDRingbufOutput        = 130
	IDRingbufReserve       = 131
	IDRingbufSubmit        = 132
	IDRingbufDiscard       = 133
	IDRingbufQuery         = 134
	IDKtimeGetCoarseNS     = 160
	IDForEachMapElem       = 164
	IDSnprintf             = 165
	IDLoop                 = 181
	IDStrncmp              = 182
	IDMapLookupPercpuElem  = 195
	IDKtimeGetTaiNS        = 208
	maxLoopIterations      = 1 << 23 // the kernel's BPF_MAX_LOOPS
	maxSnprintfArgs        = 12      // MAX_BPF_VAR_ARGS
	maxTracePrintkArgs     = 3
	nsPerJiffy             = 1_000_000_000 / HZ
	probeReadStrMaxDefault = 0
)

func timeHelpers() []Helper {
	return []Helper{
		{Proto: noArgs(IDKtimeGetNS, "ktime_get_ns"), Func: func(m *vm.Machine, _, _, _, _, _ uint64) (uint64, error) {
			return EnvOf(m).now(), nil
		}},
		// No suspend happens in a VM run: boot time and monotonic time agree.
		{Proto: noArgs(IDKtimeGetBootNS, "ktime_get_boot_ns"), Func: func(m *vm.Machine, _, _, _, _, _ uint64) (uint64, error) {
			return EnvOf(m).now(), nil
		}},
		{Proto: noArgs(IDKtimeGetCoarseNS, "ktime_get_coarse_ns"), Func: func(m *vm.Machine, _, _, _, _, _ uint64) (uint64, error) {
			t := EnvOf(m).now()
			return t - t%nsPerJiffy, nil
		}},
		{Proto: noArgs(IDJiffies64, "jiffies64"), Func: func(m *vm.Machine, _, _, _, _, _ uint64) (uint64, error) {
			return EnvOf(m).now() / nsPerJiffy, nil
		}},
		{Proto: noArgs(IDGetPrandomU32, "get_prandom_u32"), Func: func(m *vm.Machine, _, _, _, _, _ uint64) (uint64, error) {
			return uint64(EnvOf(m).random()), nil
		}},
		{Proto: noArgs(IDGetSMPProcessorID, "get_smp_processor_id"), Func: func(m *vm.Machine, _, _, _, _, _ uint64) (uint64, error) {
			return uint64(m.CPU), nil
		}},
		{Proto: noArgs(IDGetNumaNodeID, "get_numa_node_id"), Func: func(m *vm.Machine, _, _, _, _, _ uint64) (uint64, error) {
			return uint64(EnvOf(m).NumaNode), nil
		}},
		{Proto: noArgs(IDGetCurrentPidTgid, "get_current_pid_tgid"), Func: func(m *vm.Machine, _, _, _, _, _ uint64) (uint64, error) {
			return EnvOf(m).PidTgid, nil
		}},
		{Proto: noArgs(IDGetCurrentUidGid, "get_current_uid_gid"), Func: func(m *vm.Machine, _, _, _, _, _ uint64) (uint64, error) {
			return EnvOf(m).UidGid, nil
		}},
		{Proto: Proto{ID: IDGetCurrentComm, Name: "get_current_comm", Args: [5]ArgKind{ArgPtrToUninitMem, ArgConstSize}, Ret: RetInteger},
			Func: getCurrentComm},
	}
}

// getCurrentComm copies the task name, NUL-terminated and zero-padded to
// size (strscpy_pad), truncating it if needed.
func getCurrentComm(m *vm.Machine, buf, size, _, _, _ uint64) (uint64, error) {
	dst, err := m.Slice(buf, size, true)
	if err != nil {
		return 0, err
	}
	if len(dst) == 0 {
		return errno(unix.EINVAL), nil
	}
	clear(dst)
	copy(dst[:len(dst)-1], EnvOf(m).Comm)
	return 0, nil
}

func probeHelpers() []Helper {
	read := Proto{Args: [5]ArgKind{ArgPtrToUninitMem, ArgConstSizeOrZero, ArgAnything}, Ret: RetInteger, GPLOnly: true}
	var hs []Helper
	for _, p := range []struct {
		id   int32
		name string
		str  bool
	}{
		{IDProbeRead, "probe_read", false},
		{IDProbeReadUser, "probe_read_user", false},
		{IDProbeReadKernel, "probe_read_kernel", false},
		{IDProbeReadStr, "probe_read_str", true},
		{IDProbeReadUserStr, "probe_read_user_str", true},
		{IDProbeReadKernelStr, "probe_read_kernel_str", true},
	} {
		proto := read
		proto.ID, proto.Name = p.id, p.name
		fn := probeRead
		if p.str {
			fn = probeReadStr
		}
		hs = append(hs, Helper{Proto: proto, Func: fn})
	}
	return hs
}

// probeRead copies size bytes from any VM address; a bad source zero-fills
// the destination and returns -EFAULT, as the kernel's nofault copies do.
// There is no kernel or user memory here, only the VM's: the user and kernel
// variants read the same address space.
func probeRead(m *vm.Machine, dst, size, src, _, _ uint64) (uint64, error) {
	d, err := m.Slice(dst, size, true)
	if err != nil {
		return 0, err
	}
	s, err := m.Slice(src, size, false)
	if err != nil {
		clear(d)
		return errno(unix.EFAULT), nil
	}
	copy(d, s)
	return 0, nil
}

// probeReadStr copies a NUL-terminated string of at most size-1 bytes plus
// the NUL and returns the length including the NUL.
func probeReadStr(m *vm.Machine, dst, size, src, _, _ uint64) (uint64, error) {
	d, err := m.Slice(dst, size, true)
	if err != nil {
		return 0, err
	}
	if len(d) == 0 {
		return 0, nil
	}
	s, terminated, err := m.ReadCString(src, size)
	if err != nil {
		clear(d)
		return errno(unix.EFAULT), nil
	}
	if !terminated && len(s) == len(d) {
		s = s[:len(d)-1]
	}
	n := copy(d, s)
	d[n] = 0
	return uint64(n + 1), nil
}

// csumDiff is bpf_csum_diff as Linux has it since 6.13: the one's
// complement sum of the "to" bytes minus that of the "from" bytes, plus
// seed, folded to 16 bits. Buffers may have any length (earlier kernels
// wanted multiples of 4 and returned the sum unfolded). The partial sums
// are computed as x86-64's csum_partial does, so that results match the
// kernel bit for bit.
func csumDiff(m *vm.Machine, from, fromSize, to, toSize, seed uint64) (uint64, error) {
	f, err := m.Slice(from, fromSize, false)
	if err != nil {
		return 0, err
	}
	t, err := m.Slice(to, toSize, false)
	if err != nil {
		return 0, err
	}
	ret := uint32(seed)
	switch {
	case fromSize != 0 && toSize != 0:
		ret = csumAdd(csumPartial(t, ret), ^csumPartial(f, 0))
	case toSize != 0:
		ret = csumPartial(t, ret)
	case fromSize != 0:
		ret = ^csumPartial(f, ^ret)
	}
	return uint64(csumFrom32To16(ret)), nil
}

// csumPartial is x86-64's csum_partial: a one's complement sum of
// little-endian 64-bit words (the tail zero-padded) started at seed, folded
// to 32 bits.
func csumPartial(b []byte, seed uint32) uint32 {
	sum := uint64(seed)
	add := func(v uint64) {
		var carry uint64
		sum, carry = bits.Add64(sum, v, 0)
		sum += carry
	}
	for ; len(b) >= 8; b = b[8:] {
		add(binary.LittleEndian.Uint64(b))
	}
	if len(b) > 0 {
		var tail [8]byte
		copy(tail[:], b)
		add(binary.LittleEndian.Uint64(tail[:]))
	}
	return uint32((sum + bits.RotateLeft64(sum, 32)) >> 32)
}

// csumAdd adds with end-around carry.
func csumAdd(a, b uint32) uint32 {
	s, carry := bits.Add32(a, b, 0)
	return s + carry
}

// csumFrom32To16 folds a 32-bit sum to 16 bits (the kernel's
// csum_from32to16).
func csumFrom32To16(sum uint32) uint16 {
	sum += sum>>16 | sum<<16
	return uint16(sum >> 16)
}

// loop is bpf_loop: it calls the callback (index, ctx) up to n times and
// stops early when the callback returns non-zero.
func loop(m *vm.Machine, n, fn, ctx, flags, _ uint64) (uint64, error) {
	if flags != 0 {
		return errno(unix.EINVAL), nil
	}
	if n > maxLoopIterations {
		return errno(unix.E2BIG), nil
	}
	for i := range n {
		ret, err := m.Call(fn, i, ctx)
		if err != nil {
			return 0, err
		}
		if ret != 0 {
			return i + 1, nil
		}
	}
	return n, nil
}

func miscHelpers() []Helper {
	return []Helper{
		{Proto: Proto{ID: IDCsumDiff, Name: "csum_diff", Args: [5]ArgKind{ArgPtrToMemOrNull, ArgConstSizeOrZero, ArgPtrToMemOrNull, ArgConstSizeOrZero, ArgScalar}, Ret: RetInteger},
			Func: csumDiff},
		{Proto: Proto{ID: IDLoop, Name: "loop", Args: [5]ArgKind{ArgScalar, ArgPtrToFunc, ArgPtrToStackOrNull, ArgScalar}, Ret: RetInteger, CallbackArgs: 2},
			Func: loop},
	}
}
