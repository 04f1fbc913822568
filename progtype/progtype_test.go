package progtype

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm/vm"
)

func TestLayoutCheck(t *testing.T) {
	tests := []struct {
		name   string
		layout *Layout
		off    int
		size   int
		write  bool
		field  string // "" when the access must be refused
	}{
		{"xdp data", XDPLayout, 0, 4, false, "data"},
		{"xdp data_end", XDPLayout, 4, 4, false, "data_end"},
		{"xdp data narrow", XDPLayout, 0, 2, false, ""},
		{"xdp data wide", XDPLayout, 0, 8, false, ""},
		{"xdp ingress_ifindex", XDPLayout, 12, 4, false, "ingress_ifindex"},
		{"xdp write", XDPLayout, 12, 4, true, ""},
		{"xdp egress_ifindex", XDPLayout, 20, 4, false, ""},
		{"xdp past the end", XDPLayout, 24, 4, false, ""},
		{"xdp misaligned", XDPLayout, 2, 4, false, ""},
		{"xdp negative", XDPLayout, -4, 4, false, ""},
		{"skb len", SkbLayout, 0, 4, false, "len"},
		{"skb len narrow", SkbLayout, 0, 1, false, "len"},
		{"skb len narrow high half", SkbLayout, 2, 2, false, "len"},
		{"skb len write", SkbLayout, 0, 4, true, ""},
		{"skb cb write", SkbLayout, 52, 4, true, "cb[1]"},
		{"skb cb narrow write", SkbLayout, 52, 2, true, "cb[1]"},
		{"skb cb 8-byte", SkbLayout, 48, 8, true, "cb[0]"},
		{"skb cb 8-byte to the end", SkbLayout, 56, 8, true, "cb[2]"},
		{"skb cb 8-byte past cb[4]", SkbLayout, 64, 8, false, ""},
		{"skb cb misaligned", SkbLayout, 50, 4, false, ""},
		{"skb data", SkbLayout, 76, 4, false, "data"},
		{"skb data narrow", SkbLayout, 76, 2, false, ""},
		{"skb tc_classid", SkbLayout, 72, 4, false, ""},
		{"skb sk", SkbLayout, 168, 8, false, "sk"},
		{"skb sk narrow", SkbLayout, 168, 4, false, ""},
		{"skb family", SkbLayout, 88, 4, false, ""},
		{"odd size", SkbLayout, 0, 3, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := tt.layout.Check(tt.off, tt.size, tt.write)
			if tt.field == "" {
				var ae *AccessError
				require.ErrorAs(t, err, &ae)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.field, f.Name)
		})
	}
}

func TestXDPSetup(t *testing.T) {
	m := vm.NewMachine(nil)
	pkt := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	run, err := XDP.Setup(m, &Input{Data: pkt})
	require.NoError(t, err)
	require.Equal(t, uint32(XDPHeadroom), m.DataStart)
	require.Equal(t, uint32(XDPHeadroom+len(pkt)), m.DataEnd)
	require.Equal(t, m.DataStart, m.DataMeta)
	require.Equal(t, uint32(xdpFrameSize), m.PacketFloor)
	require.Equal(t, uint32(xdpFrameBytes-xdpSharedInfo), m.PacketCeil)
	require.Equal(t, pkt, run.Data())
	require.Equal(t, vm.Addr(vm.RegionContext, 0), run.Args[0])

	// Context loads go through the accessor: pointers are virtual addresses.
	v, err := m.Context.LoadContext(m, 0, 4)
	require.NoError(t, err)
	require.Equal(t, vm.Addr(vm.RegionData, XDPHeadroom), v)
	v, err = m.Context.LoadContext(m, 4, 4)
	require.NoError(t, err)
	require.Equal(t, vm.Addr(vm.RegionData, uint32(XDPHeadroom+len(pkt))), v)
	_, err = m.Context.LoadContext(m, 20, 4)
	var f *vm.Fault
	require.ErrorAs(t, err, &f)
	require.Equal(t, vm.FaultContext, f.Kind)

	// The caller may set ingress_ifindex, not data.
	ctx := make([]byte, 24)
	binary.LittleEndian.PutUint32(ctx[12:], 7)
	_, err = XDP.Setup(m, &Input{Data: pkt, Context: ctx})
	require.NoError(t, err)
	v, err = m.Context.LoadContext(m, 12, 4)
	require.NoError(t, err)
	require.Equal(t, uint64(7), v)
	binary.LittleEndian.PutUint32(ctx[0:], 1)
	_, err = XDP.Setup(m, &Input{Data: pkt, Context: ctx})
	require.ErrorContains(t, err, "data")

	// A reused machine starts from a clean buffer: nothing of the previous
	// packet shows around the next one.
	run, err = XDP.Setup(m, &Input{Data: []byte{0xaa}})
	require.NoError(t, err)
	buf := m.Regions[vm.RegionData].Bytes()
	for i, b := range buf {
		if i != XDPHeadroom {
			require.Zero(t, b, "byte %d", i)
		}
	}
	require.Equal(t, []byte{0xaa}, run.Data())
}

