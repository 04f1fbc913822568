package interp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/progtype"
	"github.com/ebpfvm/ebpfvm/vm"
	"github.com/stretchr/testify/require"
)

// runRaw runs insns as a raw program over mem and returns r0, the memory
// afterwards and the error.
func runRaw(t testing.TB, insns []isa.Instruction, mem []byte, opts ...func(*vm.ProgramOptions, *vm.Machine)) (uint64, []byte, *vm.Machine, error) {
	t.Helper()
	po := vm.ProgramOptions{}
	m := vm.NewMachine(nil)
	for _, o := range opts {
		o(&po, m)
	}
	p, err := vm.NewProgram(insns, po)
	require.NoError(t, err)
	args, out, err := progtype.SetupRaw(m, mem)
	require.NoError(t, err)
	r0, err := New(p).Run(m, args[:]...)
	return r0, out, m, err
}

func withHelpers(h map[int]vm.HelperFunc) func(*vm.ProgramOptions, *vm.Machine) {
	return func(po *vm.ProgramOptions, _ *vm.Machine) {
		for id, f := range h {
			for len(po.Helpers) <= id {
				po.Helpers = append(po.Helpers, nil)
			}
			po.Helpers[id] = f
		}
	}
}

func withBudget(n uint64) func(*vm.ProgramOptions, *vm.Machine) {
	return func(_ *vm.ProgramOptions, m *vm.Machine) { m.Budget = n }
}

// filler is a helper that fills the r2 bytes at r1 with b, through
// vm.Machine.Slice.
func filler(b byte) vm.HelperFunc {
	return func(m *vm.Machine, r1, r2, _, _, _ uint64) (uint64, error) {
		mem, err := m.Slice(r1, r2, true)
		if err != nil {
			return 0, err
		}
		for i := range mem {
			mem[i] = b
		}
		return 0, nil
	}
}

func mov64(dst isa.Register, v int64) isa.Instruction { return isa.LoadImm64(dst, v) }

