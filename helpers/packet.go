package helpers

import (
	"github.com/ebpfvm/ebpfvm/vm"
	"golang.org/x/sys/unix"
)

// Packet helpers work on the packet bounds of the machine (vm.Machine's
// DataMeta, DataStart, DataEnd within RegionData), which the program type
// sets up and the context's data/data_end fields report.

const (
	ethHeaderLen = 14  // ETH_HLEN: adjust_head and adjust_tail keep at least an Ethernet header
	maxMetaLen   = 255 // the kernel's limit on XDP metadata: skb_shared_info.meta_len is a u8 (32 before Linux 6.0)

	IDRedirect           = 23
	IDSkbLoadBytes       = 26
	IDSkbLoadBytesRel    = 68
	IDXDPGetBuffLen      = 188
	IDXDPLoadBytes       = 189
	IDXDPStoreBytes      = 190
	xdpRedirectAction    = 4 // XDP_REDIRECT
	skbNetHeaderRelative = 1 // BPF_HDR_START_NET
)

// packetBytes returns the packet memory [DataStart+off, +n) or false.
func packetBytes(m *vm.Machine, off, n uint64) ([]byte, bool) {
	r := m.Regions[vm.RegionData]
	start, end := uint64(m.DataStart), uint64(m.DataEnd)
	if off > end-start || n > end-start-off || end > uint64(r.Len) {
		return nil, false
	}
	return r.Bytes()[start+off : start+off+n], true
}

// skbLoadBytes is bpf_skb_load_bytes(ctx, offset, to, len): it copies packet
// bytes; out of the packet it zero-fills and returns -EFAULT.
func skbLoadBytes(m *vm.Machine, _, offset, to, n, _ uint64) (uint64, error) {
	dst, err := m.Slice(to, n, true)
	if err != nil {
		return 0, err
	}
	src, ok := packetBytes(m, uint64(uint32(offset)), n)
	if !ok || int32(offset) < 0 {
		clear(dst)
		return errno(unix.EFAULT), nil
	}
	copy(dst, src)
	return 0, nil
}

// skbLoadBytesRelative is bpf_skb_load_bytes_relative: start_header 0 is
// the MAC header (the packet start) and 1 the network header, which for
// a packet starting with an Ethernet header is 14 bytes in.
func skbLoadBytesRelative(m *vm.Machine, ctx, offset, to, n, header uint64) (uint64, error) {
	switch header {
	case 0:
	case skbNetHeaderRelative:
		offset = uint64(uint32(offset) + ethHeaderLen)
	default:
		dst, err := m.Slice(to, n, true)
		if err != nil {
			return 0, err
		}
		clear(dst)
		return errno(unix.EINVAL), nil
	}
	return skbLoadBytes(m, ctx, offset, to, n, 0)
}

// xdpAdjustHead is bpf_xdp_adjust_head(ctx, delta): it moves the packet
// start (and the metadata with it) by delta bytes.
func xdpAdjustHead(m *vm.Machine, _, delta, _, _, _ uint64) (uint64, error) {
	d := int64(int32(delta))
	meta := int64(m.DataStart) - int64(m.DataMeta)
	data := int64(m.DataStart) + d
	if data < int64(m.PacketFloor)+meta || data > int64(m.DataEnd)-ethHeaderLen {
		return errno(unix.EINVAL), nil
	}
	if meta > 0 {
		copy(m.Packet[int64(m.DataMeta)+d:], m.Packet[m.DataMeta:m.DataStart])
	}
	m.DataMeta = uint32(int64(m.DataMeta) + d)
	m.DataStart = uint32(data)
	return 0, nil
}

// xdpAdjustMeta is bpf_xdp_adjust_meta(ctx, delta): it moves the start of
// the metadata, which must stay a multiple of 4 bytes long and at most 32.
func xdpAdjustMeta(m *vm.Machine, _, delta, _, _, _ uint64) (uint64, error) {
	meta := int64(m.DataMeta) + int64(int32(delta))
	if meta < int64(m.PacketFloor) || meta > int64(m.DataStart) {
		return errno(unix.EINVAL), nil
	}
	if n := int64(m.DataStart) - meta; n%4 != 0 || n > maxMetaLen {
		return errno(unix.EACCES), nil
	}
	m.DataMeta = uint32(meta)
	return 0, nil
}