func TestSocketFilterSetup(t *testing.T) {
	m := vm.NewMachine(nil)
	ctx := make([]byte, SkbLayout.Size)
	binary.LittleEndian.PutUint32(ctx[8:], 0x55)  // mark
	binary.LittleEndian.PutUint32(ctx[48:], 0x77) // cb[0]
	run, err := SocketFilter.Setup(m, &Input{Data: make([]byte, 60), Context: ctx})
	require.NoError(t, err)
	v, err := m.Context.LoadContext(m, 0, 4)
	require.NoError(t, err)
	require.Equal(t, uint64(60), v, "len")
	v, err = m.Context.LoadContext(m, 8, 4)
	require.NoError(t, err)
	require.Equal(t, uint64(0x55), v)
	require.NoError(t, m.Context.StoreContext(m, 52, 4, 9))
	require.Equal(t, uint32(9), binary.LittleEndian.Uint32(run.Context()[52:]))
	require.Error(t, m.Context.StoreContext(m, 8, 4, 9), "mark is read-only")

	binary.LittleEndian.PutUint32(ctx[72:], 1) // tc_classid
	_, err = SocketFilter.Setup(m, &Input{Data: make([]byte, 60), Context: ctx})
	require.ErrorContains(t, err, "tc_classid")
	require.Equal(t, "keep 60 bytes", SocketFilter.Describe(60))
	require.Equal(t, "drop", SocketFilter.Describe(0))
	require.Equal(t, "XDP_TX", XDP.Describe(3))
}

func TestHook(t *testing.T) {
	type event struct {
		Kind   uint8  `ebpf:"kind"`
		Size   uint32 `ebpf:"size"`
		Delta  int16  `ebpf:"delta"`
		Stamp  uint64 `ebpf:"stamp"`
		Result int32  `ebpf:"result,rw"`
		Skip   string `ebpf:"-"`
	}
	h, err := HookFromStruct("event", event{})
	require.NoError(t, err)
	l := h.Layout()
	// Laid out like the C struct: natural alignment, size rounded to 8.
	offsets := map[string]int{}
	for _, f := range l.Fields {
		offsets[f.Name] = f.Offset
	}
	require.Equal(t, map[string]int{"kind": 0, "size": 4, "delta": 8, "stamp": 16, "result": 24}, offsets)
	require.Equal(t, 32, l.Size)

	in := event{Kind: 3, Size: 4096, Delta: -2, Stamp: 1 << 40, Result: -5}
	b, err := h.Encode(in)
	require.NoError(t, err)
	var out event
	require.NoError(t, h.Decode(b, &out))
	in.Skip = ""
	require.Equal(t, in, out)

	_, err = l.Check(0, 1, true)
	require.ErrorContains(t, err, "read-only")
	f, err := l.Check(24, 4, true)
	require.NoError(t, err)
	require.Equal(t, "result", f.Name)

	for _, bad := range []HookSpec{
		{Name: ""},
		{Name: "xdp"},
		{Name: "h", Fields: []HookField{{Name: "a", Size: 3}}},
		{Name: "h", Fields: []HookField{{Name: "a", Size: 4}, {Name: "a", Size: 4}}},
		{Name: "h", Fields: []HookField{{Name: "d", Size: 4, Kind: FieldPacketData}}},
		{Name: "h", Fields: []HookField{{Name: "d", Size: 8, Kind: FieldPacketData}, {Name: "e", Size: 4, Kind: FieldPacketEnd}}},
	} {
		_, err := NewHook(bad)
		require.Error(t, err, "%+v", bad)
	}
	_, err = HookFromStruct("h", struct{ S []int }{})
	require.Error(t, err)
}

func TestHelperSets(t *testing.T) {
	require.True(t, XDP.HelperAllowed(44))           // xdp_adjust_head
	require.False(t, SocketFilter.HelperAllowed(44)) // not for socket filters
	require.True(t, SocketFilter.HelperAllowed(26))  // skb_load_bytes
	require.True(t, Raw.HelperAllowed(12345))
	for _, id := range baseHelpers {
		require.True(t, XDP.HelperAllowed(id))
		require.True(t, SocketFilter.HelperAllowed(id))
	}
	for _, name := range Names() {
		typ, ok := ByName(name)
		require.True(t, ok)
		require.Equal(t, name, typ.Name())
	}
}
