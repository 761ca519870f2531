package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/httpapi"
	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/app"
)

// generous bounds a disconnection: far above the configured timeouts, far
// below "forever".
const generous = 20 * time.Second

// serve starts a Server over a memstore engine (no worker: dispatched
// executions stay pending) and returns it.
func serve(t *testing.T, ho httpapi.Options, so httpapi.ServerOptions) *httpapi.Server {
	srv, _ := serveEngine(t, ho, so)
	return srv
}

// serveEngine is serve that also returns the engine.
func serveEngine(t *testing.T, ho httpapi.Options, so httpapi.ServerOptions) (*httpapi.Server, *app.Engine) {
	t.Helper()
	st := memstore.New()
	reg := app.NewRegistry()
	app.Register(reg, "srv.noop", func(context.Context, json.RawMessage) (string, error) { return "ok", nil })
	eng, err := app.New(app.Deps{Store: st, Registry: reg}, app.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if so.Addr == "" {
		so.Addr = "127.0.0.1:0"
	}
	srv := httpapi.NewServer(httpapi.New(eng, ho), so)
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Stop(context.Background())
		_ = eng.Close()
		_ = st.Close()
	})
	return srv, eng
}

// closedWithin reads conn until the server closes it and returns what it
// read; it fails the test if the connection is still open after d.
func closedWithin(t *testing.T, conn net.Conn, d time.Duration) string {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(d))
	var got bytes.Buffer
	_, err := io.Copy(&got, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server still holds the connection after %s; read so far: %q", d, got.String())
	}
	return got.String()
}

func TestSlowAndIdleClientsAreDisconnected(t *testing.T) {
	t.Parallel()
	srv := serve(t, httpapi.Options{Token: "s3cret"}, httpapi.ServerOptions{
		ReadHeaderTimeout: 300 * time.Millisecond, ReadTimeout: 300 * time.Millisecond,
		WriteTimeout: time.Second, IdleTimeout: 300 * time.Millisecond,
	})
	dribble := func(conn net.Conn, stop <-chan struct{}) {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if _, err := conn.Write([]byte("x")); err != nil {
				return
			}
		}
	}
	for _, tt := range []struct {
		name, head, want string
	}{
		{"a client dribbling a body after its 401 is cut off",
			"POST /v1/executions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", "401 Unauthorized"},
		{"an authorised client dribbling a body is cut off",
			"POST /v1/executions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\nContent-Length: 100000\r\n\r\n{", ""},
		{"a client dribbling its headers is cut off",
			"GET /healthz HTTP/1.1\r\nHost: x\r\n", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", srv.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, tt.head); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			defer close(stop)
			go dribble(conn, stop)
			got := closedWithin(t, conn, generous)
			if !strings.Contains(got, tt.want) {
				t.Fatalf("the server answered %q; want %q", got, tt.want)
			}
		})
	}
	t.Run("an idle keep-alive connection is closed", func(t *testing.T) {
		t.Parallel()
		conn, err := net.Dial("tcp", srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Close {
			t.Fatalf("/healthz: %d (close %v); want 200 on a kept-alive connection", resp.StatusCode, resp.Close)
		}
		closedWithin(t, conn, generous)
	})
}

