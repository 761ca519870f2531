package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ addr, path, want string }{
		{"127.0.0.1:8080", "/readyz", "http://127.0.0.1:8080/readyz"},
		{"0.0.0.0:9000", "/healthz", "http://127.0.0.1:9000/healthz"},
		{":8080", "readyz", "http://127.0.0.1:8080/readyz"},
		{"[::]:8080", "/readyz", "http://[::1]:8080/readyz"},
		{"stent.internal:8080", "/readyz", "http://stent.internal:8080/readyz"},
	} {
		got, err := healthURL(tc.addr, tc.path)
		if err != nil || got != tc.want {
			t.Errorf("healthURL(%q, %q) = %q, %v; want %q", tc.addr, tc.path, got, err, tc.want)
		}
	}
	if _, err := healthURL("8080", "/readyz"); err == nil {
		t.Error("an address without a port is accepted")
	}
}

// serve starts a server answering every request with status and records
// the path asked; it returns the server's host:port.
func serve(t *testing.T, status int) (addr string, paths chan string) {
	t.Helper()
	paths = make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths <- r.URL.Path
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"status":"x"}`))
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), paths
}

func TestRun(t *testing.T) {
	t.Parallel()
	t.Run("a 200 from /readyz at STENT_HTTP_ADDR exits 0", func(t *testing.T) {
		t.Parallel()
		addr, paths := serve(t, http.StatusOK)
		var out, errOut bytes.Buffer
		env := map[string]string{"STENT_HTTP_ADDR": addr}
		if code := run(nil, func(k string) string { return env[k] }, &out, &errOut); code != 0 {
			t.Fatalf("exit %d, stderr %q; want 0", code, errOut.String())
		}
		if p := <-paths; p != "/readyz" {
			t.Errorf("asked %q; want /readyz", p)
		}
		if !strings.HasPrefix(out.String(), "healthy: ") {
			t.Errorf("stdout %q", out.String())
		}
	})
	t.Run("a 503 exits 1 and says what answered", func(t *testing.T) {
		t.Parallel()
		addr, paths := serve(t, http.StatusServiceUnavailable)
		var out, errOut bytes.Buffer
		if code := run([]string{"--addr", addr, "--path", "/healthz"}, nil, &out, &errOut); code != 1 {
			t.Fatalf("exit %d; want 1", code)
		}
		if p := <-paths; p != "/healthz" {
			t.Errorf("asked %q; want /healthz", p)
		}
		if !strings.Contains(errOut.String(), "503") {
			t.Errorf("stderr %q does not name the status", errOut.String())
		}
	})
	t.Run("nothing listening exits 1", func(t *testing.T) {
		t.Parallel()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		var out, errOut bytes.Buffer
		if code := run([]string{"--addr", addr}, nil, &out, &errOut); code != 1 {
			t.Fatalf("exit %d; want 1", code)
		}
	})
	t.Run("a bad address or argument exits 2", func(t *testing.T) {
		t.Parallel()
		var out, errOut bytes.Buffer
		if code := run([]string{"--addr", "nohostport"}, nil, &out, &errOut); code != 2 {
			t.Errorf("bad address: exit %d; want 2", code)
		}
		if code := run([]string{"extra"}, nil, &out, &errOut); code != 2 {
			t.Errorf("extra argument: exit %d; want 2", code)
		}
	})
}
