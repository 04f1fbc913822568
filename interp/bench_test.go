package interp

import (
	"testing"

	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/progtype"
	"github.com/ebpfvm/ebpfvm/vm"
	"github.com/stretchr/testify/require"
)

// benchProgram runs insns over mem b.N times and reports nanoseconds and
// millions of instructions per second per executed instruction.
func benchProgram(b *testing.B, insns []isa.Instruction, mem []byte) {
	p, err := vm.NewProgram(insns, vm.ProgramOptions{})
	require.NoError(b, err)
	e := New(p)
	m := vm.NewMachine(nil)
	var executed uint64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		m.Reset()
		args, _, err := progtype.SetupRaw(m, mem)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Run(m, args[:]...); err != nil {
			b.Fatal(err)
		}
		executed += m.Executed
	}
	b.StopTimer()
	if executed > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(executed), "ns/insn")
		b.ReportMetric(float64(executed)/b.Elapsed().Seconds()/1e6, "Minsn/s")
	}
}

// aluLoop is a loop of 64-bit ALU operations over four independent
// accumulators, as compiled arithmetic code usually is: 16 instructions per
// iteration.
func aluLoop(iterations int32) []isa.Instruction {
	return []isa.Instruction{
		isa.ALUMov.Imm(isa.R0, 0),
		isa.ALUMov.Imm(isa.R2, 1),
		isa.ALUMov.Imm(isa.R3, 2),
		isa.ALUMov.Imm(isa.R4, 3),
		isa.ALUMov.Imm(isa.R5, 4),
		isa.ALUMov.Imm(isa.R1, iterations),
		isa.ALUAdd.Reg(isa.R2, isa.R1), // loop:
		isa.ALUXor.Imm(isa.R3, 0x5555),
		isa.ALUMul.Imm(isa.R4, 3),
		isa.ALULsh.Imm(isa.R5, 1),
		isa.ALUXor.Reg(isa.R2, isa.R5),
		isa.ALUAdd.Reg(isa.R3, isa.R1),
		isa.ALURsh.Imm(isa.R4, 1),
		isa.ALUOr.Imm(isa.R5, 1),
		isa.ALUSub.Reg(isa.R2, isa.R4),
		isa.ALUAnd.Imm(isa.R3, 0xffff),
		isa.ALUAdd.Imm(isa.R4, 7),
		isa.ALUXor.Reg(isa.R5, isa.R3),
		isa.ALUMov.Reg(isa.R0, isa.R2),
		isa.ALUAdd.Reg(isa.R0, isa.R3),
		isa.ALUSub.Imm(isa.R1, 1),
		isa.JumpNE.Imm(isa.R1, 0, -16),
		isa.Return(),
	}
}

// aluChain is a loop of 64-bit ALU operations in which every instruction
// depends on the previous one: it measures latency, not throughput.
func aluChain(iterations int32) []isa.Instruction {
	return []isa.Instruction{
		isa.ALUMov.Imm(isa.R0, 0),
		isa.ALUMov.Imm(isa.R1, iterations),
		isa.ALUAdd.Reg(isa.R0, isa.R1), // loop:
		isa.ALUXor.Imm(isa.R0, 0x5555),
		isa.ALUMul.Imm(isa.R0, 3),
		isa.ALUMov.Reg(isa.R2, isa.R0),
		isa.ALURsh.Imm(isa.R2, 3),
		isa.ALUAdd.Reg(isa.R0, isa.R2),
		isa.ALUSub.Imm(isa.R1, 1),
		isa.JumpNE.Imm(isa.R1, 0, -8),
		isa.Return(),
	}
}

func BenchmarkALULoop(b *testing.B) {
	benchProgram(b, aluLoop(100_000), nil)
}

func BenchmarkALUChain(b *testing.B) {
	benchProgram(b, aluChain(100_000), nil)
}

// fnv1a hashes the input memory (r1, r2) byte by byte with 64-bit FNV-1a.
func fnv1a() []isa.Instruction {
	return []isa.Instruction{
		isa.LoadImm64(isa.R0, -3750763034362895579), // offset basis 0xcbf29ce484222325
		isa.LoadImm64(isa.R4, 1099511628211),        // FNV prime
		isa.ALUMov.Reg(isa.R3, isa.R1),
		isa.ALUAdd.Reg(isa.R3, isa.R2), // r3 = end
		isa.JumpGE.Reg(isa.R1, isa.R3, 5),
		isa.Load(isa.R5, isa.R1, 0, isa.SizeB), // loop:
		isa.ALUXor.Reg(isa.R0, isa.R5),
		isa.ALUMul.Reg(isa.R0, isa.R4),
		isa.ALUAdd.Imm(isa.R1, 1),
		isa.JumpLT.Reg(isa.R1, isa.R3, -5),
		isa.Return(),
	}
}

func BenchmarkFNV1a64KiB(b *testing.B) {
	mem := make([]byte, 64<<10)
	for i := range mem {
		mem[i] = byte(i * 7)
	}
	benchProgram(b, fnv1a(), mem)
}

// callChain calls seven nested functions (the deepest chain the kernel
// allows), each adding to r0, iterations times.
func callChain(iterations int32) []isa.Instruction {
	insns := []isa.Instruction{
		isa.ALUMov.Imm(isa.R0, 0),
		isa.ALUMov.Imm(isa.R6, iterations),
		isa.LocalCall(3), // loop:
		isa.ALUSub.Imm(isa.R6, 1),
		isa.JumpNE.Imm(isa.R6, 0, -3),
		isa.Return(),
	}
	for depth := 1; depth <= 7; depth++ {
		insns = append(insns, isa.ALUAdd.Imm(isa.R0, 1))
		if depth < 7 {
			insns = append(insns, isa.LocalCall(1))
		}
		insns = append(insns, isa.Return())
	}
	return insns
}

func BenchmarkCallChain(b *testing.B) {
	benchProgram(b, callChain(10_000), nil)
}

// stackHeavy fills 64 stack slots and sums them back, repeatedly.
func stackHeavy(iterations int32) []isa.Instruction {
	insns := []isa.Instruction{
		isa.ALUMov.Imm(isa.R0, 0),
		isa.ALUMov.Imm(isa.R6, iterations),
	}
	body := []isa.Instruction{}
	for i := int16(1); i <= 32; i++ {
		body = append(body, isa.Store(isa.R10, -8*i, isa.R6, isa.SizeDW))
	}
	for i := int16(1); i <= 32; i++ {
		body = append(body, isa.Load(isa.R1, isa.R10, -8*i, isa.SizeDW), isa.ALUAdd.Reg(isa.R0, isa.R1))
	}
	body = append(body, isa.ALUSub.Imm(isa.R6, 1))
	body = append(body, isa.JumpNE.Imm(isa.R6, 0, int16(-len(body)-1)))
	insns = append(insns, body...)
	return append(insns, isa.Return())
}

func BenchmarkStackHeavy(b *testing.B) {
	benchProgram(b, stackHeavy(10_000), nil)
}
