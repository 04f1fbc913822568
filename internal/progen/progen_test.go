package progen

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm/internal/insnedit"
	"github.com/ebpfvm/ebpfvm/internal/kerneltest"
	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/kernel"
)

func TestGenerateIsReproducible(t *testing.T) {
	for i := range 20 {
		a, b := Generate(9, i, Config{}), Generate(9, i, Config{})
		require.Equal(t, a, b)
	}
	require.NotEqual(t, Generate(9, 0, Config{}).Spec.Program.Instructions, Generate(9, 1, Config{}).Spec.Program.Instructions)
	require.NotEqual(t, Generate(9, 0, Config{}).Spec.Program.Instructions, Generate(10, 0, Config{}).Spec.Program.Instructions)
}

func TestGenerateWellFormed(t *testing.T) {
	for _, mix := range []Mix{MixALU, MixALU | MixJMP, MixMem | MixLoops, MixMaps, MixPacket | MixCtx, MixHelpers, MixCalls, MixAll} {
		for i := range 200 {
			p := Generate(3, i, Config{Mix: mix})
			insns := p.Spec.Program.Instructions
			_, err := isa.Encode(insns)
			require.NoError(t, err, "mix %s program %d", mix, i)
			// Every branch lands on an instruction, and the edit helper
			// (which checks that) accepts the program unchanged.
			same, _, err := insnedit.Apply(insns, nil, nil)
			require.NoError(t, err, "mix %s program %d", mix, i)
			require.Equal(t, insns, same)
			require.True(t, insns[len(insns)-1].IsExit())
			for j, ref := range p.Spec.Program.References {
				require.True(t, insns[j].IsLDDW())
				require.Contains(t, p.Spec.Maps, ref.Map)
			}
			live := reachable(insns)
			require.NotContains(t, live, false, "mix %s program %d has unreachable code", mix, i)
			require.NoError(t, PointerSafe(p.Spec), "mix %s program %d", mix, i)
			if p.Spec.Program.Type == kernel.TypeXDP {
				require.GreaterOrEqual(t, len(p.Input.Data), 14)
			}
		}
	}
}

func TestParseMix(t *testing.T) {
	tests := []struct {
		in   string
		want Mix
		err  string
	}{
		{"alu", MixALU, ""},
		{"alu,jmp,mem,maps,loops", MixALU | MixJMP | MixMem | MixMaps | MixLoops, ""},
		{" pkt , ctx ", MixPacket | MixCtx, ""},
		{"all", MixAll, ""},
		{"alu,nope", 0, "unknown instruction family"},
		{"", 0, "empty"},
	}
	for _, tt := range tests {
		got, err := ParseMix(tt.in)
		if tt.err != "" {
			require.ErrorContains(t, err, tt.err)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tt.want, got)
		back, err := ParseMix(got.String())
		require.NoError(t, err)
		require.Equal(t, got, back)
	}
}

func TestShrink(t *testing.T) {
	// The predicate stands for "still shows the bug": the program has a
	// 64-bit smod and every branch target is still an instruction.
	hasSmod := func(p *Program) bool {
		for _, ins := range p.Spec.Program.Instructions {
			if ins.Opcode == isa.ALUOpcode(isa.ClassALU64, isa.ALUMod, isa.SourceK) && ins.Offset == 1 {
				return true
			}
		}
		return false
	}
	for i := range 50 {
		p := Generate(5, i, Config{Mix: MixALU | MixJMP | MixMem})
		if !hasSmod(p) {
			continue
		}
		s := &Shrinker{Fails: hasSmod}
		small := s.Shrink(p)
		require.True(t, hasSmod(small))
		require.Len(t, small.Spec.Program.Instructions, 1, "%s", isa.Listing(small.Spec.Program.Instructions))
		require.Zero(t, small.Spec.Program.Instructions[0].Imm, "the divisor is simplified")
		require.Empty(t, small.Input.Data)
		require.Empty(t, small.Spec.Maps)
		return
	}
	t.Fatal("no generated program has an smod")
}

// TestKernelAcceptance measures how many generated programs the kernel's
// verifier accepts: nearly all of them, or campaigns test little.
func TestKernelAcceptance(t *testing.T) {
	kerneltest.Require(t)
	n, rejected := 400, 0
	for i := range n {
		p := Generate(1, i, Config{})
		_, err := kernel.Test(p.Spec, &p.Input, nil)
		var re *kernel.RejectedError
		if errors.As(err, &re) {
			rejected++
			t.Logf("program %d: %s", i, re.Reason)
			continue
		}
		require.NoError(t, err, "program %d", i)
	}
	require.LessOrEqual(t, rejected, n/100, "the kernel rejects %d of %d generated programs", rejected, n)
}
