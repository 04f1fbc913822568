package progtype

import (
	"encoding/binary"
	"fmt"

	"github.com/ebpfvm/ebpfvm/vm"
)

// SkbLayout is struct __sk_buff (Linux 6.18's, 192 bytes) with the access
// rules of a socket filter (cb[0..4] form one 20-byte array accessed at any
// size), extended with direct packet access: data and
// data_end read as packet pointers, which the kernel offers to tc programs
// but not to socket filters (those use ld_abs or bpf_skb_load_bytes). Only
// cb[0..4] are writable. Fields user space has no meaning for read as 0.
var SkbLayout = &Layout{
	Name: "__sk_buff",
	Size: 192,
	Fields: []Field{
		{Name: "len", Offset: 0, Size: 4, Read: true, Narrow: true},
		{Name: "pkt_type", Offset: 4, Size: 4, Read: true, Narrow: true},
		{Name: "mark", Offset: 8, Size: 4, Read: true, Narrow: true},
		{Name: "queue_mapping", Offset: 12, Size: 4, Read: true, Narrow: true},
		{Name: "protocol", Offset: 16, Size: 4, Read: true, Narrow: true},
		{Name: "vlan_present", Offset: 20, Size: 4, Read: true, Narrow: true},
		{Name: "vlan_tci", Offset: 24, Size: 4, Read: true, Narrow: true},
		{Name: "vlan_proto", Offset: 28, Size: 4, Read: true, Narrow: true},
		{Name: "priority", Offset: 32, Size: 4, Read: true, Narrow: true},
		{Name: "ingress_ifindex", Offset: 36, Size: 4, Read: true, Narrow: true},
		{Name: "ifindex", Offset: 40, Size: 4, Read: true, Narrow: true},
		{Name: "tc_index", Offset: 44, Size: 4, Read: true, Narrow: true},
		{Name: "cb[0]", Offset: 48, Size: 4, Read: true, Write: true, Bytes: true},
		{Name: "cb[1]", Offset: 52, Size: 4, Read: true, Write: true, Bytes: true},
		{Name: "cb[2]", Offset: 56, Size: 4, Read: true, Write: true, Bytes: true},
		{Name: "cb[3]", Offset: 60, Size: 4, Read: true, Write: true, Bytes: true},
		{Name: "cb[4]", Offset: 64, Size: 4, Read: true, Write: true, Bytes: true},
		{Name: "hash", Offset: 68, Size: 4, Read: true, Narrow: true},
		{Name: "tc_classid", Offset: 72, Size: 4},
		{Name: "data", Offset: 76, Size: 4, Kind: FieldPacketData, Read: true},
		{Name: "data_end", Offset: 80, Size: 4, Kind: FieldPacketEnd, Read: true},
		{Name: "napi_id", Offset: 84, Size: 4, Read: true, Narrow: true},
		{Name: "family", Offset: 88, Size: 4},
		{Name: "remote_ip4", Offset: 92, Size: 4},
		{Name: "local_ip4", Offset: 96, Size: 4},
		{Name: "remote_ip6", Offset: 100, Size: 16},
		{Name: "local_ip6", Offset: 116, Size: 16},
		{Name: "remote_port", Offset: 132, Size: 4},
		{Name: "local_port", Offset: 136, Size: 4},
		{Name: "data_meta", Offset: 140, Size: 4},
		{Name: "flow_keys", Offset: 144, Size: 8},
		{Name: "tstamp", Offset: 152, Size: 8},
		{Name: "wire_len", Offset: 160, Size: 4},
		{Name: "gso_segs", Offset: 164, Size: 4, Read: true, Narrow: true},
		{Name: "sk", Offset: 168, Size: 8, Kind: FieldNull, Read: true},
		{Name: "gso_size", Offset: 176, Size: 4, Read: true, Narrow: true},
		{Name: "tstamp_type", Offset: 180, Size: 1},
		{Name: "hwtstamp", Offset: 184, Size: 8},
	},
}

// SocketFilter is the socket filter program type: r1 points to a
// struct __sk_buff; the packet is read with ld_abs/ld_ind,
// bpf_skb_load_bytes, or directly between data and data_end. The return
// value is the number of bytes to keep (0 drops the packet).
var SocketFilter Type = skbType{}

type skbType struct{}

var skbHelpers = newHelperSet(baseHelpers, []int32{
	25, // perf_event_output
	26, // skb_load_bytes
	68, // skb_load_bytes_relative
})

func (skbType) Name() string                { return "socket_filter" }
func (skbType) Layout() *Layout             { return SkbLayout }
func (skbType) HelperAllowed(id int32) bool { return skbHelpers.has(id) }

func (skbType) Describe(r0 uint64) string {
	if uint32(r0) == 0 {
		return "drop"
	}
	return fmt.Sprintf("keep %d bytes", uint32(r0))
}

// Setup installs the packet (as given: for an AF_PACKET socket, from the
// Ethernet header on) and the __sk_buff. The caller may set what
// BPF_PROG_TEST_RUN lets it set (mark, priority, ingress_ifindex, ifindex,
// cb, gso_segs, gso_size) and also protocol, pkt_type, vlan_* and hash,
// which the kernel derives from the frame; len is the packet's length.
func (skbType) Setup(m *vm.Machine, in *Input) (*Run, error) {
	buf, err := setupPacket(m, in.Data, 0, 0, 0)
	if err != nil {
		return nil, err
	}
	settable := map[string]bool{"mark": true, "priority": true, "ingress_ifindex": true, "ifindex": true,
		"cb[0]": true, "cb[1]": true, "cb[2]": true, "cb[3]": true, "cb[4]": true, "gso_segs": true, "gso_size": true,
		"protocol": true, "pkt_type": true, "vlan_present": true, "vlan_tci": true, "vlan_proto": true, "hash": true,
		"queue_mapping": true, "tc_index": true, "napi_id": true}
	ctx, err := setupContext(m, SkbLayout, in.Context, func(f *Field) bool { return settable[f.Name] })
	if err != nil {
		return nil, err
	}
	binary.LittleEndian.PutUint32(ctx.mem[0:], uint32(len(in.Data)))
	return newRun(m, [5]uint64{vm.Addr(vm.RegionContext, 0)}, buf, ctx, false), nil
}
