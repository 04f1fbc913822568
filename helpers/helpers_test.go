package helpers

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/ebpfvm/ebpfvm/interp"
	"github.com/ebpfvm/ebpfvm/isa/asm"
	"github.com/ebpfvm/ebpfvm/progtype"
	"github.com/ebpfvm/ebpfvm/vm"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// runProgram assembles src and runs it with the standard helpers as a
// program of type typ over data, returning r0 and the data afterwards.
func runProgram(t *testing.T, typ progtype.Type, src string, data []byte, env *Env) (uint64, []byte, error) {
	t.Helper()
	insns, err := asm.Assemble(t.Name()+".s", src)
	require.NoError(t, err)
	p, err := vm.NewProgram(insns, vm.ProgramOptions{Helpers: Standard().Table(nil)})
	require.NoError(t, err)
	m := vm.NewMachine(nil)
	if env == nil {
		env = &Env{}
	}
	m.Env = env
	run, err := typ.Setup(m, &progtype.Input{Data: data})
	require.NoError(t, err)
	r0, err := interp.New(p).Run(m, run.Args[:]...)
	return r0, bytes.Clone(run.Data()), err
}

func neg(e unix.Errno) uint64 { return uint64(-int64(e)) }

func TestHostValues(t *testing.T) {
	env := &Env{
		Clock:    func() uint64 { return 10*nsPerJiffy + 123 },
		Rand:     func() uint32 { return 0xdeadbeef },
		PidTgid:  42<<32 | 43,
		UidGid:   1000<<32 | 1001,
		Comm:     "ebpfvm-test-long-name",
		NumaNode: 3,
	}
	tests := []struct {
		id   int
		want uint64
	}{
		{IDKtimeGetNS, 10*nsPerJiffy + 123},
		{IDKtimeGetBootNS, 10*nsPerJiffy + 123},
		{IDKtimeGetCoarseNS, 10 * nsPerJiffy},
		{IDJiffies64, 10},
		{IDGetPrandomU32, 0xdeadbeef},
		{IDGetSMPProcessorID, 0},
		{IDGetNumaNodeID, 3},
		{IDGetCurrentPidTgid, 42<<32 | 43},
		{IDGetCurrentUidGid, 1000<<32 | 1001},
	}
	for _, tt := range tests {
		t.Run(KernelName(int32(tt.id)), func(t *testing.T) {
			r0, _, err := runProgram(t, progtype.Raw, fmt.Sprintf("call %d\nexit", tt.id), nil, env)
			require.NoError(t, err)
			require.Equal(t, tt.want, r0)
		})
	}
	t.Run("bpf_get_current_comm truncates and NUL-terminates", func(t *testing.T) {
		r0, out, err := runProgram(t, progtype.Raw, "r2 = 16\ncall 16\nexit", bytes.Repeat([]byte{0xff}, 20), env)
		require.NoError(t, err)
		require.Equal(t, uint64(0), r0)
		require.Equal(t, append([]byte("ebpfvm-test-lon\x00"), 0xff, 0xff, 0xff, 0xff), out)
	})
}

