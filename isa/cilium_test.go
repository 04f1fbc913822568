package isa_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	cilium "github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/require"
)

// fields is an instruction as raw wire fields, the common ground on which
// cilium/ebpf's decoding and ours are compared.
type fields struct {
	Opcode   uint8
	Dst, Src uint8
	Offset   int16
	Imm      int64 // for lddw, the 64-bit constant
}

// ciliumFields undoes cilium/ebpf's normalisations: it folds the signed
// div/mod and movsx offsets, and the atomic operation, into extension bits
// of its OpCode; the low byte stays the wire opcode.
func ciliumFields(ins cilium.Instruction) fields {
	f := fields{Opcode: uint8(ins.OpCode), Dst: uint8(ins.Dst), Src: uint8(ins.Src), Offset: ins.Offset, Imm: ins.Constant}
	if ins.OpCode.Class().IsALU() {
		switch ins.OpCode.ALUOp() {
		case cilium.SDiv, cilium.SMod:
			f.Offset = 1
		case cilium.MovSX8:
			f.Offset = 8
		case cilium.MovSX16:
			f.Offset = 16
		case cilium.MovSX32:
			f.Offset = 32
		}
	}
	return f
}

// TestCiliumAgrees decodes the random valid instructions with cilium/ebpf's
// asm package too and checks both read the same fields.
func TestCiliumAgrees(t *testing.T) {
	insns := randomInstructions(1, llvmNumInstructions)
	platformTagged := 0
	for i, ins := range insns {
		b := encode(t, ins)
		var ci cilium.Instruction
		err := ci.Unmarshal(bytes.NewReader(b), binary.LittleEndian, "linux")
		// cilium/ebpf keeps the top bits of a helper id for a platform tag
		// and refuses ids from 2^28 up: a documented difference, not ours.
		if ins.IsHelperCall() && ins.Imm >= 1<<28 {
			require.Error(t, err, "cilium accepted helper %d", ins.Imm)
			platformTagged++
			continue
		}
		require.NoError(t, err, "instruction %d: %s (% x)", i, ins, b)
		want := fields{Opcode: uint8(ins.Opcode), Dst: uint8(ins.Dst), Src: uint8(ins.Src), Offset: ins.Offset, Imm: ins.Imm}
		require.Equal(t, want, ciliumFields(ci), "instruction %d: %s (% x)", i, ins, b)
	}
	t.Logf("cilium/ebpf agrees on %d of %d random instructions; %d helper calls with ids >= 2^28 refused by cilium (platform tag bits)",
		len(insns)-platformTagged, len(insns), platformTagged)
}