// xdpAdjustTail is bpf_xdp_adjust_tail(ctx, delta): it moves the packet end;
// grown bytes read as zero.
func xdpAdjustTail(m *vm.Machine, _, delta, _, _, _ uint64) (uint64, error) {
	d := int64(int32(delta))
	end := int64(m.DataEnd) + d
	if end > int64(m.PacketCeil) || end < int64(m.DataStart)+ethHeaderLen || !m.SetDataEnd(uint32(end)) {
		return errno(unix.EINVAL), nil
	}
	return 0, nil
}

func xdpGetBuffLen(m *vm.Machine, _, _, _, _, _ uint64) (uint64, error) {
	return uint64(m.DataEnd - m.DataStart), nil
}

// xdpLoadBytes is bpf_xdp_load_bytes(ctx, offset, buf, len).
func xdpLoadBytes(m *vm.Machine, _, offset, buf, n, _ uint64) (uint64, error) {
	dst, err := m.Slice(buf, n, true)
	if err != nil {
		return 0, err
	}
	src, ok := packetBytes(m, uint64(uint32(offset)), n)
	if !ok {
		return errno(unix.EINVAL), nil
	}
	copy(dst, src)
	return 0, nil
}

// xdpStoreBytes is bpf_xdp_store_bytes(ctx, offset, buf, len).
func xdpStoreBytes(m *vm.Machine, _, offset, buf, n, _ uint64) (uint64, error) {
	src, err := m.Slice(buf, n, false)
	if err != nil {
		return 0, err
	}
	dst, ok := packetBytes(m, uint64(uint32(offset)), n)
	if !ok {
		return errno(unix.EINVAL), nil
	}
	copy(dst, src)
	return 0, nil
}

// redirect is bpf_redirect(ifindex, flags): user space has no devices, so
// it only validates the flags and returns XDP_REDIRECT; the target is what
// the host sees in RedirectTarget.
func redirect(m *vm.Machine, ifindex, flags, _, _, _ uint64) (uint64, error) {
	if flags != 0 {
		return 0, nil // XDP_ABORTED, as the kernel's XDP path returns for bad flags
	}
	st := stateOf(m)
	st.redirect, st.redirected = uint32(ifindex), true
	return xdpRedirectAction, nil
}

func packetHelpers() []Helper {
	memArgs := [5]ArgKind{ArgPtrToCtx, ArgScalar, ArgPtrToUninitMem, ArgConstSize}
	return []Helper{
		{Proto: Proto{ID: IDSkbLoadBytes, Name: "skb_load_bytes", Args: memArgs, Ret: RetInteger}, Func: skbLoadBytes},
		{Proto: Proto{ID: IDSkbLoadBytesRel, Name: "skb_load_bytes_relative", Args: [5]ArgKind{ArgPtrToCtx, ArgScalar, ArgPtrToUninitMem, ArgConstSize, ArgScalar}, Ret: RetInteger}, Func: skbLoadBytesRelative},
		{Proto: Proto{ID: IDXDPAdjustHead, Name: "xdp_adjust_head", Args: [5]ArgKind{ArgPtrToCtx, ArgScalar}, Ret: RetInteger, ChangesPacket: true}, Func: xdpAdjustHead},
		{Proto: Proto{ID: IDXDPAdjustMeta, Name: "xdp_adjust_meta", Args: [5]ArgKind{ArgPtrToCtx, ArgScalar}, Ret: RetInteger, ChangesPacket: true}, Func: xdpAdjustMeta},
		{Proto: Proto{ID: IDXDPAdjustTail, Name: "xdp_adjust_tail", Args: [5]ArgKind{ArgPtrToCtx, ArgScalar}, Ret: RetInteger, ChangesPacket: true}, Func: xdpAdjustTail},
		{Proto: Proto{ID: IDXDPGetBuffLen, Name: "xdp_get_buff_len", Args: [5]ArgKind{ArgPtrToCtx}, Ret: RetInteger}, Func: xdpGetBuffLen},
		{Proto: Proto{ID: IDXDPLoadBytes, Name: "xdp_load_bytes", Args: memArgs, Ret: RetInteger}, Func: xdpLoadBytes},
		{Proto: Proto{ID: IDXDPStoreBytes, Name: "xdp_store_bytes", Args: [5]ArgKind{ArgPtrToCtx, ArgScalar, ArgPtrToMem, ArgConstSize}, Ret: RetInteger}, Func: xdpStoreBytes},
		{Proto: Proto{ID: IDRedirect, Name: "redirect", Args: [5]ArgKind{ArgScalar, ArgScalar}, Ret: RetInteger}, Func: redirect},
	}
}