func TestALUSemantics(t *testing.T) {
	const intMin64 = math.MinInt64
	tests := []struct {
		name  string
		insns []isa.Instruction
		want  uint64
	}{
		{"div64 by zero reg gives 0", []isa.Instruction{isa.ALUMov.Imm(isa.R0, 7), isa.ALUMov.Imm(isa.R1, 0), isa.ALUDiv.Reg(isa.R0, isa.R1)}, 0},
		{"div64 by zero imm gives 0", []isa.Instruction{isa.ALUMov.Imm(isa.R0, 7), isa.ALUDiv.Imm(isa.R0, 0)}, 0},
		{"mod64 by zero keeps dividend", []isa.Instruction{mov64(isa.R0, -7), isa.ALUMov.Imm(isa.R1, 0), isa.ALUMod.Reg(isa.R0, isa.R1)}, math.MaxUint64 - 6},
		{"mod32 by zero keeps dividend zero-extended", []isa.Instruction{mov64(isa.R0, -7), isa.ALUMov.Imm(isa.R1, 0), isa.ALUMod.Reg32(isa.R0, isa.R1)}, 0xfffffff9},
		{"div32 zero-extends", []isa.Instruction{mov64(isa.R0, -1), isa.ALUDiv.Imm32(isa.R0, 1)}, 0xffffffff},
		{"sdiv64 INT_MIN by -1 wraps", []isa.Instruction{mov64(isa.R0, intMin64), isa.Signed(isa.ALUDiv.Imm(isa.R0, -1))}, 1 << 63},
		{"smod64 INT_MIN by -1 is 0", []isa.Instruction{mov64(isa.R0, intMin64), isa.Signed(isa.ALUMod.Imm(isa.R0, -1))}, 0},
		{"sdiv32 INT_MIN by -1 wraps", []isa.Instruction{isa.ALUMov.Imm32(isa.R0, math.MinInt32), isa.Signed(isa.ALUDiv.Imm32(isa.R0, -1))}, 0x80000000},
		{"smod32 negative by positive", []isa.Instruction{isa.ALUMov.Imm32(isa.R0, -7), isa.Signed(isa.ALUMod.Imm32(isa.R0, 3))}, 0xffffffff},
		{"sdiv64 by zero gives 0", []isa.Instruction{isa.ALUMov.Imm(isa.R0, -7), isa.Signed(isa.ALUDiv.Imm(isa.R0, 0))}, 0},
		{"smod64 by zero keeps dividend", []isa.Instruction{isa.ALUMov.Imm(isa.R0, -7), isa.Signed(isa.ALUMod.Imm(isa.R0, 0))}, math.MaxUint64 - 6},
		{"lsh64 masks the amount", []isa.Instruction{isa.ALUMov.Imm(isa.R0, 1), isa.ALULsh.Imm(isa.R0, 65)}, 2},
		{"lsh32 masks the amount", []isa.Instruction{isa.ALUMov.Imm(isa.R0, 1), isa.ALULsh.Imm32(isa.R0, 33)}, 2},
		{"rsh32 of a 64-bit value uses the low half", []isa.Instruction{mov64(isa.R0, -1), isa.ALURsh.Imm32(isa.R0, 4)}, 0x0fffffff},
		{"arsh64", []isa.Instruction{mov64(isa.R0, -16), isa.ALUArsh.Imm(isa.R0, 2)}, math.MaxUint64 - 3},
		{"arsh32 zero-extends", []isa.Instruction{isa.ALUMov.Imm32(isa.R0, -16), isa.ALUArsh.Imm32(isa.R0, 2)}, 0xfffffffc},
		{"neg32 zero-extends", []isa.Instruction{isa.ALUMov.Imm(isa.R0, 1), isa.Neg32(isa.R0)}, 0xffffffff},
		{"neg64", []isa.Instruction{isa.ALUMov.Imm(isa.R0, 1), isa.Neg(isa.R0)}, math.MaxUint64},
		{"mov32 imm zero-extends", []isa.Instruction{isa.ALUMov.Imm32(isa.R0, -1)}, 0xffffffff},
		{"mov64 imm sign-extends", []isa.Instruction{isa.ALUMov.Imm(isa.R0, -1)}, math.MaxUint64},
		{"add32 wraps and zero-extends", []isa.Instruction{mov64(isa.R0, 0x1_ffff_ffff), isa.ALUAdd.Imm32(isa.R0, 1)}, 0},
		{"movsx64 s8", []isa.Instruction{isa.ALUMov.Imm(isa.R1, 0x80), isa.MovSX(isa.R0, isa.R1, 8)}, 0xffffffffffffff80},
		{"movsx64 s16", []isa.Instruction{isa.ALUMov.Imm(isa.R1, 0x8000), isa.MovSX(isa.R0, isa.R1, 16)}, 0xffffffffffff8000},
		{"movsx64 s32", []isa.Instruction{mov64(isa.R1, 0x80000000), isa.MovSX(isa.R0, isa.R1, 32)}, 0xffffffff80000000},
		{"movsx32 s8 zero-extends", []isa.Instruction{isa.ALUMov.Imm(isa.R1, 0x80), isa.MovSX32(isa.R0, isa.R1, 8)}, 0xffffff80},
		{"bswap16 truncates", []isa.Instruction{mov64(isa.R0, 0x1122334455667788), isa.ByteSwap(isa.R0, 16)}, 0x8877},
		{"bswap32", []isa.Instruction{mov64(isa.R0, 0x1122334455667788), isa.ByteSwap(isa.R0, 32)}, 0x88776655},
		{"bswap64", []isa.Instruction{mov64(isa.R0, 0x1122334455667788), isa.ByteSwap(isa.R0, 64)}, 0x8877665544332211},
		{"be16", []isa.Instruction{mov64(isa.R0, 0x1122334455667788), isa.ToBE(isa.R0, 16)}, 0x8877},
		{"le16 truncates", []isa.Instruction{mov64(isa.R0, 0x1122334455667788), isa.ToLE(isa.R0, 16)}, 0x7788},
		{"le32 truncates", []isa.Instruction{mov64(isa.R0, 0x1122334455667788), isa.ToLE(isa.R0, 32)}, 0x55667788},
		{"le64 keeps", []isa.Instruction{mov64(isa.R0, 0x1122334455667788), isa.ToLE(isa.R0, 64)}, 0x1122334455667788},
		{"mul32 overflow", []isa.Instruction{isa.ALUMov.Imm(isa.R0, 0x10000), isa.ALUMul.Imm32(isa.R0, 0x10000)}, 0},
		{"jmp32 compares low halves", []isa.Instruction{mov64(isa.R1, 0x1_0000_0005), isa.ALUMov.Imm(isa.R0, 0), isa.JumpEq.Imm32(isa.R1, 5, 1), isa.Return(), isa.ALUMov.Imm(isa.R0, 1)}, 1},
		{"jsgt signed", []isa.Instruction{isa.ALUMov.Imm(isa.R1, -1), isa.ALUMov.Imm(isa.R0, 0), isa.JumpSGT.Imm(isa.R1, -2, 1), isa.Return(), isa.ALUMov.Imm(isa.R0, 1)}, 1},
		{"jgt unsigned", []isa.Instruction{isa.ALUMov.Imm(isa.R1, -1), isa.ALUMov.Imm(isa.R0, 0), isa.JumpGT.Imm(isa.R1, 5, 1), isa.Return(), isa.ALUMov.Imm(isa.R0, 1)}, 1},
		{"jset", []isa.Instruction{isa.ALUMov.Imm(isa.R1, 6), isa.ALUMov.Imm(isa.R0, 0), isa.JumpSet.Imm(isa.R1, 2, 1), isa.Return(), isa.ALUMov.Imm(isa.R0, 1)}, 1},
		{"gotol", []isa.Instruction{isa.ALUMov.Imm(isa.R0, 1), isa.Gotol(1), isa.Return(), isa.ALUMov.Imm(isa.R0, 2)}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			insns := append(append([]isa.Instruction{}, tt.insns...), isa.Return())
			r0, _, _, err := runRaw(t, insns, nil)
			require.NoError(t, err)
			require.Equal(t, tt.want, r0)
		})
	}
}

