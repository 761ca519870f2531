package stentfx_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/stentfx"
)

// serviceURL returns the service URL in env, or skips (fails when
// STENT_REQUIRE_SERVICES=1).
func serviceURL(t *testing.T, env string) string {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		if os.Getenv("STENT_REQUIRE_SERVICES") == "1" {
			t.Fatalf("%s is unset and STENT_REQUIRE_SERVICES=1", env)
		}
		t.Skipf("%s is unset", env)
	}
	return v
}

// postgresSchemaDSN returns the test DSN selecting a fresh schema (dropped
// at the end).
func postgresSchemaDSN(t *testing.T) string {
	t.Helper()
	dsn := serviceURL(t, "STENT_TEST_POSTGRES_DSN")
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "stentfx_" + hex.EncodeToString(b)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Logf("dropping schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Logf("dropping schema %s: %v", schema, err)
		}
	})
	return u.String()
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
		{"with the Redis notifier", func(t *testing.T, cfg *stentfx.Config) { cfg.RedisURL = serviceURL(t, "STENT_TEST_REDIS_URL") }},
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
				srv *stentfx.Server
				eng *app.Engine
			)
			fxApp := fxtest.New(t, stentfx.Module, fx.Replace(cfg), fx.Supply(&stentfx.LogWriter{Writer: io.Discard}),
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
