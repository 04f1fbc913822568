package asm_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/isa/asm"
)

type asmCase struct {
	src  string
	want isa.Instruction
}

func assembleOne(t *testing.T, src string) isa.Instruction {
	t.Helper()
	insns, err := asm.Assemble("t.s", src)
	require.NoError(t, err, src)
	require.Len(t, insns, 1, src)
	return insns[0]
}

func runCases(t *testing.T, cases []asmCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			require.Equal(t, tc.want, assembleOne(t, tc.src))
		})
	}
}

func TestLLVMSyntax(t *testing.T) {
	atomic := func(op int64, dst isa.Register, off int16, src isa.Register, size isa.Size) isa.Instruction {
		return isa.Atomic(op, dst, off, src, size)
	}
	runCases(t, []asmCase{
		{"r0 = 42", isa.ALUMov.Imm(isa.R0, 42)},
		{"r0 = -1", isa.ALUMov.Imm(isa.R0, -1)},
		{"r0 = 0xffffffff", isa.ALUMov.Imm(isa.R0, -1)},
		{"w2 += 8", isa.ALUAdd.Imm32(isa.R2, 8)},
		{"w2 = w3", isa.ALUMov.Reg32(isa.R2, isa.R3)},
		{"r1 -= r2", isa.ALUSub.Reg(isa.R1, isa.R2)},
		{"r1 *= 3", isa.ALUMul.Imm(isa.R1, 3)},
		{"r1 /= r2", isa.ALUDiv.Reg(isa.R1, isa.R2)},
		{"r2 s/= r1", isa.Signed(isa.ALUDiv.Reg(isa.R2, isa.R1))},
		{"w2 s%= 7", isa.Signed(isa.ALUMod.Imm32(isa.R2, 7))},
		{"r1 %= 7", isa.ALUMod.Imm(isa.R1, 7)},
		{"r1 |= 1", isa.ALUOr.Imm(isa.R1, 1)},
		{"r1 &= 1", isa.ALUAnd.Imm(isa.R1, 1)},
		{"r1 ^= r9", isa.ALUXor.Reg(isa.R1, isa.R9)},
		{"r1 <<= 3", isa.ALULsh.Imm(isa.R1, 3)},
		{"r1 >>= 3", isa.ALURsh.Imm(isa.R1, 3)},
		{"w1 s>>= w3", isa.ALUArsh.Reg32(isa.R1, isa.R3)},
		{"r1 = -r1", isa.Neg(isa.R1)},
		{"w1 = -w1", isa.Neg32(isa.R1)},
		{"r2 = (s8)r1", isa.MovSX(isa.R2, isa.R1, 8)},
		{"r2 = (s32)r1", isa.MovSX(isa.R2, isa.R1, 32)},
		{"w2 = (s16)w1", isa.MovSX32(isa.R2, isa.R1, 16)},
		{"r1 = bswap32 r1", isa.ByteSwap(isa.R1, 32)},
		{"r1 = be16 r1", isa.ToBE(isa.R1, 16)},
		{"r1 = le64 r1", isa.ToLE(isa.R1, 64)},
		{"r2 = addr_space_cast(r1, 0, 1)", isa.Instruction{Opcode: isa.OpMov64Reg, Dst: isa.R2, Src: isa.R1, Offset: 1, Imm: 1}},
		{"r2 = addr_space_cast(r1, 1, 0)", isa.Instruction{Opcode: isa.OpMov64Reg, Dst: isa.R2, Src: isa.R1, Offset: 1, Imm: 1 << 16}},
		{"r0 = 1234605616436508552 ll", isa.LoadImm64(isa.R0, 1234605616436508552)},
		{"r0 = -1 ll", isa.LoadImm64(isa.R0, -1)},
		{"r0 = 0xffffffffffffffff ll", isa.LoadImm64(isa.R0, -1)},
		{"ld_pseudo r1, 2, 17179869187", isa.LoadPseudo(isa.R1, isa.PseudoMapValue, 3, 4)},
		{"ld_pseudo r1, 1, 4294967295", isa.LoadPseudo(isa.R1, isa.PseudoMapFD, -1, 0)},
		{"ld_pseudo r1, 1, -1", isa.LoadPseudo(isa.R1, isa.PseudoMapFD, -1, 0)},
		{"ld_pseudo\tr1, 1, 3", isa.LoadPseudo(isa.R1, isa.PseudoMapFD, 3, 0)},
		{"*(u32 *)(r10 - 4) = w1", isa.Store(isa.R10, -4, isa.R1, isa.SizeW)},
		{"*(u32 *)(r10 - 4) = r1", isa.Store(isa.R10, -4, isa.R1, isa.SizeW)},
		{"*(u64 *)(r10 - 8) = r1", isa.Store(isa.R10, -8, isa.R1, isa.SizeDW)},
		{"*(u8 *)(r1 + 0) = 255", isa.StoreImm(isa.R1, 0, 255, isa.SizeB)},
		{"*(u16 *)(r1 + 32767) = -1", isa.StoreImm(isa.R1, 32767, -1, isa.SizeH)},
		{"*(u64 *)(r1 - 32768) = 1", isa.StoreImm(isa.R1, -32768, 1, isa.SizeDW)},
		{"w0 = *(u32 *)(r1 + 4)", isa.Load(isa.R0, isa.R1, 4, isa.SizeW)},
		{"r0 = *(u32 *)(r1 + 4)", isa.Load(isa.R0, isa.R1, 4, isa.SizeW)},
		{"r0 = *(u64 *)(r1 + 4)", isa.Load(isa.R0, isa.R1, 4, isa.SizeDW)},
		{"r0 = *(s8 *)(r1 + 2)", isa.LoadSX(isa.R0, isa.R1, 2, isa.SizeB)},
		{"r0 = *(s32 *)(r1 - 2)", isa.LoadSX(isa.R0, isa.R1, -2, isa.SizeW)},
		{"r0 = *(u16 *)skb[r1 + 5]", isa.LoadInd(isa.R1, 5, isa.SizeH)},
		{"r0 = *(u16 *)skb[r1 - 5]", isa.LoadInd(isa.R1, -5, isa.SizeH)},
		{"r0 = *(u8 *)skb[r1]", isa.LoadInd(isa.R1, 0, isa.SizeB)},
		{"r0 = *(u32 *)skb[5]", isa.LoadAbs(5, isa.SizeW)},
		{"r0 = *(u32 *)skb[-1]", isa.LoadAbs(-1, isa.SizeW)},
		{"lock *(u64 *)(r1 + 0) += r2", atomic(isa.AtomicAdd, isa.R1, 0, isa.R2, isa.SizeDW)},
		{"lock *(u32 *)(r1 - 8) |= w2", atomic(isa.AtomicOr, isa.R1, -8, isa.R2, isa.SizeW)},
		{"lock *(u32 *)(r1 + 0) &= r2", atomic(isa.AtomicAnd, isa.R1, 0, isa.R2, isa.SizeW)},
		{"lock *(u64 *)(r1 + 0) ^= r2", atomic(isa.AtomicXor, isa.R1, 0, isa.R2, isa.SizeDW)},
		{"r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)", atomic(isa.AtomicAdd|isa.AtomicFetch, isa.R1, 0, isa.R2, isa.SizeDW)},
		{"w2 = atomic_fetch_xor((u32 *)(r1 - 4), w2)", atomic(isa.AtomicXor|isa.AtomicFetch, isa.R1, -4, isa.R2, isa.SizeW)},
		{"r0 = cmpxchg_64(r1 + 0, r0, r2)", atomic(isa.AtomicCmpXchg, isa.R1, 0, isa.R2, isa.SizeDW)},
		{"w0 = cmpxchg32_32(r1 + 8, w0, w2)", atomic(isa.AtomicCmpXchg, isa.R1, 8, isa.R2, isa.SizeW)},
		{"w2 = xchg32_32(r1 - 8, w2)", atomic(isa.AtomicXchg, isa.R1, -8, isa.R2, isa.SizeW)},
		{"r2 = xchg_64(r1 + 16, r2)", atomic(isa.AtomicXchg, isa.R1, 16, isa.R2, isa.SizeDW)},
		{"if r1 > 5 goto +2", isa.JumpGT.Imm(isa.R1, 5, 2)},
		{"if r1 s>= -5 goto -2", isa.JumpSGE.Imm(isa.R1, -5, -2)},
		{"if w1 == w2 goto +0", isa.JumpEq.Reg32(isa.R1, isa.R2, 0)},
		{"if r1 & 0x10 goto +1", isa.JumpSet.Imm(isa.R1, 0x10, 1)},
		{"if r1 != r2 goto +1", isa.JumpNE.Reg(isa.R1, isa.R2, 1)},
		{"if r1 s< r2 goto +1", isa.JumpSLT.Reg(isa.R1, isa.R2, 1)},
		{"if r1 s<= r2 goto +1", isa.JumpSLE.Reg(isa.R1, isa.R2, 1)},
		{"if r1 s> r2 goto +1", isa.JumpSGT.Reg(isa.R1, isa.R2, 1)},
		{"if r1 < r2 goto +1", isa.JumpLT.Reg(isa.R1, isa.R2, 1)},
		{"if r1 <= r2 goto +1", isa.JumpLE.Reg(isa.R1, isa.R2, 1)},
		{"if r1 >= r2 goto +1", isa.JumpGE.Reg(isa.R1, isa.R2, 1)},
		{"goto +0", isa.Ja(0)},
		{"goto -32768", isa.Ja(-32768)},
		{"gotol +16", isa.Gotol(16)},
		{"gotol -2147483648", isa.Gotol(-2147483648)},
		{"may_goto +3", isa.Instruction{Opcode: isa.OpMayGoto, Offset: 3}},
		{"call 1", isa.HelperCall(1)},
		{"call -1", isa.HelperCall(-1)},
		{"call pc+5", isa.LocalCall(5)},
		{"call pc-5", isa.LocalCall(-5)},
		{"call kfunc 5", isa.Instruction{Opcode: isa.OpCall, Src: isa.CallKfunc, Imm: 5}},
		{"callx r2", isa.CallReg(isa.R2)},
		{"exit", isa.Return()},
		{"  exit  # comment", isa.Return()},
		{"exit // comment", isa.Return()},
		{"exit ; comment", isa.Return()},
		{"label: exit", isa.Return()},
	})
}