func TestMemoryAndAtomics(t *testing.T) {
	mem := []byte{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0, 0, 0, 0, 0, 0, 0, 0}
	tests := []struct {
		name    string
		insns   []isa.Instruction
		want    uint64
		wantMem []byte // prefix of the memory after the run, if set
	}{
		{"ldxdw", []isa.Instruction{isa.Load(isa.R0, isa.R1, 0, isa.SizeDW)}, 0x8877665544332211, nil},
		{"ldxh", []isa.Instruction{isa.Load(isa.R0, isa.R1, 6, isa.SizeH)}, 0x8877, nil},
		{"ldxsb sign-extends", []isa.Instruction{isa.LoadSX(isa.R0, isa.R1, 7, isa.SizeB)}, 0xffffffffffffff88, nil},
		{"ldxsw sign-extends", []isa.Instruction{isa.LoadSX(isa.R0, isa.R1, 4, isa.SizeW)}, 0xffffffff88776655, nil},
		{"stb", []isa.Instruction{isa.StoreImm(isa.R1, 8, 0x7f, isa.SizeB), isa.Load(isa.R0, isa.R1, 8, isa.SizeDW)}, 0x7f, nil},
		{"stdw sign-extends imm", []isa.Instruction{isa.StoreImm(isa.R1, 8, -1, isa.SizeDW), isa.Load(isa.R0, isa.R1, 8, isa.SizeDW)}, math.MaxUint64, nil},
		{"stxw", []isa.Instruction{isa.ALUMov.Imm(isa.R2, -1), isa.Store(isa.R1, 8, isa.R2, isa.SizeW), isa.Load(isa.R0, isa.R1, 8, isa.SizeDW)}, 0xffffffff, []byte{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0xff, 0xff, 0xff, 0xff, 0}},
		{"stack", []isa.Instruction{isa.ALUMov.Imm(isa.R2, 42), isa.Store(isa.R10, -8, isa.R2, isa.SizeDW), isa.Load(isa.R0, isa.R10, -8, isa.SizeDW)}, 42, nil},
		{"unwritten stack reads zero", []isa.Instruction{isa.Load(isa.R0, isa.R10, -512, isa.SizeDW)}, 0, nil},
		{"atomic add64", []isa.Instruction{isa.ALUMov.Imm(isa.R2, 5), isa.StoreImm(isa.R1, 8, 10, isa.SizeDW), isa.Atomic(isa.AtomicAdd, isa.R1, 8, isa.R2, isa.SizeDW), isa.Load(isa.R0, isa.R1, 8, isa.SizeDW)}, 15, nil},
		{"atomic fetch_add32 returns old zero-extended", []isa.Instruction{isa.ALUMov.Imm(isa.R2, 5), isa.StoreImm(isa.R1, 8, -1, isa.SizeW), isa.Atomic(isa.AtomicAdd|isa.AtomicFetch, isa.R1, 8, isa.R2, isa.SizeW), isa.ALUMov.Reg(isa.R0, isa.R2)}, 0xffffffff, nil},
		{"atomic fetch_or64", []isa.Instruction{isa.ALUMov.Imm(isa.R2, 0xf0), isa.StoreImm(isa.R1, 8, 0x0f, isa.SizeDW), isa.Atomic(isa.AtomicOr|isa.AtomicFetch, isa.R1, 8, isa.R2, isa.SizeDW), isa.Load(isa.R0, isa.R1, 8, isa.SizeDW), isa.ALUAdd.Reg(isa.R0, isa.R2)}, 0xff + 0x0f, nil},
		{"atomic fetch_and32", []isa.Instruction{isa.ALUMov.Imm(isa.R2, 0x3c), isa.StoreImm(isa.R1, 8, 0x0f, isa.SizeW), isa.Atomic(isa.AtomicAnd|isa.AtomicFetch, isa.R1, 8, isa.R2, isa.SizeW), isa.Load(isa.R0, isa.R1, 8, isa.SizeW), isa.ALULsh.Imm(isa.R0, 8), isa.ALUOr.Reg(isa.R0, isa.R2)}, 0x0c0f, nil},
		{"atomic xor64", []isa.Instruction{isa.ALUMov.Imm(isa.R2, 0xff), isa.StoreImm(isa.R1, 8, 0x0f, isa.SizeDW), isa.Atomic(isa.AtomicXor, isa.R1, 8, isa.R2, isa.SizeDW), isa.Load(isa.R0, isa.R1, 8, isa.SizeDW)}, 0xf0, nil},
		{"xchg64", []isa.Instruction{isa.ALUMov.Imm(isa.R2, 7), isa.StoreImm(isa.R1, 8, 3, isa.SizeDW), isa.Atomic(isa.AtomicXchg, isa.R1, 8, isa.R2, isa.SizeDW), isa.Load(isa.R0, isa.R1, 8, isa.SizeDW), isa.ALULsh.Imm(isa.R0, 8), isa.ALUOr.Reg(isa.R0, isa.R2)}, 0x703, nil},
		{"cmpxchg64 success", []isa.Instruction{isa.StoreImm(isa.R1, 8, 3, isa.SizeDW), isa.ALUMov.Imm(isa.R0, 3), isa.ALUMov.Imm(isa.R2, 9), isa.Atomic(isa.AtomicCmpXchg, isa.R1, 8, isa.R2, isa.SizeDW), isa.Load(isa.R3, isa.R1, 8, isa.SizeDW), isa.ALULsh.Imm(isa.R0, 8), isa.ALUOr.Reg(isa.R0, isa.R3)}, 0x309, nil},
		{"cmpxchg32 failure", []isa.Instruction{isa.StoreImm(isa.R1, 8, 3, isa.SizeW), isa.ALUMov.Imm(isa.R0, 4), isa.ALUMov.Imm(isa.R2, 9), isa.Atomic(isa.AtomicCmpXchg, isa.R1, 8, isa.R2, isa.SizeW), isa.Load(isa.R3, isa.R1, 8, isa.SizeW), isa.ALULsh.Imm(isa.R0, 8), isa.ALUOr.Reg(isa.R0, isa.R3)}, 0x303, nil},
		{"ld_abs is big endian", []isa.Instruction{isa.ALUMov.Reg(isa.R6, isa.R1), isa.LoadAbs(2, isa.SizeH)}, 0x3344, nil},
		{"ld_ind", []isa.Instruction{isa.ALUMov.Imm(isa.R2, 1), isa.LoadInd(isa.R2, 3, isa.SizeW)}, 0x55667788, nil},
		// Found by ebpfvm fuzz --seed 20261128 (program 19792): the kernel
		// reads SKF_NET_OFF offsets from the network header.
		{"ld_ind from SKF_NET_OFF", []isa.Instruction{isa.ALUMov.Imm32(isa.R7, -1), isa.ALULsh.Imm32(isa.R7, 20), isa.LoadInd(isa.R7, 2, isa.SizeH)}, 0x3344, nil},
		{"ld_abs from SKF_NET_OFF", []isa.Instruction{isa.ALUMov.Reg(isa.R6, isa.R1), isa.LoadAbs(-0x100000+4, isa.SizeW)}, 0x55667788, nil},
		{"ld_abs from SKF_LL_OFF past the MAC header", []isa.Instruction{isa.LoadAbs(-0x200000+14+1, isa.SizeB)}, 0x22, nil},
		{"ld_abs into the MAC header ends the program with 0", []isa.Instruction{isa.ALUMov.Imm(isa.R0, 9), isa.LoadAbs(-0x200000+13, isa.SizeH), isa.ALUMov.Imm(isa.R0, 7)}, 0, nil},
		{"ld_abs below SKF_LL_OFF ends the program with 0", []isa.Instruction{isa.ALUMov.Imm(isa.R0, 9), isa.LoadAbs(-0x200001, isa.SizeB), isa.ALUMov.Imm(isa.R0, 7)}, 0, nil},
		{"ld_abs out of the packet ends the program with 0", []isa.Instruction{isa.ALUMov.Imm(isa.R0, 9), isa.LoadAbs(14, isa.SizeW), isa.ALUMov.Imm(isa.R0, 7)}, 0, nil},
		{"lddw", []isa.Instruction{isa.LoadImm64(isa.R0, 0x1122334455667788)}, 0x1122334455667788, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			insns := append(append([]isa.Instruction{}, tt.insns...), isa.Return())
			r0, out, _, err := runRaw(t, insns, mem)
			require.NoError(t, err)
			require.Equal(t, tt.want, r0)
			if tt.wantMem != nil {
				require.Equal(t, tt.wantMem, out[:len(tt.wantMem)])
			}
		})
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name   string
		insns  []isa.Instruction
		kind   vm.FaultKind
		pc     int
		budget uint64
	}{
		{"null load", []isa.Instruction{isa.ALUMov.Imm(isa.R1, 0), isa.Load(isa.R0, isa.R1, 0, isa.SizeB)}, vm.FaultNull, 1, 0},
		{"small integer", []isa.Instruction{isa.ALUMov.Imm(isa.R1, 4096), isa.Load(isa.R0, isa.R1, 0, isa.SizeW)}, vm.FaultNull, 1, 0},
		{"out of the input", []isa.Instruction{isa.Load(isa.R0, isa.R1, 13, isa.SizeW)}, vm.FaultOutOfBounds, 0, 0},
		{"below the stack wraps into region 0", []isa.Instruction{isa.Load(isa.R0, isa.R10, -4097, isa.SizeB)}, vm.FaultNull, 0, 0},
		{"past the stack top", []isa.Instruction{isa.Load(isa.R0, isa.R10, 1, isa.SizeB)}, vm.FaultOutOfBounds, 0, 0},
		{"above the stack", []isa.Instruction{isa.StoreImm(isa.R10, 0, 1, isa.SizeB)}, vm.FaultOutOfBounds, 0, 0},
		{"unmapped region", []isa.Instruction{mov64(isa.R1, 0x7_0000_0000), isa.Load(isa.R0, isa.R1, 0, isa.SizeB)}, vm.FaultOutOfBounds, 2, 0},
		{"map handle", []isa.Instruction{mov64(isa.R1, int64(vm.MapHandle(0))), isa.Load(isa.R0, isa.R1, 0, isa.SizeB)}, vm.FaultOutOfBounds, 2, 0},
		{"misaligned atomic", []isa.Instruction{isa.ALUMov.Imm(isa.R2, 1), isa.Atomic(isa.AtomicAdd, isa.R1, 2, isa.R2, isa.SizeW)}, vm.FaultMisaligned, 1, 0},
		{"fall off the end", []isa.Instruction{isa.ALUMov.Imm(isa.R0, 1)}, vm.FaultBadJump, 1, 0},
		{"jump out", []isa.Instruction{isa.Ja(100), isa.Return()}, vm.FaultBadJump, 101, 0},
		{"jump before the start", []isa.Instruction{isa.Ja(-5), isa.Return()}, vm.FaultBadJump, 2, 0},
		{"jump into lddw", []isa.Instruction{isa.Ja(1), isa.LoadImm64(isa.R0, 1), isa.Return()}, vm.FaultBadJump, 2, 0},
		{"unknown helper", []isa.Instruction{isa.HelperCall(9999), isa.Return()}, vm.FaultBadCall, 0, 0},
		{"kfunc", []isa.Instruction{{Opcode: isa.OpCall, Src: isa.CallKfunc, Imm: 5}, isa.Return()}, vm.FaultBadCall, 0, 0},
		{"infinite loop", []isa.Instruction{isa.Ja(-1), isa.Return()}, vm.FaultBudget, 0, 1000},
		{"recursion too deep", []isa.Instruction{isa.LocalCall(-1), isa.Return()}, vm.FaultCallDepth, 0, 0},
		{"invalid instruction", []isa.Instruction{{Opcode: 0x8c}, isa.Return()}, vm.FaultInvalidInsn, 0, 0},
		{"bad callx", []isa.Instruction{mov64(isa.R2, 0x7_0000_0000), isa.CallReg(isa.R2), isa.Return()}, vm.FaultBadCall, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []func(*vm.ProgramOptions, *vm.Machine){}
			if tt.budget != 0 {
				opts = append(opts, withBudget(tt.budget))
			}
			insns := append([]isa.Instruction{}, tt.insns...)
			_, _, _, err := runRaw(t, insns, make([]byte, 16), opts...)
			var f *vm.Fault
			require.ErrorAs(t, err, &f)
			require.Equal(t, tt.kind, f.Kind, "%v", err)
			// The reported pc is that of the faulting instruction, or the
			// slot control reached for jumps out of the program.
			if tt.kind != vm.FaultBadJump {
				require.Equal(t, tt.pc, f.PC, "%v", err)
			}
		})
	}
}

