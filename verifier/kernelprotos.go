package verifier

import "github.com/ebpfvm/ebpfvm/helpers"

// pktAccessHelpers are the helpers whose prototypes carry the kernel's
// pkt_access flag: they may be given packet pointers.
var pktAccessHelpers = map[int32]bool{1: true, 2: true, 3: true, 28: true, 195: true}

// kernelProtos are prototypes of kernel helpers that ebpfvm does not
// implement, for the verification-only program types (tc, tracing).
var kernelProtos = func() map[int32]*helpers.Proto {
	a := func(kinds ...helpers.ArgKind) [5]helpers.ArgKind {
		var k [5]helpers.ArgKind
		copy(k[:], kinds)
		return k
	}
	const (
		any    = helpers.ArgAnything
		ctx    = helpers.ArgPtrToCtx
		mapPtr = helpers.ArgConstMapPtr
		mem    = helpers.ArgPtrToMem
		umem   = helpers.ArgPtrToUninitMem
		size   = helpers.ArgConstSize
		size0  = helpers.ArgConstSizeOrZero
	)
	list := []helpers.Proto{
		{ID: 9, Args: a(ctx, any, mem, size, any), ChangesPacket: true}, // skb_store_bytes
		{ID: 10, Args: a(ctx, any, any, any, any), ChangesPacket: true}, // l3_csum_replace
		{ID: 11, Args: a(ctx, any, any, any, any), ChangesPacket: true}, // l4_csum_replace
		{ID: 13, Args: a(ctx, any, any)},                                // clone_redirect
		{ID: 16, Args: a(umem, size)},                                   // get_current_comm
		{ID: 17, Args: a(ctx)},                                          // get_cgroup_classid
		{ID: 18, Args: a(ctx, any, any), ChangesPacket: true},           // skb_vlan_push
		{ID: 19, Args: a(ctx), ChangesPacket: true},                     // skb_vlan_pop
		{ID: 20, Args: a(ctx, umem, size, any)},                         // skb_get_tunnel_key
		{ID: 21, Args: a(ctx, mem, size, any)},                          // skb_set_tunnel_key
		{ID: 22, Args: a(mapPtr, any)},                                  // perf_event_read
		{ID: 24, Args: a(ctx)},                                          // get_route_realm
		{ID: 27, Args: a(ctx, mapPtr, any)},                             // get_stackid
		{ID: 29, Args: a(ctx, umem, size)},                              // skb_get_tunnel_opt
		{ID: 30, Args: a(ctx, mem, size)},                               // skb_set_tunnel_opt
		{ID: 31, Args: a(ctx, any, any), ChangesPacket: true},           // skb_change_proto
		{ID: 32, Args: a(ctx, any)},                                     // skb_change_type
		{ID: 33, Args: a(ctx, mapPtr, any)},                             // skb_under_cgroup
		{ID: 34, Args: a(ctx)},                                          // get_hash_recalc
		{ID: 35},                                                        // get_current_task
		{ID: 36, Args: a(any, mem, size), GPLOnly: true},                // probe_write_user
		{ID: 37, Args: a(mapPtr, any)},                                  // current_task_under_cgroup
		{ID: 38, Args: a(ctx, any, any), ChangesPacket: true},           // skb_change_tail
		{ID: 39, Args: a(ctx, any), ChangesPacket: true},                // skb_pull_data
		{ID: 40, Args: a(ctx, any)},                                     // csum_update
		{ID: 41, Args: a(ctx)},                                          // set_hash_invalid
		{ID: 43, Args: a(ctx, any, any), ChangesPacket: true},           // skb_change_head
		{ID: 46, Args: a(ctx)},                                          // get_socket_cookie
		{ID: 47, Args: a(ctx)},                                          // get_socket_uid
		{ID: 48, Args: a(ctx, any)},                                     // set_hash
		{ID: 50, Args: a(ctx, any, any, any), ChangesPacket: true},      // skb_adjust_room
		{ID: 51, Args: a(mapPtr, any, any)},                             // redirect_map
		{ID: 55, Args: a(mapPtr, any, umem, size)},                      // perf_event_read_value
		{ID: 56, Args: a(ctx, umem, size)},                              // perf_prog_read_value
		{ID: 58, Args: a(ctx, any), GPLOnly: true},                      // override_return
		{ID: 67, Args: a(ctx, umem, size0, any), GPLOnly: true},         // get_stack
		{ID: 79, Args: a(ctx)},                                          // skb_cgroup_id
		{ID: 80},                                                        // get_current_cgroup_id
		{ID: 83, Args: a(ctx, any)},                                     // skb_ancestor_cgroup_id
		{ID: 97, Args: a(ctx)},                                          // skb_ecn_set_ce
		{ID: 109, Args: a(any)},                                         // send_signal
		{ID: 117, Args: a(any)},                                         // send_signal_thread
		{ID: 119, Args: a(ctx, umem, size0, any)},                       // read_branch_records
		{ID: 120, Args: a(any, any, umem, size)},                        // get_ns_current_pid_tgid
		{ID: 123, Args: a(any)},                                         // get_current_ancestor_cgroup_id
		{ID: 135, Args: a(ctx, any)},                                    // csum_level
		{ID: 141, Args: a(any, umem, size0, any)},                       // get_task_stack
		{ID: 148, Args: a(umem, size0, any)},                            // copy_from_user
		{ID: 151, Args: a(ctx)},                                         // skb_cgroup_classid
		{ID: 152, Args: a(any, mem, size0, any)},                        // redirect_neigh
		{ID: 155, Args: a(any, any)},                                    // redirect_peer
		{ID: 163, Args: a(ctx, any, helpers.ArgPtrToLong, any, any)},    // check_mtu
		{ID: 173, Args: a(ctx)},                                         // get_func_ip
		{ID: 174, Args: a(ctx)},                                         // get_attach_cookie
		{ID: 177, Args: a(mem, size, mem, size0), GPLOnly: true},        // trace_vprintk
		{ID: 192, Args: a(ctx, any, any)},                               // skb_set_tstamp
		{ID: 208},                                                       // ktime_get_tai_ns
	}
	m := map[int32]*helpers.Proto{}
	for i := range list {
		p := &list[i]
		p.Name = helpers.KernelName(p.ID)[len("bpf_"):]
		m[p.ID] = p
	}
	return m
}()
