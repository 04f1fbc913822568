// Command packetfilter runs an XDP firewall over a pcap file in user space:
// the program drops TCP and UDP packets to blocked ports and counts packets
// per protocol and verdict in a per-CPU map, which Go sums and prints with
// the throughput.
//
//	go run ./examples/packetfilter [-block 23,135] [capture.pcap]
//
// Without a file it writes a capture of synthetic traffic to a temporary
// file first and filters that, so the pcap path is exercised either way.
package main

import (
	_ "embed"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/ebpfvm/ebpfvm"
	"github.com/ebpfvm/ebpfvm/maps"
	"github.com/ebpfvm/ebpfvm/progtype"
)

// bpf/packetfilter.o is compiled from bpf/packetfilter.c by "make examples".
//
//go:embed bpf/packetfilter.o
var object []byte

// protocols names the stats keys of packetfilter.c (key = index*2 + dropped).
var protocols = []string{"other", "ARP", "TCP", "UDP", "ICMP", "ICMPv6", "IPv6 other", "IPv4 other"}

func main() {
	block := flag.String("block", "23,135,445", "comma-separated TCP/UDP destination ports to drop")
	packets := flag.Int("packets", 200_000, "packets in the synthetic capture (without a file)")
	flag.Parse()
	path := flag.Arg(0)
	if path == "" {
		f, err := os.CreateTemp("", "packetfilter-*.pcap")
		if err != nil {
			log.Fatal(err)
		}
		defer os.Remove(f.Name())
		if err := writeCapture(f, *packets); err != nil {
			log.Fatal(err)
		}
		f.Close()
		path = f.Name()
		fmt.Printf("wrote %d synthetic packets to %s\n", *packets, path)
	}
	if err := run(path, *block); err != nil {
		log.Fatal(err)
	}
}

func run(path, block string) error {
	spec, err := ebpfvm.LoadCollectionSpecFromBytes(object)
	if err != nil {
		return err
	}
	coll, err := ebpfvm.NewCollection(spec, nil)
	if err != nil {
		return err
	}
	defer coll.Close()
	for _, s := range strings.Split(block, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		port, err := strconv.ParseUint(s, 10, 16)
		if err != nil {
			return fmt.Errorf("-block: %w", err)
		}
		if err := maps.UpdateAs(coll.Maps["blocked"], uint16(port), uint8(1), maps.UpdateAny); err != nil {
			return err
		}
	}
	prog := coll.Programs["filter"]
	if prog.Type() != progtype.XDP {
		return fmt.Errorf("want an XDP program, got %s", prog.Type().Name())
	}

	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var n, bytes int
	start := time.Now()
	for {
		data, _, err := r.ZeroCopyReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: packet %d: %w", path, n, err)
		}
		if _, err := prog.Run(&ebpfvm.RunOptions{Data: data, AnyCPU: true}); err != nil {
			return fmt.Errorf("packet %d: %w", n, err)
		}
		n++
		bytes += len(data)
	}
	elapsed := time.Since(start)

	fmt.Printf("\n%-12s %10s %10s\n", "protocol", "passed", "dropped")
	for i, name := range protocols {
		pass, drop := sumPerCPU(coll.Maps["stats"], uint32(2*i)), sumPerCPU(coll.Maps["stats"], uint32(2*i+1))
		if pass+drop > 0 {
			fmt.Printf("%-12s %10d %10d\n", name, pass, drop)
		}
	}
	fmt.Printf("\n%d packets (%.1f MB) in %v: %.2f M packets/s, %.0f MB/s, including reading the capture\n",
		n, float64(bytes)/1e6, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds()/1e6, float64(bytes)/elapsed.Seconds()/1e6)
	return nil
}

// sumPerCPU adds up the per-CPU values of a counter.
func sumPerCPU(m *ebpfvm.Map, key uint32) uint64 {
	values, err := m.LookupPerCPU(binary.LittleEndian.AppendUint32(nil, key))
	if err != nil {
		return 0
	}
	var sum uint64
	for _, v := range values {
		sum += binary.LittleEndian.Uint64(v)
	}
	return sum
}

// writeCapture writes n packets of mixed synthetic traffic: web and DNS,
// some telnet and SMB to blocked ports, pings, ARP and IPv6.
func writeCapture(w io.Writer, n int) error {
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(7, 11))
	src, dst := []byte{2, 0, 0, 0, 0, 1}, []byte{2, 0, 0, 0, 0, 2}
	ts := time.Unix(1_700_000_000, 0)
	for i := range n {
		eth := &layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: layers.EthernetTypeIPv4}
		ip4 := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, SrcIP: []byte{10, 0, byte(i >> 8), byte(i)}, DstIP: []byte{192, 168, 1, 10}}
		ip6 := &layers.IPv6{Version: 6, HopLimit: 64, SrcIP: make([]byte, 16), DstIP: make([]byte, 16)}
		payload := gopacket.Payload(make([]byte, 64+rng.IntN(1200)))
		var ls []gopacket.SerializableLayer
		switch r := rng.IntN(100); {
		case r < 45:
			ip4.Protocol = layers.IPProtocolTCP
			ls = []gopacket.SerializableLayer{eth, ip4, &layers.TCP{SrcPort: layers.TCPPort(30000 + rng.IntN(30000)), DstPort: 443, ACK: true, Window: 512}, payload}
		case r < 65:
			ip4.Protocol = layers.IPProtocolUDP
			ls = []gopacket.SerializableLayer{eth, ip4, &layers.UDP{SrcPort: 53000, DstPort: 53}, payload[:min(len(payload), 80)]}
		case r < 70:
			ip4.Protocol = layers.IPProtocolTCP
			ls = []gopacket.SerializableLayer{eth, ip4, &layers.TCP{SrcPort: 40000, DstPort: 23, SYN: true, Window: 512}}
		case r < 75:
			ip4.Protocol = layers.IPProtocolTCP
			ls = []gopacket.SerializableLayer{eth, ip4, &layers.TCP{SrcPort: 40001, DstPort: 445, SYN: true, Window: 512}}
		case r < 82:
			ip4.Protocol = layers.IPProtocolICMPv4
			ls = []gopacket.SerializableLayer{eth, ip4, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0)}, payload[:56]}
		case r < 87:
			eth.EthernetType = layers.EthernetTypeARP
			ls = []gopacket.SerializableLayer{eth, &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
				Operation: layers.ARPRequest, SourceHwAddress: src, SourceProtAddress: []byte{10, 0, 0, 1}, DstHwAddress: make([]byte, 6), DstProtAddress: []byte{10, 0, 0, 2}}}
		default:
			eth.EthernetType = layers.EthernetTypeIPv6
			ip6.NextHeader = layers.IPProtocolTCP
			ls = []gopacket.SerializableLayer{eth, ip6, &layers.TCP{SrcPort: 50000, DstPort: 443, ACK: true, Window: 512}, payload}
		}
		if len(ls) > 2 {
			if t, ok := ls[2].(interface {
				SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
			}); ok {
				var nl gopacket.NetworkLayer = ip4
				if eth.EthernetType == layers.EthernetTypeIPv6 {
					nl = ip6
				}
				if err := t.SetNetworkLayerForChecksum(nl); err != nil {
					return err
				}
			}
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
			return err
		}
		data := buf.Bytes()
		ts = ts.Add(time.Duration(rng.IntN(1000)) * time.Microsecond)
		if err := pw.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(data), Length: len(data)}, data); err != nil {
			return err
		}
	}
	return nil
}