func TestReadOnlyRegion(t *testing.T) {
	p, err := vm.NewProgram([]isa.Instruction{isa.StoreImm(isa.R1, 0, 1, isa.SizeB), isa.Return()}, vm.ProgramOptions{})
	require.NoError(t, err)
	m := vm.NewMachine(nil)
	ro := vm.AlignedBytes(8)
	r, err := vm.NewRegion(ro, vm.PermRead)
	require.NoError(t, err)
	require.NoError(t, m.SetRegion(vm.RegionContext, "ctx", r))
	_, err = New(p).Run(m, vm.Addr(vm.RegionContext, 0))
	var f *vm.Fault
	require.ErrorAs(t, err, &f)
	require.Equal(t, vm.FaultNotWritable, f.Kind)
	require.Contains(t, f.Error(), "ctx")
	require.Equal(t, byte(0), ro[0])
}

func TestCountsInstructions(t *testing.T) {
	// 1 mov + 10 iterations of 2 + exit; the lddw counts once.
	insns := []isa.Instruction{
		isa.LoadImm64(isa.R1, 10),
		isa.ALUSub.Imm(isa.R1, 1),
		isa.JumpNE.Imm(isa.R1, 0, -2),
		isa.Return(),
	}
	_, _, m, err := runRaw(t, insns, nil)
	require.NoError(t, err)
	require.Equal(t, uint64(1+20+1), m.Executed)

	_, _, m, err = runRaw(t, []isa.Instruction{isa.Ja(-1)}, nil, withBudget(100))
	require.Error(t, err)
	require.Greater(t, m.Executed, uint64(100))
}

