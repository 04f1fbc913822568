//go:build linux

package kernel_test

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm/internal/kerneltest"
	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/kernel"
	"github.com/ebpfvm/ebpfvm/maps"
)

func prog(typ string, insns ...isa.Instruction) *kernel.Spec {
	return &kernel.Spec{Program: &kernel.Program{Name: "test", Type: typ, Instructions: insns}}
}

func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

var packet = []byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

func TestRun(t *testing.T) {
	kerneltest.Require(t)
	tests := []struct {
		name  string
		spec  *kernel.Spec
		in    *kernel.Input
		r0    uint64
		bits  int
		data  []byte
		check func(t *testing.T, res *kernel.Result)
	}{
		{
			name: "64-bit r0 is recovered",
			spec: prog(kernel.TypeXDP, isa.LoadImm64(isa.R0, -0x123456789), isa.Return()),
			in:   &kernel.Input{Data: packet},
			r0:   uint64(math.MaxUint64 - 0x123456788), bits: 64, data: packet,
		},
		{
			name: "64-bit r0 without the variant",
			spec: prog(kernel.TypeSocketFilter, isa.LoadImm64(isa.R0, 0x1_0000_0007), isa.Return()),
			in:   &kernel.Input{Data: packet},
			r0:   7, bits: 32, data: packet,
		},
		{
			name: "socket filter sees the packet from offset 0",
			spec: prog(kernel.TypeSocketFilter, isa.ALUMov.Reg(isa.R6, isa.R1), isa.LoadAbs(0, isa.SizeW), isa.Return()),
			in:   &kernel.Input{Data: packet},
			r0:   0xdeadbeef, bits: 64, data: packet,
		},
		{
			name: "ld_abs past the end exits with 0",
			spec: prog(kernel.TypeSocketFilter, isa.ALUMov.Reg(isa.R6, isa.R1), isa.LoadImm64(isa.R0, -1), isa.LoadAbs(100, isa.SizeB), isa.Return()),
			in:   &kernel.Input{Data: packet},
			r0:   0, bits: 64, data: packet,
		},
		{
			name: "__sk_buff defaults",
			spec: prog(kernel.TypeSocketFilter,
				isa.Load(isa.R0, isa.R1, 0, isa.SizeW),                                                            // len
				isa.Load(isa.R2, isa.R1, 16, isa.SizeW), isa.ALULsh.Imm(isa.R2, 8), isa.ALUOr.Reg(isa.R0, isa.R2), // protocol
				isa.Load(isa.R2, isa.R1, 40, isa.SizeW), isa.ALULsh.Imm(isa.R2, 32), isa.ALUOr.Reg(isa.R0, isa.R2), // ifindex
				isa.Load(isa.R2, isa.R1, 4, isa.SizeW), isa.ALULsh.Imm(isa.R2, 40), isa.ALUOr.Reg(isa.R0, isa.R2), // pkt_type
				isa.Return()),
			in: &kernel.Input{Data: packet, Context: kernel.DefaultContext(kernel.TypeSocketFilter)},
			r0: 20 | 0x0008<<8 | 1<<32, bits: 64, data: packet,
		},
		{
			name: "cb written through ctx_out",
			spec: prog(kernel.TypeSocketFilter, isa.StoreImm(isa.R1, 48, 77, isa.SizeW), isa.ALUMov.Imm(isa.R0, 1), isa.Return()),
			in:   &kernel.Input{Data: packet},
			r0:   1, bits: 64, data: packet,
			check: func(t *testing.T, res *kernel.Result) {
				require.Equal(t, uint32(77), binary.LittleEndian.Uint32(res.Context[48:]))
			},
		},
		{
			name: "xdp writes the packet and reads ingress_ifindex",
			spec: prog(kernel.TypeXDP,
				isa.Load(isa.R2, isa.R1, 0, isa.SizeW),
				isa.Load(isa.R3, isa.R1, 4, isa.SizeW),
				isa.Load(isa.R0, isa.R1, 12, isa.SizeW),
				isa.ALUMov.Reg(isa.R4, isa.R2),
				isa.ALUAdd.Imm(isa.R4, 2),
				isa.JumpGT.Reg(isa.R4, isa.R3, 1),
				isa.StoreImm(isa.R2, 1, 0x55, isa.SizeB),
				isa.Return()),
			in: &kernel.Input{Data: packet, Context: kernel.DefaultContext(kernel.TypeXDP)},
			r0: 1, bits: 64, data: append([]byte{0xde, 0x55}, packet[2:]...),
		},
		{
			name: "raw: r1 is the memory, r2 its length",
			spec: prog(kernel.TypeRaw,
				isa.ALUMov.Reg(isa.R0, isa.R2),
				isa.ALUMov.Reg(isa.R3, isa.R1),
				isa.ALUAdd.Imm(isa.R3, 1),
				isa.Return()),
			in: &kernel.Input{Data: []byte{1, 2, 3}},
			r0: 3, bits: 64, data: []byte{1, 2, 3},
		},
		{
			name: "raw: empty memory",
			spec: prog(kernel.TypeRaw, isa.ALUMov.Reg(isa.R0, isa.R2), isa.ALUAdd.Imm(isa.R0, 7), isa.Return()),
			in:   &kernel.Input{},
			r0:   7, bits: 64, data: []byte{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts *kernel.Options
			if tt.bits == 32 {
				opts = &kernel.Options{R0Only32: true}
			}
			res, err := kernel.Test(tt.spec, tt.in, opts)
			require.NoError(t, err)
			require.Equal(t, tt.r0, res.R0)
			require.Equal(t, tt.bits, res.R0Bits)
			require.Equal(t, tt.data, res.Data)
			if tt.check != nil {
				tt.check(t, res)
			}
		})
	}
}

