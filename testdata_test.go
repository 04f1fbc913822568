package ebpfvm

import (
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/require"

	ebpfmaps "github.com/ebpfvm/ebpfvm/maps"
)

// TestTestdataObjects loads every object of testdata/ and runs its programs
// on a 64-byte zero packet (or zero context), checking r0.
func TestTestdataObjects(t *testing.T) {
	zero := make([]byte, 64)
	tests := []struct {
		object, program string
		input           []byte
		want            uint64
	}{
		{"maps.o", "array_ops", zero, 5},
		{"maps.o", "hash_ops", zero, 31},
		{"maps.o", "percpu_ops", zero, 1},
		{"maps.o", "lru_ops", zero, 2 * 64},
		{"maps.o", "queue_stack", zero, 113},
		{"legacy.o", "legacy_count", zero, 1},
		{"globals.o", "globals", zero, 34},
		{"globals.o", "strings", zero, 3},
		{"subprog.o", "subprog_calls", zero, 472},
		{"subprog.o", "subprog_shared", zero, 129},
		{"loops.o", "loop_for", zero, 187360357},
		{"loops.o", "loop_bpf_loop", zero, 2470020},
		{"ringbuf.o", "ringbuf_output", zero, 2},
		{"tailcall.o", "tail_entry", zero, 100},
		{"tailcall.o", "tail_entry", make([]byte, 65), 200},
		{"tailcall.o", "tail_even", zero, 100},
		{"tailcall.o", "tail_odd", zero, 200},
		{"map_in_map.o", "map_in_map", zero, 1},
		{"histogram.o", "hist_skb", zero, 6},
		{"histogram.o", "hist_event", make([]byte, 8), 0},
		{"policy.o", "policy", make([]byte, 24), 1},
		{"xdp_parse.o", "xdp_parse", zero, 2},
		{"xdp_parse.o", "xdp_parse", tcpPacket(t, 23), 1},
		{"socket_parse.o", "socket_parse", zero, 64},
		{"socket_parse.o", "socket_parse", tcpPacket(t, 23), 0},
		{"xdp_tx.o", "xdp_tx", zero, 3},
		{"core.o", "core_ttl", zero, 0},
		{"core.o", "core_ttl", tcpPacket(t, 80), 64},
	}
	for _, tt := range tests {
		t.Run(tt.object+"/"+tt.program, func(t *testing.T) {
			spec, err := LoadCollectionSpec(filepath.Join("testdata", tt.object))
			require.NoError(t, err)
			coll, err := NewCollection(spec, &CollectionOptions{NumCPU: 2})
			require.NoError(t, err)
			defer coll.Close()
			p := coll.Programs[tt.program]
			require.NotNil(t, p, "programs: %v", spec.ProgramNames())
			r0, _, err := p.Test(tt.input)
			require.NoError(t, err)
			require.Equal(t, tt.want, r0)
		})
	}
}

func TestTestdataMapsAfterRuns(t *testing.T) {
	spec, err := LoadCollectionSpec("testdata/xdp_parse.o")
	require.NoError(t, err)
	coll, err := NewCollection(spec, nil)
	require.NoError(t, err)
	defer coll.Close()
	for range 3 {
		_, _, err := coll.Programs["xdp_parse"].Test(make([]byte, 64))
		require.NoError(t, err)
	}
	v, err := coll.Maps["proto_stats"].Lookup(binary.LittleEndian.AppendUint32(nil, 0))
	require.NoError(t, err)
	require.Equal(t, uint64(3), binary.LittleEndian.Uint64(v))

	// The .rodata of an object is read-only to programs and holds the
	// compiled-in values.
	ro := coll.Maps[".rodata"]
	require.NotNil(t, ro)
	require.NotZero(t, ro.Flags()&ebpfmaps.FlagRdonlyProg)
}

// tcpPacket builds an Ethernet/IPv4/TCP packet to the given port.
func tcpPacket(t testing.TB, port uint16) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	eth := &layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 1}, DstMAC: []byte{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: []byte{10, 0, 0, 1}, DstIP: []byte{10, 0, 0, 2}}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: layers.TCPPort(port), SYN: true, Window: 1000}
	require.NoError(t, tcp.SetNetworkLayerForChecksum(ip))
	require.NoError(t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp, gopacket.Payload(make([]byte, 10))))
	return buf.Bytes()
}
