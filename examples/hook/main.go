// Command hook embeds an eBPF policy in a Go HTTP server: a middleware
// hands every request to a verified program through a context of its own
// design (method, client address, the path as readable data, and a status
// the program writes), and answers with the status the policy chooses. The
// policy keeps state across requests in maps, which Go configures.
//
//	go run ./examples/hook
//
// It starts a test server, sends a few requests, and prints the decisions.
package main

import (
	_ "embed"
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"

	"github.com/ebpfvm/ebpfvm"
	"github.com/ebpfvm/ebpfvm/maps"
	"github.com/ebpfvm/ebpfvm/progtype"
)

// bpf/policy.o is compiled from bpf/policy.c by "make examples".
//
//go:embed bpf/policy.o
var object []byte

// requestType is the program type of policy.c's struct request: the hook
// context, laid out as the C struct is.
var requestType = func() *progtype.Hook {
	h, err := progtype.NewHook(progtype.HookSpec{
		Name: "http_request",
		Fields: []progtype.HookField{
			{Name: "method", Size: 4},
			{Name: "client_ip", Size: 4},
			{Name: "path", Size: 4, Kind: progtype.FieldPacketData},
			{Name: "path_end", Size: 4, Kind: progtype.FieldPacketEnd},
			{Name: "status", Size: 4, Writable: true},
		},
		DescribeReturn: func(r0 uint64) string { return map[uint64]string{0: "deny", 1: "allow"}[r0] },
	})
	if err != nil {
		panic(err)
	}
	return h
}()

// Policy runs the policy program for each request.
type Policy struct {
	coll *ebpfvm.Collection
	prog *ebpfvm.Program
}

// NewPolicy loads the policy and allows the given clients under /admin/.
func NewPolicy(admins ...net.IP) (*Policy, error) {
	spec, err := ebpfvm.LoadCollectionSpecFromBytes(object)
	if err != nil {
		return nil, err
	}
	spec.Programs["policy"].Type = requestType
	coll, err := ebpfvm.NewCollection(spec, nil)
	if err != nil {
		return nil, err
	}
	for _, ip := range admins {
		if err := maps.UpdateAs(coll.Maps["admins"], ipKey(ip), uint8(1), maps.UpdateAny); err != nil {
			coll.Close()
			return nil, err
		}
	}
	return &Policy{coll: coll, prog: coll.Programs["policy"]}, nil
}

// Close releases the policy's maps.
func (p *Policy) Close() error { return p.coll.Close() }

// ipKey is the client address as the program sees it: the IPv4 bytes in
// network order, read as a little-endian u32.
func ipKey(ip net.IP) uint32 { return binary.LittleEndian.Uint32(ip.To4()) }

// Middleware answers requests the policy denies with the status it chose.
func (p *Policy) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		if fwd := r.Header.Get("X-Client-IP"); fwd != "" {
			host = fwd // the demo's clients pretend to come from elsewhere
		}
		ip := net.ParseIP(host)
		if ip == nil || ip.To4() == nil {
			http.Error(w, "IPv4 clients only", http.StatusBadRequest)
			return
		}
		method := uint64(3)
		switch r.Method {
		case http.MethodGet:
			method = 1
		case http.MethodPost:
			method = 2
		}
		ctx, err := requestType.Encode(map[string]uint64{"method": method, "client_ip": uint64(ipKey(ip))})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		res, err := p.prog.Execute(&ebpfvm.RunOptions{Context: ctx, Data: []byte(r.URL.Path), AnyCPU: true})
		if err != nil {
			http.Error(w, "policy failed: "+err.Error(), http.StatusInternalServerError)
			return
		}
		var out struct {
			Status uint32 `ebpf:"status"`
		}
		if err := requestType.Decode(res.Context, &out); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if out.Status != 0 {
			http.Error(w, http.StatusText(int(out.Status)), int(out.Status))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func main() {
	policy, err := NewPolicy(net.IPv4(10, 0, 0, 1))
	if err != nil {
		log.Fatal(err)
	}
	defer policy.Close()
	srv := httptest.NewServer(policy.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s\n", r.URL.Path)
	})))
	defer srv.Close()

	requests := []struct{ method, path, client string }{
		{"GET", "/", "10.0.0.2"},
		{"GET", "/admin/users", "10.0.0.1"},
		{"GET", "/admin/users", "10.0.0.2"},
		{"POST", "/", "10.0.0.3"},
		{"POST", "/upload", "10.0.0.3"},
		{"GET", "/a", "10.0.0.4"},
		{"GET", "/b", "10.0.0.4"},
		{"GET", "/c", "10.0.0.4"},
		{"GET", "/d", "10.0.0.4"},
		{"GET", "/e", "10.0.0.4"},
		{"GET", "/f", "10.0.0.4"},
	}
	for _, rq := range requests {
		req, err := http.NewRequest(rq.method, srv.URL+rq.path, nil)
		if err != nil {
			log.Fatal(err)
		}
		req.Header.Set("X-Client-IP", rq.client)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%-4s %-13s from %-9s -> %d %s", rq.method, rq.path, rq.client, resp.StatusCode, body)
	}
}
