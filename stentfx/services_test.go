package stentfx_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/stenthq/stent/adapters/httpapi"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/internal/testenv"
	"github.com/stenthq/stent/stentfx"
)

// postgresSchemaDSN returns the test DSN selecting a fresh schema (dropped
// at the end).
func postgresSchemaDSN(t *testing.T) string {
	t.Helper()
	dsn, schema := testenv.PostgresSchema(t, "stentfx_")
	return testenv.WithParams(t, dsn, "search_path", schema)
}

// TestModuleOnPostgreSQL runs the service on PostgreSQL with each
// networked notifier.
func TestModuleOnPostgreSQL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		configure func(t *testing.T, cfg *stentfx.Config)
	}{
		{"with the PostgreSQL notifier", func(_ *testing.T, cfg *stentfx.Config) { cfg.Notifier = stentfx.NotifierPostgres }},
		{"with the Redis notifier", func(t *testing.T, cfg *stentfx.Config) { cfg.RedisURL = testenv.RedisURL(t) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			cfg.DB = postgresSchemaDSN(t)
			tt.configure(t, &cfg)
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			var (
				srv *httpapi.Server
				eng *app.Engine
			)
			fxApp := fxtest.New(t, stentfx.Module, stentfx.WithHTTP(""), fx.Replace(cfg), fx.Supply(&stentfx.LogWriter{Writer: io.Discard}),
				stentfx.Functions(func(reg *app.Registry) {
					app.Register(reg, "pg.double", func(_ context.Context, n int) (int, error) { return 2 * n, nil })
				}),
				fx.Populate(&srv, &eng))
			fxApp.RequireStart()
			defer fxApp.RequireStop()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := eng.WaitUntilReady(ctx); err != nil {
				t.Fatal(err)
			}
			id, err := eng.DispatchByName(ctx, "pg.double", json.RawMessage("21"))
			if err != nil {
				t.Fatal(err)
			}
			res, err := eng.WaitFor(ctx, id)
			if err != nil || string(res.Value) != "42" {
				t.Fatalf("result %s %v", res.Value, err)
			}
			code, body := get(t, "http://"+srv.Addr()+"/readyz")
			if code != 200 || !strings.Contains(body, `"notifier":"ok"`) {
				t.Fatalf("/readyz %d %s", code, body)
			}
		})
	}
}

// lateListener forwards TCP connections to target once Start is called:
// until then nothing listens on its address, as if the database were
// still down.
type lateListener struct {
	addr, target string
	ln           net.Listener
	wg           sync.WaitGroup
}

func newLateListener(t *testing.T, target string) *lateListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &lateListener{addr: ln.Addr().String(), target: target}
	_ = ln.Close()
	t.Cleanup(func() {
		if l.ln != nil {
			_ = l.ln.Close()
		}
		l.wg.Wait()
	})
	return l
}

func (l *lateListener) Start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		t.Skipf("the reserved port was taken meanwhile: %v", err)
	}
	l.ln = ln
	l.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", l.target)
			if err != nil {
				_ = c.Close()
				continue
			}
			l.wg.Go(func() { _, _ = io.Copy(up, c); _ = up.Close() })
			l.wg.Go(func() { _, _ = io.Copy(c, up); _ = c.Close() })
		}
	})
}

// TestModuleWaitsForADatabaseThatComesUpLate starts the service while
// PostgreSQL is unreachable: it serves /healthz, answers /readyz and the
// API with 503, retries, and once the database answers it migrates, starts
// its workers and serves.
func TestModuleWaitsForADatabaseThatComesUpLate(t *testing.T) {
	t.Parallel()
	dsn := postgresSchemaDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	late := newLateListener(t, u.Host)
	u.Host = late.addr
	cfg := testConfig(t)
	cfg.DB = u.String()
	cfg.Notifier = stentfx.NotifierLocal
	var logs syncBuffer
	var (
		srv   *httpapi.Server
		eng   *app.Engine
		ready *stentfx.StoreReady
	)
	fxApp := fxtest.New(t, stentfx.Module, stentfx.WithHTTP(""), fx.Replace(cfg), fx.Supply(&stentfx.LogWriter{Writer: &logs}),
		stentfx.Functions(func(reg *app.Registry) {
			app.Register(reg, "late.double", func(_ context.Context, n int) (int, error) { return 2 * n, nil })
		}),
		fx.Populate(&srv, &eng, &ready))
	fxApp.RequireStart()
	defer fxApp.RequireStop()
	base := "http://" + srv.Addr()
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("/healthz %d while the database is down; want 200", code)
	}
	if code, body := get(t, base+"/readyz"); code != 503 || !strings.Contains(body, `"status":"unavailable"`) {
		t.Fatalf("/readyz %d %s while the database is down; want 503 unavailable", code, body)
	}
	if code, body := get(t, base+"/v1/stats"); code != 503 {
		t.Fatalf("/v1/stats %d %s while the database is down; want 503", code, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for !strings.Contains(logs.String(), "store unreachable; retrying") {
		if ctx.Err() != nil {
			t.Fatalf("no retry logged:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-ready.Done():
		t.Fatal("the store reported connected while the database was down")
	default:
	}
	late.Start(t)
	select {
	case <-ready.Done():
	case <-ctx.Done():
		t.Fatalf("the store never connected:\n%s", logs.String())
	}
	if err := eng.WaitUntilReady(ctx); err != nil {
		t.Fatal(err)
	}
	id, err := eng.DispatchByName(ctx, "late.double", json.RawMessage("21"))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := eng.WaitFor(ctx, id); err != nil || string(res.Value) != "42" {
		t.Fatalf("result %s %v", res.Value, err)
	}
	if code, body := get(t, base+"/readyz"); code != 200 {
		t.Fatalf("/readyz %d %s once connected", code, body)
	}
	if !strings.Contains(logs.String(), "store connected") {
		t.Errorf("the log does not say the store connected:\n%s", logs.String())
	}
}