func TestTracePrintkAndSnprintf(t *testing.T) {
	tests := []struct {
		format string
		args   [3]uint64
		want   string // "" with wantErr
		err    bool
	}{
		{"x=%d\n", [3]uint64{uint64(0xffffffff)}, "x=-1\n", false},
		{"%u %x %X", [3]uint64{uint64(0xffffffff), 255, 255}, "4294967295 ff FF", false},
		{"%lld %llu", [3]uint64{^uint64(0), ^uint64(0)}, "-1 18446744073709551615", false},
		{"%ld|%5d|%-4d|%04x", [3]uint64{1 << 40, 7, 7}, "", true}, // 4 conversions, 3 args
		{"%5d|%-4d|%04x", [3]uint64{7, 7, 0xab}, "    7|7   |00ab", false},
		{"%c%c", [3]uint64{'o', 'k'}, "ok", false},
		{"100%%", [3]uint64{}, "100%", false},
		{"%q", [3]uint64{1}, "", true},
		{"%.3d", [3]uint64{1}, "", true},
		{"%hd", [3]uint64{1}, "", true},
		{"tab\tok", [3]uint64{}, "tab\tok", false},
		{"bad\x01", [3]uint64{}, "", true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.format), func(t *testing.T) {
			var out bytes.Buffer
			mem := append([]byte(tt.format), 0)
			src := fmt.Sprintf("r2 = %d\nr3 = %d ll\nr4 = %d ll\nr5 = %d ll\ncall 6\nexit", len(mem), int64(tt.args[0]), int64(tt.args[1]), int64(tt.args[2]))
			r0, _, err := runProgram(t, progtype.Raw, src, mem, &Env{Trace: &out})
			require.NoError(t, err)
			if tt.err {
				require.Equal(t, neg(unix.EINVAL), r0)
				require.Empty(t, out.String())
				return
			}
			require.Equal(t, tt.want, out.String())
			require.Equal(t, uint64(len(tt.want)), r0)
		})
	}

	t.Run("trace_printk needs a NUL within fmt_size", func(t *testing.T) {
		r0, _, err := runProgram(t, progtype.Raw, "r2 = 3\ncall 6\nexit", []byte("abc"), nil)
		require.NoError(t, err)
		require.Equal(t, neg(unix.EINVAL), r0)
	})

	t.Run("snprintf with %s and %pI4, truncated", func(t *testing.T) {
		// memory: fmt at 0, string at 32, ip at 48, args at 56 (2 words), output at 80 (8 bytes)
		mem := make([]byte, 96)
		copy(mem, "%s is %pI4\x00")
		copy(mem[32:], "host\x00")
		copy(mem[48:], []byte{192, 168, 1, 2})
		src := `
			r6 = r1
			r2 = r1
			r2 += 32
			*(u64 *)(r6 + 56) = r2
			r2 = r1
			r2 += 48
			*(u64 *)(r6 + 64) = r2
			r1 = r6
			r1 += 80
			r2 = 8
			r3 = r6
			r4 = r6
			r4 += 56
			r5 = 16
			call 165
			exit`
		r0, out, err := runProgram(t, progtype.Raw, src, mem, nil)
		require.NoError(t, err)
		require.Equal(t, uint64(len("host is 192.168.1.2")+1), r0)
		require.Equal(t, "host is\x00", string(out[80:88]))
	})
}

func TestStrtol(t *testing.T) {
	tests := []struct {
		in     string
		flags  uint64
		signed bool
		want   uint64 // r0
		res    int64
	}{
		{"123", 0, true, 3, 123},
		{"  -42abc", 0, true, 5, -42},
		{"0x1f", 0, true, 4, 31},
		{"0x", 0, true, 1, 0}, // base 8 "0", the x is not consumed
		{"017", 0, true, 3, 15},
		{"ff", 16, true, 2, 255},
		{"0xff", 16, true, 4, 255},
		{"z", 10, true, neg(unix.EINVAL), 0},
		{"", 10, true, neg(unix.EINVAL), 0},
		{"9223372036854775807", 10, true, 19, 1<<63 - 1},
		{"9223372036854775808", 10, true, neg(unix.ERANGE), 0},
		{"-9223372036854775808", 10, true, 20, -1 << 63},
		{"18446744073709551616", 10, false, neg(unix.ERANGE), 0},
		{"18446744073709551615", 10, false, 20, -1},
		{"-1", 10, false, neg(unix.EINVAL), 0},
		{"12", 7, true, neg(unix.EINVAL), 0},
		{"12", 0x20, true, neg(unix.EINVAL), 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q/%d/%v", tt.in, tt.flags, tt.signed), func(t *testing.T) {
			mem := make([]byte, 8+len(tt.in))
			copy(mem[8:], tt.in)
			id := IDStrtol
			if !tt.signed {
				id = IDStrtoul
			}
			src := fmt.Sprintf("r4 = r1\nr1 += 8\nr2 = %d\nr3 = %d\ncall %d\nexit", len(tt.in), tt.flags, id)
			if len(tt.in) == 0 {
				// A zero-length buffer: the kernel refuses it.
				src = fmt.Sprintf("r4 = r1\nr1 += 8\nr2 = 0\nr3 = %d\ncall %d\nexit", tt.flags, id)
			}
			r0, out, err := runProgram(t, progtype.Raw, src, mem, nil)
			require.NoError(t, err)
			require.Equal(t, tt.want, r0)
			if int64(r0) >= 0 {
				require.Equal(t, tt.res, int64(binary.LittleEndian.Uint64(out)))
			}
		})
	}
}

