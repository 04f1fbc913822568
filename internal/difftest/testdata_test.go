package difftest

import (
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm"
	"github.com/ebpfvm/ebpfvm/internal/kerneltest"
	"github.com/ebpfvm/ebpfvm/kernel"
)

// TestTestdataAgainstKernel runs every program of the testdata objects in
// the kernel and in every engine on a set of packets and compares r0, the
// packet and the maps. Programs the kernel cannot run alone are left out,
// with the reason.
func TestTestdataAgainstKernel(t *testing.T) {
	kerneltest.Require(t)
	objects, err := filepath.Glob("../../testdata/*.o")
	require.NoError(t, err)
	require.NotEmpty(t, objects)
	packets := map[string][]byte{
		"zero64":     make([]byte, 64),
		"tcp80":      packet(t, layers.IPProtocolTCP, 80, false),
		"tcp23":      packet(t, layers.IPProtocolTCP, 23, false),
		"udp53":      packet(t, layers.IPProtocolUDP, 53, false),
		"tcp6-443":   packet(t, layers.IPProtocolTCP, 443, true),
		"odd-length": make([]byte, 65),
	}
	// Programs whose comparison needs what a kernel.Spec cannot hold.
	skip := map[string]string{
		"tail_entry": "a tail call into another program of the object",
		"map_in_map": "an array of maps filled in the object",
	}
	compared := 0
	for _, obj := range objects {
		spec, err := ebpfvm.LoadCollectionSpec(obj)
		require.NoError(t, err)
		for _, name := range spec.ProgramNames() {
			ps := spec.Programs[name]
			t.Run(filepath.Base(obj)+"/"+name, func(t *testing.T) {
				if why, ok := skip[name]; ok {
					t.Skipf("not compared: %s", why)
				}
				if ps.Type == nil || ps.Type.Name() == "raw" {
					t.Skipf("not compared: a %s program's context is caller memory, which the kernel runs only in syscall programs", ps.KernelType)
				}
				ks, err := KernelSpec(spec, name)
				require.NoError(t, err)
				for pname, pkt := range packets {
					c := &Case{Spec: ks, Input: kernel.Input{Data: pkt, Context: kernel.DefaultContext(ks.Program.Type)}}
					r, err := Run(c, nil)
					require.NoError(t, err, pname)
					require.True(t, r.Kernel.Loaded, "%s: the kernel refused the program: %s", pname, r.Kernel.LoadError)
					require.Empty(t, r.Diffs, "%s:\n%s", pname, FormatReport(r))
					compared++
				}
			})
		}
	}
	t.Logf("%d program runs compared with the kernel", compared)
}

// packet builds an Ethernet frame with an IPv4 or IPv6 header and a TCP or
// UDP header to port.
func packet(t *testing.T, proto layers.IPProtocol, port uint16, v6 bool) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 1}, DstMAC: []byte{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	var ip gopacket.NetworkLayer
	var ipl gopacket.SerializableLayer
	if v6 {
		eth.EthernetType = layers.EthernetTypeIPv6
		l := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: make([]byte, 16), DstIP: make([]byte, 16)}
		ip, ipl = l, l
	} else {
		l := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: []byte{10, 0, 0, 1}, DstIP: []byte{10, 0, 0, 2}}
		ip, ipl = l, l
	}
	var l4 gopacket.SerializableLayer
	switch proto {
	case layers.IPProtocolTCP:
		tcp := &layers.TCP{SrcPort: 40000, DstPort: layers.TCPPort(port), SYN: true, Window: 1000}
		require.NoError(t, tcp.SetNetworkLayerForChecksum(ip))
		l4 = tcp
	default:
		udp := &layers.UDP{SrcPort: 40000, DstPort: layers.UDPPort(port)}
		require.NoError(t, udp.SetNetworkLayerForChecksum(ip))
		l4 = udp
	}
	buf := gopacket.NewSerializeBuffer()
	require.NoError(t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ipl, l4, gopacket.Payload(make([]byte, 20))))
	return buf.Bytes()
}
