package progtype

import (
	"fmt"

	"github.com/ebpfvm/ebpfvm/vm"
)

// XDP return codes.
const (
	XDPAborted  = 0
	XDPDrop     = 1
	XDPPass     = 2
	XDPTX       = 3
	XDPRedirect = 4
)

// XDP buffer geometry, as the kernel's BPF_PROG_TEST_RUN lays a packet out:
// XDP_PACKET_HEADROOM bytes before the data, of which struct xdp_frame
// occupies the first, and the skb_shared_info reservation at the end of the
// 4096-byte frame (larger packets get a larger buffer here, where the kernel
// would use fragments).
const (
	XDPHeadroom      = 256
	xdpFrameSize     = 40  // sizeof(struct xdp_frame)
	xdpSharedInfo    = 320 // SKB_DATA_ALIGN(sizeof(struct skb_shared_info))
	xdpFrameBytes    = 4096
	maxXDPMetaLength = 32
)

// XDPLayout is struct xdp_md. Every field is a read-only u32; data,
// data_end and data_meta read as packet pointers. egress_ifindex exists
// only for devmap programs, so it cannot be accessed.
var XDPLayout = &Layout{
	Name: "xdp_md",
	Size: 24,
	Fields: []Field{
		{Name: "data", Offset: 0, Size: 4, Kind: FieldPacketData, Read: true},
		{Name: "data_end", Offset: 4, Size: 4, Kind: FieldPacketEnd, Read: true},
		{Name: "data_meta", Offset: 8, Size: 4, Kind: FieldPacketMeta, Read: true},
		{Name: "ingress_ifindex", Offset: 12, Size: 4, Read: true},
		{Name: "rx_queue_index", Offset: 16, Size: 4, Read: true},
		{Name: "egress_ifindex", Offset: 20, Size: 4},
	},
}

// XDP is the XDP program type: r1 points to a struct xdp_md, the packet can
// be read and written directly between data and data_end, and moved with
// bpf_xdp_adjust_head/tail/meta. The return value is an XDP action.
var XDP Type = xdpType{}

type xdpType struct{}

var xdpHelpers = newHelperSet(baseHelpers, []int32{
	23,         // redirect
	25,         // perf_event_output (bpf_xdp_output's proto)
	44, 54, 65, // xdp_adjust_head, xdp_adjust_meta, xdp_adjust_tail
	188, 189, 190, // xdp_get_buff_len, xdp_load_bytes, xdp_store_bytes
})

func (xdpType) Name() string                { return "xdp" }
func (xdpType) Layout() *Layout             { return XDPLayout }
func (xdpType) HelperAllowed(id int32) bool { return xdpHelpers.has(id) }

func (xdpType) Describe(r0 uint64) string {
	switch r0 {
	case XDPAborted:
		return "XDP_ABORTED"
	case XDPDrop:
		return "XDP_DROP"
	case XDPPass:
		return "XDP_PASS"
	case XDPTX:
		return "XDP_TX"
	case XDPRedirect:
		return "XDP_REDIRECT"
	}
	return fmt.Sprintf("XDP_UNKNOWN(%d)", r0)
}

// Setup lays the packet out as the kernel does for BPF_PROG_TEST_RUN. The
// caller may set ingress_ifindex and rx_queue_index through in.Context.
func (xdpType) Setup(m *vm.Machine, in *Input) (*Run, error) {
	tail := xdpFrameBytes - XDPHeadroom - len(in.Data)
	if tail < xdpSharedInfo {
		tail = xdpSharedInfo
	}
	buf, err := setupPacket(m, in.Data, XDPHeadroom, tail, xdpFrameSize)
	if err != nil {
		return nil, err
	}
	// DataEnd may grow up to the shared-info reservation.
	m.PacketCeil = uint32(len(buf) - xdpSharedInfo)
	ctx, err := setupContext(m, XDPLayout, in.Context, func(f *Field) bool {
		return f.Name == "ingress_ifindex" || f.Name == "rx_queue_index"
	})
	if err != nil {
		return nil, err
	}
	return newRun(m, [5]uint64{vm.Addr(vm.RegionContext, 0)}, buf, ctx, false), nil
}