func TestUBPFSyntax(t *testing.T) {
	runCases(t, []asmCase{
		{"mov %r0, 1", isa.ALUMov.Imm(isa.R0, 1)},
		{"mov32 %r1, -1", isa.ALUMov.Imm32(isa.R1, -1)},
		{"mov64 %r1, %r2", isa.ALUMov.Reg(isa.R1, isa.R2)},
		{"add32 %r0, %r1", isa.ALUAdd.Reg32(isa.R0, isa.R1)},
		{"and %r3, 0xffff", isa.ALUAnd.Imm(isa.R3, 0xffff)},
		{"jne %r1, 0xffffffff, +1", isa.JumpNE.Imm(isa.R1, -1, 1)},
		{"sdiv32 %r0, 3", isa.Signed(isa.ALUDiv.Imm32(isa.R0, 3))},
		{"smod %r0, %r1", isa.Signed(isa.ALUMod.Reg(isa.R0, isa.R1))},
		{"sub %r0, 1", isa.ALUSub.Imm(isa.R0, 1)},
		{"arsh32 %r0, 3", isa.ALUArsh.Imm32(isa.R0, 3)},
		{"neg %r0", isa.Neg(isa.R0)},
		{"neg32 %r2", isa.Neg32(isa.R2)},
		{"be16 %r0", isa.ToBE(isa.R0, 16)},
		{"le64 %r0", isa.ToLE(isa.R0, 64)},
		{"swap32 %r0", isa.ByteSwap(isa.R0, 32)},
		{"bswap64 %r0", isa.ByteSwap(isa.R0, 64)},
		{"movsx832 %r0, %r1", isa.MovSX32(isa.R0, isa.R1, 8)},
		{"movsx1632 %r0, %r1", isa.MovSX32(isa.R0, isa.R1, 16)},
		{"movsx864 %r0, %r1", isa.MovSX(isa.R0, isa.R1, 8)},
		{"movsx1664 %r0, %r1", isa.MovSX(isa.R0, isa.R1, 16)},
		{"movsx3264 %r0, %r1", isa.MovSX(isa.R0, isa.R1, 32)},
		{"lddw %r0, 0x1122334455667788", isa.LoadImm64(isa.R0, 0x1122334455667788)},
		{"lddw %r0, -1", isa.LoadImm64(isa.R0, -1)},
		{"ldxw %r0, [%r1+4]", isa.Load(isa.R0, isa.R1, 4, isa.SizeW)},
		{"ldxdw %r0, [%r10-8]", isa.Load(isa.R0, isa.R10, -8, isa.SizeDW)},
		{"ldxb %r0, [%r1]", isa.Load(isa.R0, isa.R1, 0, isa.SizeB)},
		{"ldxh %r0, [ %r1 + 0x10 ]", isa.Load(isa.R0, isa.R1, 16, isa.SizeH)},
		{"ldxsb %r0, [%r1+1]", isa.LoadSX(isa.R0, isa.R1, 1, isa.SizeB)},
		{"ldxsh %r0, [%r1+2]", isa.LoadSX(isa.R0, isa.R1, 2, isa.SizeH)},
		{"ldxsw %r0, [%r1+4]", isa.LoadSX(isa.R0, isa.R1, 4, isa.SizeW)},
		{"stw [%r1+2], 5", isa.StoreImm(isa.R1, 2, 5, isa.SizeW)},
		{"stdw [%r10-8], -1", isa.StoreImm(isa.R10, -8, -1, isa.SizeDW)},
		{"stxdw [%r10-8], %r0", isa.Store(isa.R10, -8, isa.R0, isa.SizeDW)},
		{"stxb [%r10-1], %r3", isa.Store(isa.R10, -1, isa.R3, isa.SizeB)},
		{"ldabsh 12", isa.LoadAbs(12, isa.SizeH)},
		{"ldindw %r1, 4", isa.LoadInd(isa.R1, 4, isa.SizeW)},
		{"lock add [%r10-8], %r1", isa.Atomic(isa.AtomicAdd, isa.R10, -8, isa.R1, isa.SizeDW)},
		{"lock add32 [%r10-4], %r1", isa.Atomic(isa.AtomicAdd, isa.R10, -4, isa.R1, isa.SizeW)},
		{"lock fetch add32 [%r10-8], %r1", isa.Atomic(isa.AtomicAdd|isa.AtomicFetch, isa.R10, -8, isa.R1, isa.SizeW)},
		{"lock fetch xor [%r10-8], %r3", isa.Atomic(isa.AtomicXor|isa.AtomicFetch, isa.R10, -8, isa.R3, isa.SizeDW)},
		{"lock or32 [%r10-4], %r1", isa.Atomic(isa.AtomicOr, isa.R10, -4, isa.R1, isa.SizeW)},
		{"lock and [%r10-8], %r1", isa.Atomic(isa.AtomicAnd, isa.R10, -8, isa.R1, isa.SizeDW)},
		{"lock xchg [%r10-8], %r1", isa.Atomic(isa.AtomicXchg, isa.R10, -8, isa.R1, isa.SizeDW)},
		{"lock xchg32 [%r10-8], %r1", isa.Atomic(isa.AtomicXchg, isa.R10, -8, isa.R1, isa.SizeW)},
		{"lock cmpxchg [%r10-8], %r1 # compare with r0", isa.Atomic(isa.AtomicCmpXchg, isa.R10, -8, isa.R1, isa.SizeDW)},
		{"lock cmpxchg32 [%r10-8], %r1", isa.Atomic(isa.AtomicCmpXchg, isa.R10, -8, isa.R1, isa.SizeW)},
		{"ja +2", isa.Ja(2)},
		{"ja -1", isa.Ja(-1)},
		{"ja32 +70000", isa.Gotol(70000)},
		{"jsgt32 %r1, %r2, +3", isa.JumpSGT.Reg32(isa.R1, isa.R2, 3)},
		{"jeq %r1, 0x1a8c0, -3", isa.JumpEq.Imm(isa.R1, 0x1a8c0, -3)},
		{"call 5", isa.HelperCall(5)},
		{"call helper 5", isa.HelperCall(5)},
		{"call runtime 7", isa.Instruction{Opcode: isa.OpCall, Src: isa.CallKfunc, Imm: 7}},
		{"call local +3", isa.LocalCall(3)},
		{"call %r2", isa.CallReg(isa.R2)},
	})
}

