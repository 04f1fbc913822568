package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestPolicy(t *testing.T) {
	p, err := NewPolicy(net.IPv4(10, 0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	h := p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for _, tc := range []struct {
		method, path, client string
		want                 int
	}{
		{"GET", "/", "10.0.0.2", 200},
		{"GET", "/admin/x", "10.0.0.1", 200},
		{"GET", "/admin/x", "10.0.0.2", 403},
		{"POST", "/", "10.0.0.3", 405},
	} {
		req := httptest.NewRequest(tc.method, tc.path, nil)
		req.Header.Set("X-Client-IP", tc.client)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s %s from %s: %d, want %d", tc.method, tc.path, tc.client, rec.Code, tc.want)
		}
	}
}
