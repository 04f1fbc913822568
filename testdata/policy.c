// A policy hook: the host fills a request, the program decides allow or
// deny, writes the verdict and a reason back into the request, and counts
// decisions. A syscall program in the kernel (the context is the caller's
// memory); an ebpfvm hook whose context has the fields of struct request.
#include "ebpfvm.h"

char LICENSE[] SEC("license") = "GPL";

enum { METHOD_GET = 1, METHOD_POST = 2, METHOD_PUT = 3, METHOD_DELETE = 4 };
enum { DENY = 0, ALLOW = 1 };
enum { REASON_ADMIN = 1, REASON_PUBLIC_READ = 2, REASON_PERMISSION = 3, REASON_DENIED = 4 };

struct request {
	__u32 method;
	__u32 uid;
	__u32 port;
	__u32 path_len;
	__u32 verdict; // written by the program
	__u32 reason;  // written by the program
};

// Configuration, fixed before loading.
const volatile __u32 admin_uid = 0;
const volatile __u32 max_public_path = 256;

// permissions maps a uid to a bit mask of the methods it may use
// (bit METHOD_x).
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u32);
} permissions SEC(".maps");

// decisions[DENY] and decisions[ALLOW] count verdicts.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} decisions SEC(".maps");

// policy returns 1 (allow) or 0 (deny). The admin may do anything, anyone
// may GET a short path, others need the method's bit in permissions. A
// zeroed request is uid 0, the default admin: allowed, reason 1.
SEC("syscall")
int policy(struct request *req)
{
	__u32 uid = req->uid, method = req->method;
	__u32 verdict, reason;
	if (uid == admin_uid) {
		verdict = ALLOW;
		reason = REASON_ADMIN;
	} else if (method == METHOD_GET && req->path_len <= max_public_path) {
		verdict = ALLOW;
		reason = REASON_PUBLIC_READ;
	} else {
		__u32 *perm = bpf_map_lookup_elem(&permissions, &uid);
		if (perm && (*perm & (1u << (method & 31)))) {
			verdict = ALLOW;
			reason = REASON_PERMISSION;
		} else {
			verdict = DENY;
			reason = REASON_DENIED;
		}
	}
	req->verdict = verdict;
	req->reason = reason;
	__u64 *count = bpf_map_lookup_elem(&decisions, &verdict);
	if (count)
		__sync_fetch_and_add(count, 1);
	return verdict;
}