func TestBudgetBoundsTheRun(t *testing.T) {
	loop := []isa.Instruction{isa.ALUAdd.Imm(isa.R0, 1), isa.Ja(-2), isa.Return()}
	_, _, m, err := runRaw(t, loop, nil, withBudget(1_000_000))
	var f *vm.Fault
	require.ErrorAs(t, err, &f)
	require.Equal(t, vm.FaultBudget, f.Kind)
	require.LessOrEqual(t, m.Executed, uint64(1_000_000+pollInterval))
}

func TestCancellation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	p, err := vm.NewProgram([]isa.Instruction{isa.Ja(-1), isa.Return()}, vm.ProgramOptions{})
	require.NoError(t, err)
	m := vm.NewMachine(nil)
	m.Budget = math.MaxUint64
	m.Ctx = ctx
	start := time.Now()
	_, err = New(p).Run(m)
	var f *vm.Fault
	require.ErrorAs(t, err, &f)
	require.Equal(t, vm.FaultCancelled, f.Kind)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 2*time.Second)
}

// TestCancellationBound checks the bound vm.Machine.Ctx documents: a
// cancelled run stops within pollInterval instructions plus one forward
// pass, whether its loop is a backward jump or a call, in both loops.
func TestCancellationBound(t *testing.T) {
	programs := map[string][]isa.Instruction{
		"backward jump": {isa.ALUAdd.Imm(isa.R0, 1), isa.Ja(-2), isa.Return()},
		"call": {
			isa.ALUAdd.Imm(isa.R0, 1),
			isa.LocalCall(1),
			isa.Ja(-3),
			isa.ALUAdd.Imm(isa.R1, 1),
			isa.Return(),
		},
	}
	for name, insns := range programs {
		for _, fast := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/fast=%v", name, fast), func(t *testing.T) {
				defer SetFast(SetFast(fast))
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				p, err := vm.NewProgram(insns, vm.ProgramOptions{})
				require.NoError(t, err)
				m := vm.NewMachine(nil)
				m.Budget = math.MaxUint64
				m.Ctx = ctx
				_, err = New(p).Run(m)
				var f *vm.Fault
				require.ErrorAs(t, err, &f)
				require.Equal(t, vm.FaultCancelled, f.Kind)
				require.ErrorIs(t, err, context.Canceled)
				require.LessOrEqual(t, m.Executed, uint64(pollInterval+len(insns)))
			})
		}
	}
}

