package isa_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm/isa"
)

// TestKernelString compares with lines of real verifier logs (the format of
// kernel/bpf/disasm.c, as printed by "bpftool prog load ... -d" or a failed
// load with log level 2).
func TestKernelString(t *testing.T) {
	helpers := &isa.KernelOptions{HelperName: func(id int32) string {
		return map[int32]string{1: "bpf_map_lookup_elem", 5: "bpf_ktime_get_ns", 12: "bpf_tail_call"}[id]
	}}
	maps := &isa.KernelOptions{Imm64: func(ins isa.Instruction) string {
		if ins.Src == isa.PseudoMapFD {
			return fmt.Sprintf("map[id:%d]", ins.Imm)
		}
		return ""
	}}
	for _, tc := range []struct {
		ins  isa.Instruction
		opts *isa.KernelOptions
		want string
	}{
		{isa.ALUMov.Imm(isa.R0, 42), nil, "(b7) r0 = 42"},
		{isa.ALUMov.Imm(isa.R1, -1), nil, "(b7) r1 = -1"},
		{isa.ALUMov.Reg(isa.R6, isa.R1), nil, "(bf) r6 = r1"},
		{isa.ALUMov.Imm32(isa.R0, 0), nil, "(b4) w0 = 0"},
		{isa.ALUAdd.Imm(isa.R2, -8), nil, "(07) r2 += -8"},
		{isa.ALUAdd.Reg32(isa.R1, isa.R2), nil, "(0c) w1 += w2"},
		{isa.ALUArsh.Imm(isa.R1, 63), nil, "(c7) r1 s>>= 63"},
		{isa.Signed(isa.ALUDiv.Reg(isa.R1, isa.R2)), nil, "(3f) r1 s/= r2"},
		{isa.Signed(isa.ALUMod.Imm32(isa.R1, 3)), nil, "(94) w1 s%= 3"},
		{isa.Neg(isa.R3), nil, "(87) r3 = -r3"},
		{isa.MovSX(isa.R1, isa.R2, 8), nil, "(bf) r1 = (s8)r2"},
		{isa.MovSX32(isa.R1, isa.R2, 16), nil, "(bc) w1 = (s16)w2"},
		{isa.ToBE(isa.R1, 16), nil, "(dc) r1 = be16 r1"},
		{isa.ToLE(isa.R1, 64), nil, "(d4) r1 = le64 r1"},
		{isa.ByteSwap(isa.R1, 32), nil, "(d7) r1 = bswap32 r1"},
		{isa.Instruction{Opcode: isa.OpMov64Reg, Dst: isa.R1, Src: isa.R2, Offset: 1, Imm: 1}, nil, "(bf) r1 = addr_space_cast(r2, 0, 1)"},
		{isa.JumpGT.Imm(isa.R1, 5, 2), nil, "(25) if r1 > 0x5 goto pc+2"},
		{isa.JumpEq.Imm(isa.R0, 0, -7), nil, "(15) if r0 == 0x0 goto pc-7"},
		{isa.JumpSLT.Imm32(isa.R2, -1, 1), nil, "(c6) if w2 s< 0xffffffff goto pc+1"},
		{isa.JumpNE.Reg(isa.R3, isa.R4, 10), nil, "(5d) if r3 != r4 goto pc+10"},
		{isa.JumpSet.Reg32(isa.R3, isa.R4, 0), nil, "(4e) if w3 & w4 goto pc+0"},
		{isa.Ja(-3), nil, "(05) goto pc-3"},
		{isa.Gotol(100000), nil, "(06) gotol pc+100000"},
		{isa.Instruction{Opcode: isa.OpMayGoto, Offset: 4}, nil, "(e5) may_goto pc+4"},
		{isa.HelperCall(1), helpers, "(85) call bpf_map_lookup_elem#1"},
		{isa.HelperCall(5), helpers, "(85) call bpf_ktime_get_ns#5"},
		{isa.HelperCall(999), helpers, "(85) call unknown#999"},
		{isa.HelperCall(1), nil, "(85) call unknown#1"},
		{isa.LocalCall(7), nil, "(85) call pc+7"},
		{isa.LocalCall(-4), nil, "(85) call pc-4"},
		{isa.Instruction{Opcode: isa.OpCall, Src: isa.CallKfunc, Imm: 12345}, nil, "(85) call kernel-function#12345"},
		{isa.CallReg(isa.R2), nil, "(8d) callx r2"},
		{isa.Return(), nil, "(95) exit"},
		{isa.Store(isa.R10, -8, isa.R1, isa.SizeDW), nil, "(7b) *(u64 *)(r10 -8) = r1"},
		{isa.Store(isa.R10, -4, isa.R1, isa.SizeW), nil, "(63) *(u32 *)(r10 -4) = r1"},
		{isa.StoreImm(isa.R10, -16, 0, isa.SizeDW), nil, "(7a) *(u64 *)(r10 -16) = 0"},
		{isa.StoreImm(isa.R1, 4, 7, isa.SizeB), nil, "(72) *(u8 *)(r1 +4) = 7"},
		{isa.Load(isa.R0, isa.R1, 0, isa.SizeW), nil, "(61) r0 = *(u32 *)(r1 +0)"},
		{isa.Load(isa.R2, isa.R1, 80, isa.SizeDW), nil, "(79) r2 = *(u64 *)(r1 +80)"},
		{isa.LoadSX(isa.R2, isa.R1, -2, isa.SizeH), nil, "(89) r2 = *(s16 *)(r1 -2)"},
		{isa.Atomic(isa.AtomicAdd|isa.AtomicFetch, isa.R1, 0, isa.R2, isa.SizeDW), nil, "(db) r2 = atomic64_fetch_add((u64 *)(r1 +0), r2)"},
		{isa.Atomic(isa.AtomicOr|isa.AtomicFetch, isa.R1, 8, isa.R2, isa.SizeW), nil, "(c3) r2 = atomic_fetch_or((u32 *)(r1 +8), r2)"},
		{isa.Atomic(isa.AtomicAdd, isa.R10, -8, isa.R1, isa.SizeDW), nil, "(db) lock *(u64 *)(r10 -8) += r1"},
		{isa.Atomic(isa.AtomicXor, isa.R10, -4, isa.R1, isa.SizeW), nil, "(c3) lock *(u32 *)(r10 -4) ^= r1"},
		{isa.Atomic(isa.AtomicXchg, isa.R1, 0, isa.R3, isa.SizeDW), nil, "(db) r3 = atomic64_xchg((u64 *)(r1 +0), r3)"},
		{isa.Atomic(isa.AtomicCmpXchg, isa.R1, 0, isa.R3, isa.SizeW), nil, "(c3) r0 = atomic_cmpxchg((u32 *)(r1 +0), r0, r3)"},
		{isa.LoadImm64(isa.R1, 0x1122334455667788), nil, "(18) r1 = 0x1122334455667788"},
		{isa.LoadImm64(isa.R1, -1), nil, "(18) r1 = 0xffffffffffffffff"},
		{isa.LoadPseudo(isa.R1, isa.PseudoMapFD, 3, 0), maps, "(18) r1 = map[id:3]"},
		{isa.LoadPseudo(isa.R1, isa.PseudoMapValue, 3, 8), maps, "(18) r1 = 0x800000003"},
		{isa.LoadAbs(12, isa.SizeH), nil, "(28) r0 = *(u16 *)skb[12]"},
		{isa.LoadInd(isa.R1, 4, isa.SizeW), nil, "(40) r0 = *(u32 *)skb[r1 + 4]"},
		{isa.Instruction{Opcode: 0xff}, nil, "(ff) invalid"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			require.Equal(t, tc.want, tc.ins.KernelString(tc.opts))
		})
	}
}