func TestMaps(t *testing.T) {
	kerneltest.Require(t)
	spec := &kernel.Spec{
		Program: &kernel.Program{Type: kernel.TypeXDP, Instructions: []isa.Instruction{
			// arr[1] += 5 through a direct value pointer; h[7] = 9.
			isa.LoadImm64(isa.R1, 0),
			isa.Load(isa.R2, isa.R1, 0, isa.SizeW),
			isa.ALUAdd.Imm(isa.R2, 5),
			isa.Store(isa.R1, 0, isa.R2, isa.SizeW),
			isa.StoreImm(isa.R10, -4, 7, isa.SizeW),
			isa.StoreImm(isa.R10, -16, 9, isa.SizeDW),
			isa.LoadImm64(isa.R1, 0),
			isa.ALUMov.Reg(isa.R2, isa.R10),
			isa.ALUAdd.Imm(isa.R2, -4),
			isa.ALUMov.Reg(isa.R3, isa.R10),
			isa.ALUAdd.Imm(isa.R3, -16),
			isa.ALUMov.Imm(isa.R4, 0),
			isa.HelperCall(2),
			isa.Return(),
		}, References: map[int]kernel.Reference{
			0: {Map: "arr", Value: true, Offset: 4},
			6: {Map: "h"},
		}},
		Maps: map[string]*kernel.Map{
			"arr": {Spec: maps.Spec{Type: maps.Array, KeySize: 4, ValueSize: 12, MaxEntries: 1},
				Contents: []kernel.KV{{Key: u32(0), Value: []byte{0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}}}},
			"h": {Spec: maps.Spec{Type: maps.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4},
				Contents: []kernel.KV{{Key: u32(1), Value: u64(11)}}},
		},
	}
	res, err := kernel.Test(spec, &kernel.Input{Data: packet}, nil)
	require.NoError(t, err)
	require.Equal(t, uint64(0), res.R0)
	require.Equal(t, []kernel.KV{{Key: u32(0), Value: []byte{0, 0, 0, 0, 5, 0, 0, 0, 1, 2, 3, 4}}}, res.Maps["arr"])
	require.Equal(t, []kernel.KV{{Key: u32(1), Value: u64(11)}, {Key: u32(7), Value: u64(9)}}, res.Maps["h"])
}