func TestLabels(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want []isa.Instruction
	}{
		{"llvm loop", "r0 = 0\nloop:\nr0 += 1\nif r0 < 10 goto loop\nexit\n",
			[]isa.Instruction{isa.ALUMov.Imm(isa.R0, 0), isa.ALUAdd.Imm(isa.R0, 1), isa.JumpLT.Imm(isa.R0, 10, -2), isa.Return()}},
		{"forward over lddw", "goto end\nr0 = 1 ll\nend: exit",
			[]isa.Instruction{isa.Ja(2), isa.LoadImm64(isa.R0, 1), isa.Return()}},
		{"gotol label", "gotol end\nr0 = 1\nend:\nexit",
			[]isa.Instruction{isa.Gotol(1), isa.ALUMov.Imm(isa.R0, 1), isa.Return()}},
		{"may_goto label", "l: may_goto l\nexit",
			[]isa.Instruction{{Opcode: isa.OpMayGoto, Offset: -1}, isa.Return()}},
		{"local call to label", "call f\nexit\nf:\nr0 = 1\nexit",
			[]isa.Instruction{isa.LocalCall(1), isa.Return(), isa.ALUMov.Imm(isa.R0, 1), isa.Return()}},
		{"ubpf call local", "call local f\nexit\nf: mov %r0, 1\nexit",
			[]isa.Instruction{isa.LocalCall(1), isa.Return(), isa.ALUMov.Imm(isa.R0, 1), isa.Return()}},
		{"ubpf labels", "jne %r1, 5, L1\nmov %r0, 1\nL1:\nja32 L2\nL2: exit",
			[]isa.Instruction{isa.JumpNE.Imm(isa.R1, 5, 1), isa.ALUMov.Imm(isa.R0, 1), isa.Gotol(0), isa.Return()}},
		{"implicit exit label", "jeq %r1, 0x1a8c0, exit\nmov %r0, 0\nexit\nexit",
			[]isa.Instruction{isa.JumpEq.Imm(isa.R1, 0x1a8c0, 1), isa.ALUMov.Imm(isa.R0, 0), isa.Return(), isa.Return()}},
		{"explicit exit label wins", "ja exit\nexit\nexit: mov %r0, 1\nexit",
			[]isa.Instruction{isa.Ja(1), isa.Return(), isa.ALUMov.Imm(isa.R0, 1), isa.Return()}},
		{"mixed syntaxes", "mov %r0, 1\nr0 += 2\nexit", []isa.Instruction{isa.ALUMov.Imm(isa.R0, 1), isa.ALUAdd.Imm(isa.R0, 2), isa.Return()}},
		{"directives and blank lines", ".text\n.globl f\n\nf:\n\tr0 = 0\r\n\texit\n",
			[]isa.Instruction{isa.ALUMov.Imm(isa.R0, 0), isa.Return()}},
		{"listing slot numbers", "0: r0 = 1 ll\n2: exit\n", []isa.Instruction{isa.LoadImm64(isa.R0, 1), isa.Return()}},
		{"empty", "# nothing\n\n", []isa.Instruction{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := asm.Assemble("t.s", tc.src)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		src       string
		line, col int
		msg       string
	}{
		{"r0 = 0\nr11 = 1", 2, 1, "invalid register r11"},
		{"or %r0, %r50", 1, 9, "invalid register %r50"},
		{"mov r0, 1", 1, 5, "expected a register %r0-%r10"},
		{"ldxq %r0, %r1", 1, 1, `unknown mnemonic "ldxq"`},
		{"ldxb %r0, %r1", 1, 11, "expected a memory operand"},
		{"ldxb %r0, [%r1+0x10000]", 1, 15, "offset 0x10000 out of range"},
		{"lddw %r0", 1, 1, "invalid number of operands for lddw"},
		{"lock or [%r10-8]", 1, 1, "invalid number of operands for lock"},
		{"lock", 1, 1, "invalid number of operands for lock"},
		{"lock nand [%r1], %r2", 1, 6, "unknown atomic operation"},
		{"mov32 %r0, 2147483648", 1, 12, "does not fit in 32 bits"},
		{"mov32 %r0, 0x100000000", 1, 12, "does not fit in 32 bits"},
		{"mov32 %r0, -2147483649", 1, 12, "does not fit in 32 bits"},
		{"r0 = 0x100000000", 1, 6, `add "ll"`},
		{"w0 = 1 ll", 1, 1, "64-bit register"},
		{"lddw %r0, 0x10000000000000000", 1, 11, "invalid number"},
		{"ja NOT_A_LABEL\nexit", 1, 4, `undefined label "NOT_A_LABEL"`},
		{"x: exit\nx: exit", 2, 1, `label "x" already defined on line 1`},
		{"w1 += r2", 1, 7, "wrong width"},
		{"if r1 > w2 goto +1", 1, 9, "wrong width"},
		{"r1 = bswap16 r2", 1, 14, "must be the same as r1"},
		{"w1 = be16 w1", 1, 1, "64-bit register"},
		{"r1 = *(u64 *)(w1 + 0)", 1, 15, "64-bit register"},
		{"w1 = *(u64 *)(r1 + 0)", 1, 1, "needs a 64-bit register"},
		{"*(u64 *)(r1 + 0) = w1", 1, 20, "expected a 64-bit register"},
		{"*(s8 *)(r1 + 0) = 1", 1, 3, "unsigned type"},
		{"r0 = *(u64 *)skb[1]", 1, 8, "packet loads take u8, u16 or u32"},
		{"r1 = *(u8 *)skb[1]", 1, 1, "packet loads always load r0"},
		{"goto +32768", 1, 6, "jump offset 32768 out of range"},
		{"r1 = 1 +", 1, 8, "unexpected"},
		{"exit 1", 1, 6, "unexpected"},
		{"r0 = cmpxchg_64(r1 + 0, r2, r3)", 1, 25, "must be the same as r0"},
		{"r1 = cmpxchg_64(r1 + 0, r0, r3)", 1, 1, "r0"},
		{"r2 = xchg_64(r1 + 0, r3)", 1, 22, "must be the same as r2"},
		{"r2 = atomic_fetch_nand((u64 *)(r1 + 0), r2)", 1, 6, "unknown operation"},
		{"r2 = atomic_fetch_add((u8 *)(r1 + 0), r2)", 1, 24, "u32 or u64"},
		{"w2 = atomic_fetch_add((u64 *)(r1 + 0), w2)", 1, 1, "64-bit atomic"},
		{"r2 = addr_space_cast(r1, 0, 65536)", 1, 29, "address space 65536 out of range"},
		{"ld_pseudo r1, 7, 0", 1, 15, "pseudo source 7 out of range"},
		{"r0 = 1 @", 1, 8, "unexpected character '@'"},
		{".data", 1, 1, "unknown directive .data"},
		{"goto r1", 1, 6, "found register r1"},
		{"r1: exit", 1, 1, "name of a register"},
		{"if r1 ~ 3 goto +1", 1, 7, "unexpected character"},
		{"if r1 = 3 goto +1", 1, 7, "comparison operator"},
		{"r1 = (s64)r2", 1, 7, "sign-extension type"},
		{"w1 = (s32)w2", 1, 7, "s8 or s16"},
		{"call kfunc x", 1, 12, `unexpected "x"`},
		{"-- Unknown directive", 1, 1, "unknown instruction"},
	} {
		t.Run(tc.src, func(t *testing.T) {
			_, err := asm.Assemble("t.s", tc.src)
			var ae *asm.Error
			require.ErrorAs(t, err, &ae)
			require.Equal(t, "t.s", ae.File)
			require.Equal(t, tc.line, ae.Line, "line: %v", err)
			require.Equal(t, tc.col, ae.Col, "col: %v", err)
			require.Contains(t, ae.Msg, tc.msg)
			require.Contains(t, err.Error(), "t.s:")
		})
	}
}

func TestJumpOutOfRange(t *testing.T) {
	// A label 40000 slots away does not fit a 16-bit offset, but fits gotol.
	src := "goto far\n" + repeat("r0 = 0\n", 40000) + "far: exit\n"
	_, err := asm.Assemble("far.s", src)
	var ae *asm.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, 1, ae.Line)
	require.Equal(t, 6, ae.Col)
	require.Contains(t, ae.Msg, "beyond the 16-bit offset")

	insns, err := asm.Assemble("far.s", "gotol far\n"+repeat("r0 = 0\n", 40000)+"far: exit\n")
	require.NoError(t, err)
	require.Equal(t, isa.Gotol(40000), insns[0])
}

func repeat(s string, n int) string {
	b := make([]byte, 0, len(s)*n)
	for range n {
		b = append(b, s...)
	}
	return string(b)
}
