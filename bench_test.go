package ebpfvm

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/progtype"
)

// BenchmarkRunXDP runs the XDP parser of testdata on a 64-byte packet: the
// per-run cost of a small packet program through the facade.
func BenchmarkRunXDP(b *testing.B) {
	spec, err := LoadCollectionSpec("testdata/xdp_parse.o")
	require.NoError(b, err)
	coll, err := NewCollection(spec, nil)
	require.NoError(b, err)
	defer coll.Close()
	p := coll.Programs["xdp_parse"]
	pkt := tcpPacket(b, 80)
	opts := &RunOptions{Data: pkt, AnyCPU: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Run(opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunRaw runs a two-instruction raw program: the fixed cost of a run.
func BenchmarkRunRaw(b *testing.B) {
	coll, err := NewCollection(NewProgramSpec("p", progtype.Raw, []isa.Instruction{isa.ALUMov.Imm(isa.R0, 1), isa.Return()}), nil)
	require.NoError(b, err)
	defer coll.Close()
	p := coll.Programs["p"]
	opts := &RunOptions{Data: make([]byte, 32), AnyCPU: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Run(opts); err != nil {
			b.Fatal(err)
		}
	}
}