func TestStrncmpAndProbeRead(t *testing.T) {
	mem := []byte("abcd\x00abce\x00abc\x00\x00")
	cmp := func(off1, n, off2 int) uint64 {
		r0, _, err := runProgram(t, progtype.Raw, fmt.Sprintf("r3 = r1\nr1 += %d\nr3 += %d\nr2 = %d\ncall 182\nexit", off1, off2, n), mem, nil)
		require.NoError(t, err)
		return r0
	}
	require.Equal(t, uint64(0), cmp(0, 3, 5))
	require.Equal(t, ^uint64(0), cmp(0, 4, 5))
	require.Equal(t, uint64(1), cmp(5, 4, 0))
	require.Equal(t, uint64(1), cmp(0, 5, 10)) // "abcd" vs "abc": 'd' > NUL

	// probe_read from a bad address zero-fills and returns -EFAULT.
	r0, out, err := runProgram(t, progtype.Raw, "r2 = 4\nr3 = 16\ncall 113\nexit", []byte{1, 2, 3, 4, 5}, nil)
	require.NoError(t, err)
	require.Equal(t, neg(unix.EFAULT), r0)
	require.Equal(t, []byte{0, 0, 0, 0, 5}, out)

	// probe_read_str stops at the NUL and counts it; a long string is cut.
	r0, out, err = runProgram(t, progtype.Raw, "r3 = r1\nr3 += 8\nr2 = 8\ncall 115\nexit", []byte("........hi\x00"), nil)
	require.NoError(t, err)
	require.Equal(t, uint64(3), r0)
	require.Equal(t, "hi\x00", string(out[:3]))
	r0, out, err = runProgram(t, progtype.Raw, "r3 = r1\nr3 += 4\nr2 = 4\ncall 115\nexit", []byte("....abcdefgh\x00"), nil)
	require.NoError(t, err)
	require.Equal(t, uint64(4), r0)
	require.Equal(t, "abc\x00", string(out[:4]))
}

func TestCsumDiff(t *testing.T) {
	// An IPv4 header checksum recomputed after changing the TTL, the classic
	// use; csum_test.go has the cases checked against the kernel.
	from := []byte{0x40, 0x06, 0x00, 0x00} // ttl 64, proto 6, checksum
	to := []byte{0x3f, 0x06, 0x00, 0x00}
	mem := append(append([]byte{}, from...), to...)
	r0, _, err := runProgram(t, progtype.Raw, "r6 = r1\nr2 = 4\nr3 = r6\nr3 += 4\nr4 = 4\nr5 = 0\ncall 28\nexit", mem, nil)
	require.NoError(t, err)
	require.Equal(t, uint64(0xfffe), r0)
}

func TestLoop(t *testing.T) {
	// The callback (slot 7) stops the loop when called with index 6.
	prog := `
		r1 = 10
		r3 = 0
		r4 = %d
		ld_pseudo r2, 4, 3
		call 181
		exit
		r0 = 0
		if r1 != 6 goto +1
		r0 = 1
		exit`
	r0, _, err := runProgram(t, progtype.Raw, fmt.Sprintf(prog, 0), nil, nil)
	require.NoError(t, err)
	require.Equal(t, uint64(7), r0)

	r0, _, err = runProgram(t, progtype.Raw, fmt.Sprintf(prog, 1), nil, nil)
	require.NoError(t, err)
	require.Equal(t, neg(unix.EINVAL), r0) // flags must be 0
}

// TestLoopBudget: a callback is a call, so the budget and cancellation
// stop a bpf_loop of millions of short callbacks (none of which has a
// backward jump) rather than letting it run on. Found by FuzzInterp.
func TestLoopBudget(t *testing.T) {
	insns, err := asm.Assemble("loop.s", `
		r1 = 8388608
		r3 = 0
		r4 = 0
		ld_pseudo r2, 4, 3
		call 181
		exit
		r0 = 0
		exit`)
	require.NoError(t, err)
	p, err := vm.NewProgram(insns, vm.ProgramOptions{Helpers: Standard().Table(nil)})
	require.NoError(t, err)
	for _, tt := range []struct {
		name string
		kind vm.FaultKind
		prep func(m *vm.Machine)
	}{
		{"budget", vm.FaultBudget, func(m *vm.Machine) { m.Budget = 1000 }},
		{"cancelled", vm.FaultCancelled, func(m *vm.Machine) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			m.Ctx = ctx
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := vm.NewMachine(nil)
			m.Env = &Env{}
			tt.prep(m)
			run, err := progtype.Raw.Setup(m, &progtype.Input{})
			require.NoError(t, err)
			_, err = interp.New(p).Run(m, run.Args[:]...)
			var f *vm.Fault
			require.ErrorAs(t, err, &f)
			require.Equal(t, tt.kind, f.Kind, "%v", err)
			require.Less(t, m.Executed, uint64(1010))
		})
	}
}

