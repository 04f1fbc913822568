package verifier

import (
	"testing"

	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/isa/asm"
	"github.com/ebpfvm/ebpfvm/maps"
	"github.com/ebpfvm/ebpfvm/progtype"
	"github.com/stretchr/testify/require"
)

// testMaps are the maps test programs refer to by number: the low word of
// a lddw with a map pseudo source ("ld_pseudo r1, 1, 0" is test map 0).
var testMaps = []*Map{
	{Name: "arr", Type: maps.Array, KeySize: 4, ValueSize: 8, MaxEntries: 4},
	{Name: "hash", Type: maps.Hash, KeySize: 4, ValueSize: 16, MaxEntries: 16},
	{Name: "rb", Type: maps.RingBuf, MaxEntries: 4096},
	{Name: "progs", Type: maps.ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 4},
	{Name: "rodata", Type: maps.Array, KeySize: 4, ValueSize: 16, MaxEntries: 1, Flags: maps.FlagRdonlyProg, Frozen: true,
		Value: []byte("%d\x00\x00\x07\x00\x00\x00hello\x00\x00\x00")},
	{Name: "pcpu", Type: maps.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 2},
	{Name: "data", Type: maps.Array, KeySize: 4, ValueSize: 64, MaxEntries: 1},
	{Name: "queue", Type: maps.Queue, ValueSize: 8, MaxEntries: 8},
	{Name: "outer", Type: maps.ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 2,
		Inner: &Map{Type: maps.Array, KeySize: 4, ValueSize: 8, MaxEntries: 4}},
}

// testProgram assembles src (LLVM syntax) into a program of type typ whose
// map lddws refer to testMaps.
func testProgram(t testing.TB, typ progtype.Type, src string) Program {
	t.Helper()
	insns, err := asm.Assemble("test.s", src)
	require.NoError(t, err)
	p := Program{Instructions: insns, Type: typ, Refs: map[int]Ref{}}
	for i, ins := range insns {
		if !ins.IsLDDW() {
			continue
		}
		switch ins.Src {
		case isa.PseudoMapFD, isa.PseudoMapValue, isa.PseudoMapIdx, isa.PseudoMapIdxValue:
			n := int(uint32(ins.Imm))
			if n < len(testMaps) {
				p.Refs[i] = Ref{Map: testMaps[n], Offset: int32(uint64(ins.Imm) >> 32)}
			}
		}
	}
	return p
}
