package progen

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/kernel"
	ebpfmaps "github.com/ebpfvm/ebpfvm/maps"
)

func TestGeneratedProgramsArePointerSafe(t *testing.T) {
	for i := range 2000 {
		p := Generate(7, i, Config{})
		require.NoError(t, PointerSafe(p.Spec), "program %d:\n%s", i, isa.Listing(p.Spec.Program.Instructions))
	}
}

func TestPointerSafe(t *testing.T) {
	mapValue := isa.LoadPseudo(isa.R1, isa.PseudoMapValue, 0, 0)
	tests := []struct {
		name  string
		typ   string
		insns []isa.Instruction
		leak  string // "" if safe
	}{
		{"scalar result", kernel.TypeXDP, []isa.Instruction{isa.ALUMov.Imm(isa.R0, 1), isa.Return()}, ""},
		{"ctx in r0", kernel.TypeXDP, []isa.Instruction{isa.ALUMov.Reg(isa.R0, isa.R1), isa.Return()}, "returned in r0"},
		{"map value in r0", kernel.TypeXDP, []isa.Instruction{mapValue, isa.ALUMov.Reg(isa.R0, isa.R1), isa.Return()}, "returned in r0"},
		{"packet length is a number", kernel.TypeXDP, []isa.Instruction{
			isa.Load(isa.R2, isa.R1, 0, isa.SizeW), isa.Load(isa.R0, isa.R1, 4, isa.SizeW), isa.ALUSub.Reg(isa.R0, isa.R2), isa.Return()}, ""},
		{"low half of a pointer", kernel.TypeXDP, []isa.Instruction{isa.Instruction{Opcode: isa.ALUOpcode(isa.ClassALU, isa.ALUMov, isa.SourceX), Dst: isa.R0, Src: isa.R10}, isa.Return()}, "returned in r0"},
		{"pointer stored in a map", kernel.TypeXDP, []isa.Instruction{mapValue, isa.Store(isa.R1, 0, isa.R10, isa.SizeDW), isa.ALUMov.Imm(isa.R0, 0), isa.Return()}, "stored into memory"},
		{"pointer spilled and reloaded", kernel.TypeXDP, []isa.Instruction{
			isa.Store(isa.R10, -8, isa.R1, isa.SizeDW), isa.Load(isa.R0, isa.R10, -8, isa.SizeDW), isa.Return()}, "returned in r0"},
		{"pointer spilled, scalar reloaded", kernel.TypeXDP, []isa.Instruction{
			isa.Store(isa.R10, -8, isa.R1, isa.SizeDW), isa.StoreImm(isa.R10, -16, 3, isa.SizeDW), isa.Load(isa.R0, isa.R10, -16, isa.SizeDW), isa.Return()}, ""},
		{"branch on a pointer", kernel.TypeXDP, []isa.Instruction{
			isa.ALUMov.Imm(isa.R0, 0), isa.JumpGT.Imm(isa.R1, 5, 1), isa.ALUMov.Imm(isa.R0, 1), isa.Return()}, "decides a branch"},
		{"NULL check", kernel.TypeXDP, []isa.Instruction{
			isa.ALUMov.Imm(isa.R0, 0), isa.JumpEq.Imm(isa.R1, 0, 1), isa.ALUMov.Imm(isa.R0, 1), isa.Return()}, ""},
		{"pointer on one path only", kernel.TypeXDP, []isa.Instruction{
			isa.ALUMov.Imm(isa.R0, 0), isa.JumpEq.Imm(isa.R0, 0, 1), isa.ALUMov.Reg(isa.R0, isa.R10), isa.Return()}, "returned in r0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := &kernel.Spec{Program: &kernel.Program{Type: tt.typ, Instructions: tt.insns}}
			err := PointerSafe(spec)
			if tt.leak == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tt.leak)
			}
		})
	}
}

func TestPointerSafeUninitialisedStack(t *testing.T) {
	tests := []struct {
		name  string
		insns []isa.Instruction
		want  string
	}{
		{"read before write", []isa.Instruction{isa.Load(isa.R0, isa.R10, -8, isa.SizeDW), isa.Return()}, "uninitialised"},
		{"wider than written", []isa.Instruction{isa.StoreImm(isa.R10, -8, 1, isa.SizeW), isa.Load(isa.R0, isa.R10, -8, isa.SizeDW), isa.Return()}, "uninitialised"},
		{"written", []isa.Instruction{isa.StoreImm(isa.R10, -8, 1, isa.SizeW), isa.Load(isa.R0, isa.R10, -8, isa.SizeW), isa.Return()}, ""},
		{"written on one path only", []isa.Instruction{
			isa.ALUMov.Imm(isa.R0, 0), isa.JumpEq.Imm(isa.R0, 0, 1), isa.StoreImm(isa.R10, -8, 1, isa.SizeDW),
			isa.Load(isa.R0, isa.R10, -8, isa.SizeDW), isa.Return()}, "uninitialised"},
		{"map key never written", []isa.Instruction{
			isa.LoadPseudo(isa.R1, isa.PseudoMapFD, 0, 0), isa.ALUMov.Reg(isa.R2, isa.R10), isa.ALUAdd.Imm(isa.R2, -8),
			isa.HelperCall(helperMapDelete), isa.Return()}, "uninitialised"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := &kernel.Spec{Program: &kernel.Program{Type: kernel.TypeXDP, Instructions: tt.insns}}
			if tt.insns[0].IsLDDW() {
				spec.Program.References = map[int]kernel.Reference{0: {Map: "h"}}
				spec.Maps = map[string]*kernel.Map{"h": {Spec: ebpfmaps.Spec{KeySize: 4}}}
			}
			err := PointerSafe(spec)
			if tt.want == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tt.want)
			}
		})
	}
}