func TestALongPollOutlivesTheWriteTimeout(t *testing.T) {
	t.Parallel()
	srv, eng := serveEngine(t, httpapi.Options{}, httpapi.ServerOptions{WriteTimeout: 300 * time.Millisecond})
	base := "http://" + srv.Addr()
	// Dispatched in process: only the poll meets the short WriteTimeout.
	id, err := eng.DispatchByName(context.Background(), "srv.noop", nil)
	if err != nil {
		t.Fatal(err)
	}
	// No worker runs: the poll waits its whole second, past the write
	// timeout.
	resp, err := http.Get(base + "/v1/executions/" + id + "/result?wait=1s")
	if err != nil {
		t.Fatalf("the long poll was cut off: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(string(body), `"state":"pending"`) {
		t.Fatalf("long poll: %d %s; want 202 with the state", resp.StatusCode, body)
	}
}

func TestTheConnectionCapHoldsFurtherClients(t *testing.T) {
	t.Parallel()
	srv := serve(t, httpapi.Options{}, httpapi.ServerOptions{MaxConns: 2})
	var held []net.Conn
	for range 2 {
		conn, err := net.Dial("tcp", srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// A served request proves the connection was accepted.
		_, _ = io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		held = append(held, conn)
	}
	third := make(chan error, 1)
	go func() {
		c := &http.Client{Timeout: generous}
		resp, err := c.Get("http://" + srv.Addr() + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		third <- err
	}()
	select {
	case err := <-third:
		t.Fatalf("a third client was served while two connections held the cap (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	_ = held[0].Close()
	if err := <-third; err != nil {
		t.Fatalf("the third client was not served once a connection closed: %v", err)
	}
}

func TestListeningBeyondLoopbackNeedsATokenOrAnExplicitOptOut(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "[::1]:8080": true, "localhost:8080": true,
		"0.0.0.0:8080": false, ":8080": false, "10.1.2.3:80": false, "example.com:80": false, "nonsense": false,
	} {
		if got := httpapi.IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v; want %v", addr, got, want)
		}
	}
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	eng, err := app.New(app.Deps{Store: st, Registry: app.NewRegistry()}, app.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })

	srv := httpapi.NewServer(httpapi.New(eng, httpapi.Options{}), httpapi.ServerOptions{Addr: "0.0.0.0:0"})
	if err := srv.Start(context.Background()); !errors.Is(err, httpapi.ErrInsecureAddr) {
		_ = srv.Stop(context.Background())
		t.Fatalf("Start on 0.0.0.0 without a token = %v; want ErrInsecureAddr", err)
	}
	if srv.Addr() != "" {
		t.Fatal("the refused server listens anyway")
	}

	var log bytes.Buffer
	insecure := httpapi.NewServer(httpapi.New(eng, httpapi.Options{}),
		httpapi.ServerOptions{Addr: "0.0.0.0:0", InsecureNoAuth: true, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err := insecure.Start(context.Background()); err != nil {
		t.Fatalf("with InsecureNoAuth: %v", err)
	}
	_ = insecure.Stop(context.Background())
	if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "WITHOUT authentication") {
		t.Fatalf("no WARN line at start:\n%s", log.String())
	}

	withToken := httpapi.NewServer(httpapi.New(eng, httpapi.Options{Token: "t"}), httpapi.ServerOptions{Addr: "0.0.0.0:0"})
	if err := withToken.Start(context.Background()); err != nil {
		t.Fatalf("with a token: %v", err)
	}
	_ = withToken.Stop(context.Background())
}

func TestCORSIsOffByDefaultAndConfigurable(t *testing.T) {
	t.Parallel()
	preflight := func(base, origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, base+"/v1/executions", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	get := func(base, origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, base+"/v1/stats", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Authorization", "Bearer t")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	off := "http://" + serve(t, httpapi.Options{Token: "t"}, httpapi.ServerOptions{}).Addr()
	if r := preflight(off, "https://evil.example"); r.StatusCode == http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("by default a preflight got %d with ACAO %q", r.StatusCode, r.Header.Get("Access-Control-Allow-Origin"))
	}
	if r := get(off, "https://evil.example"); r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("by default a cross-origin GET got ACAO %q", r.Header.Get("Access-Control-Allow-Origin"))
	}

	on := "http://" + serve(t, httpapi.Options{Token: "t", CORSOrigins: []string{"https://console.example"}}, httpapi.ServerOptions{}).Addr()
	r := preflight(on, "https://console.example")
	if r.StatusCode != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != "https://console.example" ||
		!strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("an allowed preflight got %d %v", r.StatusCode, r.Header)
	}
	if r := get(on, "https://console.example"); r.StatusCode != http.StatusOK || r.Header.Get("Access-Control-Allow-Origin") != "https://console.example" {
		t.Fatalf("an allowed GET got %d with ACAO %q", r.StatusCode, r.Header.Get("Access-Control-Allow-Origin"))
	}
	if r := preflight(on, "https://evil.example"); r.StatusCode == http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("another origin's preflight got %d with ACAO %q", r.StatusCode, r.Header.Get("Access-Control-Allow-Origin"))
	}
}