func TestLocalCalls(t *testing.T) {
	insns := []isa.Instruction{
		isa.ALUMov.Imm(isa.R6, 6),
		isa.ALUMov.Imm(isa.R1, 20),
		isa.StoreImm(isa.R10, -8, 100, isa.SizeDW),
		isa.ALUMov.Reg(isa.R2, isa.R10),
		isa.ALUAdd.Imm(isa.R2, -8),
		isa.LocalCall(4),
		isa.ALUAdd.Reg(isa.R0, isa.R6), // r6 preserved
		isa.Load(isa.R3, isa.R10, -8, isa.SizeDW),
		isa.ALUAdd.Reg(isa.R0, isa.R3),
		isa.Return(),
		// func(r1, r2 *u64): clobbers r6, writes its own stack, reads the caller's
		isa.ALUMov.Imm(isa.R6, 1000),
		isa.StoreImm(isa.R10, -8, 5, isa.SizeDW),
		isa.Load(isa.R0, isa.R2, 0, isa.SizeDW),
		isa.ALUAdd.Reg(isa.R0, isa.R1),
		isa.Load(isa.R4, isa.R10, -8, isa.SizeDW),
		isa.ALUAdd.Reg(isa.R0, isa.R4),
		isa.Return(),
	}
	r0, _, _, err := runRaw(t, insns, nil)
	require.NoError(t, err)
	require.Equal(t, uint64(100+20+5+6+100), r0)
}

func TestDeepestCallChain(t *testing.T) {
	// The entry function and seven nested calls are allowed, an eighth is not.
	chain := func(depth int) []isa.Instruction {
		insns := []isa.Instruction{isa.ALUMov.Imm(isa.R0, 0)}
		for range depth {
			insns = append(insns, isa.LocalCall(1), isa.Return(), isa.ALUAdd.Imm(isa.R0, 1))
		}
		return append(insns, isa.Return())
	}
	r0, _, _, err := runRaw(t, chain(7), nil)
	require.NoError(t, err)
	require.Equal(t, uint64(7), r0)
	_, _, _, err = runRaw(t, chain(8), nil)
	var f *vm.Fault
	require.ErrorAs(t, err, &f)
	require.Equal(t, vm.FaultCallDepth, f.Kind)
}