func TestXDPHelpers(t *testing.T) {
	pkt := make([]byte, 60)
	for i := range pkt {
		pkt[i] = byte(i)
	}
	tests := []struct {
		name    string
		src     string
		want    uint64
		wantPkt []byte
	}{
		{"adjust_head grows the front", "r2 = -4\ncall 44\nexit", 0, append(make([]byte, 4), pkt...)},
		{"adjust_head shrinks the front", "r2 = 14\ncall 44\nexit", 0, pkt[14:]},
		{"adjust_head keeps an Ethernet header", "r2 = 47\ncall 44\nexit", neg(unix.EINVAL), pkt},
		{"adjust_head stays above the xdp_frame", "r2 = -217\ncall 44\nexit", neg(unix.EINVAL), pkt},
		{"adjust_head to the limit", "r2 = -216\ncall 44\nexit", 0, append(make([]byte, 216), pkt...)},
		{"adjust_tail shrinks", "r2 = -10\ncall 65\nexit", 0, pkt[:50]},
		{"adjust_tail grows with zeros", "r2 = 3\ncall 65\nexit", 0, append(append([]byte{}, pkt...), 0, 0, 0)},
		{"adjust_tail bounded by the frame", "r2 = 4000\ncall 65\nexit", neg(unix.EINVAL), pkt},
		{"adjust_meta", "r2 = -8\ncall 54\nexit", 0, pkt},
		{"adjust_meta needs multiples of 4", "r2 = -6\ncall 54\nexit", neg(unix.EACCES), pkt},
		{"adjust_meta more than 32 bytes (Linux 6.0+)", "r2 = -36\ncall 54\nexit", 0, pkt},
		{"adjust_meta within the headroom", "r2 = -220\ncall 54\nexit", neg(unix.EINVAL), pkt},
		{"get_buff_len", "call 188\nexit", 60, pkt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r0, out, err := runProgram(t, progtype.XDP, tt.src, pkt, nil)
			require.NoError(t, err)
			require.Equal(t, tt.want, r0)
			require.Equal(t, tt.wantPkt, out)
		})
	}

	t.Run("context pointers follow adjust_head", func(t *testing.T) {
		src := `
			r6 = r1
			r2 = 14
			call 44
			r2 = *(u32 *)(r6 + 0)
			r3 = *(u32 *)(r6 + 4)
			r0 = r3
			r0 -= r2
			exit`
		r0, _, err := runProgram(t, progtype.XDP, src, pkt, nil)
		require.NoError(t, err)
		require.Equal(t, uint64(46), r0)
	})
}

// TestXDPTailroom: the packet region ends at data_end and moves with
// bpf_xdp_adjust_tail; bytes the packet grows by read as zero even where
// an earlier run on the same machine wrote, and past data_end is out of
// bounds (for a program run without the verifier).
func TestXDPTailroom(t *testing.T) {
	pkt := make([]byte, 60)
	m := vm.NewMachine(nil)
	run := func(src string) (uint64, error) {
		t.Helper()
		insns, err := asm.Assemble(t.Name()+".s", src)
		require.NoError(t, err)
		p, err := vm.NewProgram(insns, vm.ProgramOptions{Helpers: Standard().Table(nil)})
		require.NoError(t, err)
		m.Reset()
		m.Env = &Env{}
		r, err := progtype.XDP.Setup(m, &progtype.Input{Data: pkt})
		require.NoError(t, err)
		return interp.New(p).Run(m, r.Args[:]...)
	}
	// Grow by 8, then read (or, with a store, first write -1 to) the new
	// last 8 bytes.
	grow := func(store string) string {
		return `
			r6 = r1
			r2 = 8
			call 65
			r3 = *(u32 *)(r6 + 4)
			r3 -= 8
			` + store + `
			r0 = *(u64 *)(r3 + 0)
			exit`
	}
	r0, err := run(grow("*(u64 *)(r3 + 0) = -1"))
	require.NoError(t, err)
	require.Equal(t, ^uint64(0), r0)
	r0, err = run(grow(""))
	require.NoError(t, err)
	require.Zero(t, r0, "grown bytes read as zero after a run that wrote there")

	past := `
		r3 = *(u32 *)(r1 + 4)
		r0 = *(u8 *)(r3 + 0)
		exit`
	_, err = run(past)
	var f *vm.Fault
	require.ErrorAs(t, err, &f)
	require.Equal(t, vm.FaultOutOfBounds, f.Kind, "%v", err)

	shrunk := `
		r6 = r1
		r2 = -8
		call 65
		r3 = *(u32 *)(r6 + 4)
		r0 = *(u8 *)(r3 + 7)
		exit`
	_, err = run(shrunk)
	require.ErrorAs(t, err, &f)
	require.Equal(t, vm.FaultOutOfBounds, f.Kind, "%v", err)
}

