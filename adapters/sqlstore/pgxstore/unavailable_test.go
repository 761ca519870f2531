package pgxstore_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stenthq/stent/adapters/sqlstore/pgxstore"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/testenv"
	"github.com/stenthq/stent/internal/testenv/teststore"
	"github.com/stenthq/stent/ports"
)

// proxy forwards TCP connections to the PostgreSQL server until cut.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	p := &proxy{ln: ln, target: target}
	p.wg.Go(p.accept)
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		p.wg.Go(func() { _, _ = io.Copy(up, c); _ = up.Close() })
		p.wg.Go(func() { _, _ = io.Copy(c, up); _ = c.Close() })
	}
}

// cut closes the listener and every forwarded connection, as if the
// server had gone away.
func (p *proxy) cut() {
	_ = p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestLostConnectionIsUnavailable loses the server mid-run: reads and
// writes fail with ErrUnavailable, never a panic or a hang.
func TestLostConnectionIsUnavailable(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(testenv.PostgresDSN(t))
	if err != nil {
		t.Fatalf("parse dsn: %v", err)
	}
	schema := teststore.NewSchema(t)
	p := startProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	q := u.Query()
	q.Set("connect_timeout", "5")
	u.RawQuery = q.Encode()
	cfg, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s, err := pgxstore.New(t.Context(), pool, pgxstore.Config{Schema: schema})
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("ping through the proxy: %v", err)
	}

	p.cut()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	checks := map[string]error{}
	checks["Ping"] = s.Ping(ctx)
	_, checks["GetExecution"] = s.GetExecution(ctx, "x")
	_, checks["ClaimTasks"] = s.ClaimTasks(ctx, ports.ClaimParams{WorkerID: "w", Functions: []string{"f"}, Limit: 1, Lease: time.Second, Now: time.Now()})
	for name, err := range checks {
		if !errors.Is(err, domain.ErrUnavailable) {
			t.Errorf("%s after the server went away = %v; want ErrUnavailable", name, err)
		}
	}
}