func TestHelpers(t *testing.T) {
	add := func(m *vm.Machine, r1, r2, r3, r4, r5 uint64) (uint64, error) { return r1 + r2 + r3 + r4 + r5, nil }
	failing := func(m *vm.Machine, r1, r2, r3, r4, r5 uint64) (uint64, error) {
		return 0, errors.New("host says no")
	}
	h := withHelpers(map[int]vm.HelperFunc{1: add, 2: failing, 3: filler(0xab)})

	r0, _, _, err := runRaw(t, []isa.Instruction{
		isa.ALUMov.Imm(isa.R1, 1), isa.ALUMov.Imm(isa.R2, 2), isa.ALUMov.Imm(isa.R3, 3), isa.ALUMov.Imm(isa.R4, 4), isa.ALUMov.Imm(isa.R5, 5),
		isa.HelperCall(1), isa.Return()}, nil, h)
	require.NoError(t, err)
	require.Equal(t, uint64(15), r0)

	_, _, _, err = runRaw(t, []isa.Instruction{isa.HelperCall(2), isa.Return()}, nil, h)
	var f *vm.Fault
	require.ErrorAs(t, err, &f)
	require.Equal(t, vm.FaultHelper, f.Kind)
	require.ErrorContains(t, err, "host says no")

	// A helper's memory access is checked like the program's.
	_, out, _, err := runRaw(t, []isa.Instruction{isa.ALUMov.Imm(isa.R2, 4), isa.HelperCall(3), isa.Return()}, make([]byte, 8), h)
	require.NoError(t, err)
	require.Equal(t, []byte{0xab, 0xab, 0xab, 0xab, 0, 0, 0, 0}, out)
	_, _, _, err = runRaw(t, []isa.Instruction{isa.ALUMov.Imm(isa.R2, 9), isa.HelperCall(3), isa.Return()}, make([]byte, 8), h)
	require.ErrorAs(t, err, &f)
	require.Equal(t, vm.FaultOutOfBounds, f.Kind)
	require.Equal(t, 1, f.PC)

	// callx with a helper id (uBPF's convention) and with a function pointer.
	r0, _, _, err = runRaw(t, []isa.Instruction{isa.ALUMov.Imm(isa.R1, 40), isa.ALUMov.Imm(isa.R6, 1), isa.CallReg(isa.R6), isa.Return()}, nil, h)
	require.NoError(t, err)
	require.Equal(t, uint64(40), r0)
	r0, _, _, err = runRaw(t, []isa.Instruction{
		isa.LoadPseudo(isa.R6, isa.PseudoFunc, 4, 0), isa.ALUMov.Imm(isa.R1, 7), isa.CallReg(isa.R6), isa.Return(),
		isa.ALUMov.Reg(isa.R0, isa.R1), isa.ALUMul.Imm(isa.R0, 3), isa.Return()}, nil, h)
	require.NoError(t, err)
	require.Equal(t, uint64(21), r0)
}

func TestCallbacks(t *testing.T) {
	// loop(n, fn): calls fn(i) for i < n, like bpf_loop; stops when fn returns 1.
	loop := func(m *vm.Machine, r1, r2, r3, r4, r5 uint64) (uint64, error) {
		var i uint64
		for ; i < r1; i++ {
			ret, err := m.Call(r2, i, r3)
			if err != nil {
				return 0, err
			}
			if ret == 1 {
				i++
				break
			}
		}
		return i, nil
	}
	insns := []isa.Instruction{
		isa.StoreImm(isa.R10, -8, 0, isa.SizeDW),
		isa.ALUMov.Imm(isa.R1, 10),
		isa.LoadPseudo(isa.R2, isa.PseudoFunc, 8, 0),
		isa.ALUMov.Reg(isa.R3, isa.R10),
		isa.ALUAdd.Imm(isa.R3, -8),
		isa.HelperCall(1),
		isa.Load(isa.R1, isa.R10, -8, isa.SizeDW),
		isa.ALULsh.Imm(isa.R0, 16),
		isa.ALUOr.Reg(isa.R0, isa.R1),
		isa.Return(),
		// callback(i, sum *u64): *sum += i; stop after i == 4
		isa.Load(isa.R3, isa.R2, 0, isa.SizeDW),
		isa.ALUAdd.Reg(isa.R3, isa.R1),
		isa.Store(isa.R2, 0, isa.R3, isa.SizeDW),
		isa.ALUMov.Imm(isa.R0, 0),
		isa.JumpNE.Imm(isa.R1, 4, 1),
		isa.ALUMov.Imm(isa.R0, 1),
		isa.Return(),
	}
	r0, _, _, err := runRaw(t, insns, nil, withHelpers(map[int]vm.HelperFunc{1: loop}))
	require.NoError(t, err)
	require.Equal(t, uint64(5<<16|(0+1+2+3+4)), r0)
}

func TestTailCall(t *testing.T) {
	target, err := vm.NewProgram([]isa.Instruction{isa.Load(isa.R0, isa.R1, 0, isa.SizeB), isa.ALUAdd.Imm(isa.R0, 100), isa.Return()}, vm.ProgramOptions{})
	require.NoError(t, err)
	New(target)
	tail := func(m *vm.Machine, r1, r2, r3, r4, r5 uint64) (uint64, error) {
		if r3 != 0 || m.TailCalls >= vm.MaxTailCalls {
			return ^uint64(0), nil // -ENOENT-like failure: the caller continues
		}
		m.TailCalls++
		m.TailCallTarget = target
		return 0, nil
	}
	h := withHelpers(map[int]vm.HelperFunc{12: tail})
	prog := func(index int32) []isa.Instruction {
		return []isa.Instruction{isa.ALUMov.Imm(isa.R3, index), isa.HelperCall(12), isa.ALUMov.Imm(isa.R0, 7), isa.Return()}
	}
	r0, _, _, err := runRaw(t, prog(0), []byte{5}, h)
	require.NoError(t, err)
	require.Equal(t, uint64(105), r0)
	r0, _, _, err = runRaw(t, prog(1), []byte{5}, h)
	require.NoError(t, err)
	require.Equal(t, uint64(7), r0)
}