func TestSkbLoadBytes(t *testing.T) {
	pkt := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}
	src := `
		r2 = %d
		r3 = r10
		r3 += -8
		r4 = 4
		call 26
		if r0 != 0 goto +1
		r0 = *(u32 *)(r10 - 8)
		exit`
	r0, _, err := runProgram(t, progtype.SocketFilter, fmt.Sprintf(src, 2), pkt, nil)
	require.NoError(t, err)
	require.Equal(t, uint64(0x05040302), r0)
	r0, _, err = runProgram(t, progtype.SocketFilter, fmt.Sprintf(src, 17), pkt, nil)
	require.NoError(t, err)
	require.Equal(t, neg(unix.EFAULT), r0)
}

func TestRegistry(t *testing.T) {
	r := Standard()
	h, ok := r.Lookup(IDKtimeGetNS)
	require.True(t, ok)
	require.Equal(t, "ktime_get_ns", h.Name)
	h, ok = r.ByName("bpf_trace_printk")
	require.True(t, ok)
	require.Equal(t, int32(IDTracePrintk), h.ID)

	require.ErrorContains(t, r.Register(Helper{Proto: Proto{ID: IDKtimeGetNS, Name: "mine"}, Func: getCurrentComm}), "taken")
	require.Error(t, r.Register(Helper{Proto: Proto{ID: MaxID, Name: "big"}, Func: getCurrentComm}))

	id, err := r.RegisterFunc("double", Proto{Args: [5]ArgKind{ArgScalar}}, func(m *vm.Machine, r1, _, _, _, _ uint64) (uint64, error) {
		return 2 * r1, nil
	})
	require.NoError(t, err)
	require.Equal(t, int32(FirstUserID), id)
	tab := r.Table(nil)
	v, err := tab[id](nil, 21, 0, 0, 0, 0)
	require.NoError(t, err)
	require.Equal(t, uint64(42), v)
	require.Equal(t, "bpf_double", r.Name(id))
	require.Equal(t, "bpf_map_lookup_elem", r.Name(1))

	only := r.Table(func(id int32) bool { return id == IDKtimeGetNS })
	require.Len(t, only, IDKtimeGetNS+1)
	require.Nil(t, only[IDMapLookupElem])
}

func TestMorePacketHelpers(t *testing.T) {
	pkt := make([]byte, 40)
	for i := range pkt {
		pkt[i] = byte(i)
	}
	tests := []struct {
		name    string
		typ     progtype.Type
		src     string
		want    uint64
		wantPkt []byte
	}{
		{"skb_load_bytes_relative from the network header", progtype.SocketFilter,
			"r2 = 2\nr3 = r10\nr3 += -4\nr4 = 4\nr5 = 1\ncall 68\nif r0 != 0 goto +1\nr0 = *(u32 *)(r10 - 4)\nexit", 0x13121110, pkt},
		{"skb_load_bytes_relative bad header", progtype.SocketFilter,
			"r2 = 2\nr3 = r10\nr3 += -4\nr4 = 4\nr5 = 7\ncall 68\nexit", neg(unix.EINVAL), pkt},
		{"xdp_load_bytes", progtype.XDP,
			"r2 = 36\nr3 = r10\nr3 += -4\nr4 = 4\ncall 189\nif r0 != 0 goto +1\nr0 = *(u32 *)(r10 - 4)\nexit", 0x27262524, pkt},
		{"xdp_load_bytes past the end", progtype.XDP,
			"r2 = 37\nr3 = r10\nr3 += -4\nr4 = 4\ncall 189\nexit", neg(unix.EINVAL), pkt},
		{"xdp_store_bytes", progtype.XDP,
			"*(u32 *)(r10 - 4) = 0\nr2 = 0\nr3 = r10\nr3 += -4\nr4 = 4\ncall 190\nexit", 0, append(make([]byte, 4), pkt[4:]...)},
		{"redirect", progtype.XDP, "r1 = 3\nr2 = 0\ncall 23\nexit", 4, pkt},
		{"redirect with flags aborts", progtype.XDP, "r1 = 3\nr2 = 1\ncall 23\nexit", 0, pkt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r0, out, err := runProgram(t, tt.typ, tt.src, pkt, nil)
			require.NoError(t, err)
			require.Equal(t, tt.want, r0)
			require.Equal(t, tt.wantPkt, out)
		})
	}
}