func TestRejected(t *testing.T) {
	kerneltest.Require(t)
	tests := []struct {
		name   string
		typ    string
		insns  []isa.Instruction
		insn   int
		reason string
	}{
		{"uninitialised r0", kernel.TypeXDP, []isa.Instruction{isa.ALUMov.Imm(isa.R1, 0), isa.Return()}, 1, "R0 !read_ok"},
		{"shift by the width", kernel.TypeXDP, []isa.Instruction{isa.ALUMov.Imm(isa.R0, 1), isa.ALULsh.Imm(isa.R0, 64), isa.Return()}, 1, "invalid shift 64"},
		{"raw memory without bounds check", kernel.TypeRaw, []isa.Instruction{isa.Load(isa.R0, isa.R1, 0, isa.SizeB), isa.Return()}, 0, "outside of the packet"},
		{"unreachable", kernel.TypeXDP, []isa.Instruction{isa.ALUMov.Imm(isa.R0, 1), isa.Return(), isa.Return()}, 2, "unreachable insn 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := kernel.Test(prog(tt.typ, tt.insns...), &kernel.Input{Data: packet}, nil)
			var re *kernel.RejectedError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tt.insn, re.Insn, "%s", re.Log)
			require.Contains(t, re.Reason, tt.reason)
		})
	}
}

func TestNoLeaks(t *testing.T) {
	kerneltest.Require(t)
	spec := &kernel.Spec{
		Program: &kernel.Program{Type: kernel.TypeXDP, Instructions: []isa.Instruction{
			isa.LoadImm64(isa.R1, 0), isa.Load(isa.R0, isa.R1, 0, isa.SizeW), isa.Return(),
		}, References: map[int]kernel.Reference{0: {Map: "arr", Value: true}}},
		Maps: map[string]*kernel.Map{"arr": {Spec: maps.Spec{Type: maps.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1}}},
	}
	run := func() (progs, mapIDs []uint32) {
		l, err := kernel.Load(spec, nil)
		require.NoError(t, err)
		_, err = l.Run(&kernel.Input{Data: packet})
		require.NoError(t, err)
		progs, mapIDs = l.ObjectIDs()
		require.NoError(t, l.Close())
		return progs, mapIDs
	}
	run() // warm up cilium/ebpf's feature probes
	before := countFDs(t)
	var progs, mapIDs []uint32
	for range 50 {
		p, m := run()
		progs, mapIDs = append(progs, p...), append(mapIDs, m...)
		_, err := kernel.Test(prog(kernel.TypeXDP, isa.Return()), &kernel.Input{Data: packet}, nil)
		require.Error(t, err)
	}
	require.Equal(t, before, countFDs(t))
	require.Len(t, progs, 100)
	require.Len(t, mapIDs, 100)
	// The kernel frees objects once their last fd is closed, maps after an
	// RCU grace period.
	require.Eventually(t, func() bool {
		for _, id := range progs {
			if p, err := ebpf.NewProgramFromID(ebpf.ProgramID(id)); err == nil {
				p.Close()
				return false
			} else if !errors.Is(err, os.ErrNotExist) {
				return false
			}
		}
		for _, id := range mapIDs {
			if m, err := ebpf.NewMapFromID(ebpf.MapID(id)); err == nil {
				m.Close()
				return false
			} else if !errors.Is(err, os.ErrNotExist) {
				return false
			}
		}
		return true
	}, 5*time.Second, 20*time.Millisecond)
}

func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents)
}

func TestStrict(t *testing.T) {
	kerneltest.Require(t)
	leak := &kernel.Spec{
		Program: &kernel.Program{Type: kernel.TypeXDP, Instructions: []isa.Instruction{
			isa.LoadImm64(isa.R0, 0), isa.Return(),
		}, References: map[int]kernel.Reference{0: {Map: "arr", Value: true}}},
		Maps: map[string]*kernel.Map{"arr": {Spec: maps.Spec{Type: maps.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1}}},
	}
	_, err := kernel.Test(leak, &kernel.Input{Data: packet}, nil)
	require.NoError(t, err, "a privileged loader may leak pointers")
	_, err = kernel.Test(leak, &kernel.Input{Data: packet}, &kernel.Options{Strict: true})
	var re *kernel.RejectedError
	require.ErrorAs(t, err, &re)
	require.Contains(t, re.Reason, "leaks addr")

	// Capabilities are restored afterwards: the leak loads again.
	for range 20 {
		_, err = kernel.Test(leak, &kernel.Input{Data: packet}, nil)
		require.NoError(t, err)
	}
}