func TestMayGoto(t *testing.T) {
	// An endless loop around may_goto ends after the kernel's 8M iterations.
	insns := []isa.Instruction{
		isa.ALUMov.Imm(isa.R0, 0),
		{Opcode: isa.OpMayGoto, Offset: 2},
		isa.ALUAdd.Imm(isa.R0, 1),
		isa.Ja(-3),
		isa.Return(),
	}
	r0, _, _, err := runRaw(t, insns, nil)
	require.NoError(t, err)
	require.Equal(t, uint64(maxLoops), r0)
}

func TestConcurrentRuns(t *testing.T) {
	// Eight goroutines run one program, each with its own machine and input;
	// -race checks that runs share nothing but the program.
	p, err := vm.NewProgram(fnv1a(), vm.ProgramOptions{})
	require.NoError(t, err)
	e := New(p)
	want := func(b []byte) uint64 {
		h := uint64(14695981039346656037)
		for _, c := range b {
			h ^= uint64(c)
			h *= 1099511628211
		}
		return h
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := vm.NewMachine(nil)
			mem := make([]byte, 1000+g)
			for i := range mem {
				mem[i] = byte(i * g)
			}
			for range 200 {
				m.Reset()
				args, _, err := progtype.SetupRaw(m, mem)
				if err != nil {
					errs <- err
					return
				}
				r0, err := e.Run(m, args[:]...)
				if err != nil {
					errs <- err
					return
				}
				if r0 != want(mem) {
					errs <- errors.New("wrong hash")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// TestAtomicsAreAtomic has 8 goroutines increment shared counters with
// every atomic operation that can count: add, fetch_add, a cmpxchg loop and
// an xchg-based lock; no increment may be lost.
func TestAtomicsAreAtomic(t *testing.T) {
	space := vm.NewSpace()
	shared := vm.AlignedBytes(32)
	r, err := vm.NewRegion(shared, vm.PermRW)
	require.NoError(t, err)
	id := space.AddRegion("counters", r)
	base := int64(vm.Addr(id, 0))
	const n = 500
	insns := []isa.Instruction{
		isa.LoadImm64(isa.R6, base),
		isa.ALUMov.Imm(isa.R7, n),
		// loop:
		isa.ALUMov.Imm(isa.R1, 1),
		isa.Atomic(isa.AtomicAdd, isa.R6, 0, isa.R1, isa.SizeDW),
		isa.ALUMov.Imm(isa.R1, 1),
		isa.Atomic(isa.AtomicAdd|isa.AtomicFetch, isa.R6, 8, isa.R1, isa.SizeW),
		// cmpxchg loop on the 64-bit word at 16: r0 = old; r1 = old+1
		isa.Load(isa.R0, isa.R6, 16, isa.SizeDW),
		isa.ALUMov.Reg(isa.R1, isa.R0),
		isa.ALUAdd.Imm(isa.R1, 1),
		isa.ALUMov.Reg(isa.R2, isa.R0),
		isa.Atomic(isa.AtomicCmpXchg, isa.R6, 16, isa.R1, isa.SizeDW),
		isa.JumpNE.Reg(isa.R0, isa.R2, -6),
		// 32-bit cmpxchg loop on the word at 24
		isa.Load(isa.R0, isa.R6, 24, isa.SizeW),
		isa.ALUMov.Reg(isa.R1, isa.R0),
		isa.ALUAdd.Imm(isa.R1, 1),
		isa.ALUMov.Reg(isa.R2, isa.R0),
		isa.Atomic(isa.AtomicCmpXchg, isa.R6, 24, isa.R1, isa.SizeW),
		isa.JumpNE.Reg32(isa.R0, isa.R2, -6),
		isa.ALUSub.Imm(isa.R7, 1),
		isa.JumpNE.Imm(isa.R7, 0, -18),
		isa.ALUMov.Imm(isa.R0, 0),
		isa.Return(),
	}
	p, err := vm.NewProgram(insns, vm.ProgramOptions{Space: space})
	require.NoError(t, err)
	e := New(p)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := vm.NewMachine(space)
			if _, err := e.Run(m); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, uint64(8*n), binary.LittleEndian.Uint64(shared[0:]))
	require.Equal(t, uint32(8*n), binary.LittleEndian.Uint32(shared[8:]))
	require.Equal(t, uint64(8*n), binary.LittleEndian.Uint64(shared[16:]))
	require.Equal(t, uint32(8*n), binary.LittleEndian.Uint32(shared[24:]))
}

func TestInsnSize(t *testing.T) {
	require.Equal(t, uintptr(insnSize), unsafe.Sizeof(insn{}))
}
