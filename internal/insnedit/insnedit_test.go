package insnedit

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm/isa"
)

func TestApply(t *testing.T) {
	mov := func(r isa.Register, v int32) isa.Instruction { return isa.ALUMov.Imm(r, v) }
	tests := []struct {
		name   string
		in     []isa.Instruction
		keep   func(int) bool
		before map[int][]isa.Instruction
		want   []isa.Instruction
		index  []int
	}{
		{
			name:  "delete inside a forward branch",
			in:    []isa.Instruction{isa.JumpEq.Imm(isa.R1, 0, 2), mov(isa.R0, 1), mov(isa.R0, 2), isa.Return()},
			keep:  func(i int) bool { return i != 1 },
			want:  []isa.Instruction{isa.JumpEq.Imm(isa.R1, 0, 1), mov(isa.R0, 2), isa.Return()},
			index: []int{0, -1, 1, 2},
		},
		{
			name:  "deleted target lands on the next instruction",
			in:    []isa.Instruction{isa.JumpEq.Imm(isa.R1, 0, 1), mov(isa.R0, 1), mov(isa.R0, 2), isa.Return()},
			keep:  func(i int) bool { return i != 2 },
			want:  []isa.Instruction{isa.JumpEq.Imm(isa.R1, 0, 1), mov(isa.R0, 1), isa.Return()},
			index: []int{0, 1, -1, 2},
		},
		{
			name:   "insertion before a target takes the branch",
			in:     []isa.Instruction{isa.JumpEq.Imm(isa.R1, 0, 1), mov(isa.R0, 1), isa.Return()},
			before: map[int][]isa.Instruction{2: {isa.LoadImm64(isa.R2, 1<<40), mov(isa.R3, 3)}},
			want:   []isa.Instruction{isa.JumpEq.Imm(isa.R1, 0, 1), mov(isa.R0, 1), isa.LoadImm64(isa.R2, 1<<40), mov(isa.R3, 3), isa.Return()},
			index:  []int{0, 1, 4},
		},
		{
			name:   "backward branch over a lddw insertion",
			in:     []isa.Instruction{mov(isa.R1, 0), isa.ALUAdd.Imm(isa.R1, 1), isa.JumpLT.Imm(isa.R1, 4, -2), isa.Return()},
			before: map[int][]isa.Instruction{2: {isa.LoadImm64(isa.R2, 5)}},
			want:   []isa.Instruction{mov(isa.R1, 0), isa.ALUAdd.Imm(isa.R1, 1), isa.LoadImm64(isa.R2, 5), isa.JumpLT.Imm(isa.R1, 4, -4), isa.Return()},
			index:  []int{0, 1, 3, 4},
		},
		{
			name:   "local call over an insertion",
			in:     []isa.Instruction{isa.LocalCall(1), isa.Return(), mov(isa.R0, 1), isa.Return()},
			before: map[int][]isa.Instruction{1: {mov(isa.R5, 5)}},
			want:   []isa.Instruction{isa.LocalCall(2), mov(isa.R5, 5), isa.Return(), mov(isa.R0, 1), isa.Return()},
			index:  []int{0, 2, 3, 4},
		},
		{
			name:   "appended code",
			in:     []isa.Instruction{mov(isa.R0, 1), isa.Return()},
			before: map[int][]isa.Instruction{2: {isa.Return()}},
			want:   []isa.Instruction{mov(isa.R0, 1), isa.Return(), isa.Return()},
			index:  []int{0, 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, index, err := Apply(tt.in, tt.keep, tt.before)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.index, index)
		})
	}
}

func TestApplyErrors(t *testing.T) {
	in := []isa.Instruction{isa.JumpEq.Imm(isa.R1, 0, 1), isa.ALUMov.Imm(isa.R0, 1), isa.Return()}
	_, _, err := Apply(in, func(i int) bool { return i != 2 }, nil)
	require.ErrorContains(t, err, "was deleted and nothing follows it")

	bad := []isa.Instruction{isa.JumpEq.Imm(isa.R1, 0, 7), isa.Return()}
	_, _, err = Apply(bad, nil, nil)
	require.ErrorContains(t, err, "not an instruction")
}

func TestFunctions(t *testing.T) {
	in := []isa.Instruction{isa.LocalCall(2), isa.ALUMov.Imm(isa.R0, 0), isa.Return(), isa.ALUMov.Imm(isa.R0, 1), isa.Return()}
	require.Equal(t, []int{0, 3}, Functions(in))
	require.Equal(t, []int{0}, Functions(in[1:3]))
}
