// policy decides whether an HTTP request may proceed. The host's middleware
// fills a struct request, with the request path as the data the program
// can read between path and path_end, and reads back status: 0 lets the
// request through, anything else is the HTTP status to answer with.
#include "../../../testdata/include/ebpfvm.h"

char LICENSE[] SEC("license") = "GPL";

struct request {
	__u32 method;    // 1 GET, 2 POST, 3 other
	__u32 client_ip; // IPv4, network byte order
	__u32 path;      // pointer to the path's first byte
	__u32 path_end;  // pointer past its last byte
	__u32 status;    // written by the program
};

// Clients allowed under /admin/.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u8);
} admins SEC(".maps");

// Requests per client, for a simple quota.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} requests SEC(".maps");

const volatile __u64 quota = 5;

SEC("hook")
int policy(struct request *r)
{
	char *p = (void *)(long)r->path;
	char *end = (void *)(long)r->path_end;
	__u32 ip = r->client_ip;

	__u64 one = 1, *n = bpf_map_lookup_elem(&requests, &ip);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&requests, &ip, &one, BPF_NOEXIST);
	if (n && *n > quota) {
		r->status = 429;
		return 0;
	}
	if (p + 7 <= end && p[0] == '/' && p[1] == 'a' && p[2] == 'd' && p[3] == 'm' && p[4] == 'i' && p[5] == 'n' && p[6] == '/') {
		if (!bpf_map_lookup_elem(&admins, &ip)) {
			r->status = 403;
			return 0;
		}
	}
	if (r->method == 2 && p + 1 == end) {
		r->status = 405; // no POST to "/"
		return 0;
	}
	r->status = 0;
	return 1;
}
