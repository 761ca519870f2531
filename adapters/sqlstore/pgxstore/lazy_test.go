package pgxstore_test

import (
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/stenthq/stent/adapters/sqlstore/pgxstore"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/testenv"
	"github.com/stenthq/stent/internal/testenv/teststore"
	"github.com/stenthq/stent/ports"
)

// schemaDSN returns the test DSN (with a short connect timeout) and a
// fresh schema, dropped at the end.
func schemaDSN(t *testing.T) (dsn, schema string) {
	t.Helper()
	dsn, schema = testenv.PostgresSchema(t, "stent_test_")
	return testenv.WithParams(t, dsn, "connect_timeout", "5"), schema
}

func isConnected(s *pgxstore.Store) bool {
	select {
	case <-s.Connected():
		return true
	default:
		return false
	}
}

// TestALazyStoreAnswersUnavailableUntilConnected opens a store before
// connecting it: calls fail with ErrUnavailable, Connect migrates, and the
// same store then serves until Close.
func TestALazyStoreAnswersUnavailableUntilConnected(t *testing.T) {
	t.Parallel()
	dsn, schema := schemaDSN(t)
	s, err := pgxstore.Open(t.Context(), dsn, pgxstore.Config{Schema: schema, Lazy: true})
	if err != nil {
		t.Fatalf("lazy open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	if err := s.Ping(ctx); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("Ping before Connect = %v; want ErrUnavailable", err)
	}
	if _, err := s.ListExecutions(ctx, ports.ExecutionFilter{}); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("ListExecutions before Connect = %v; want ErrUnavailable", err)
	}
	if _, _, err := s.SchemaVersion(ctx); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("SchemaVersion before Connect = %v; want ErrUnavailable", err)
	}
	if isConnected(s) {
		t.Fatal("Connected is closed before Connect")
	}
	if err := s.Connect(ctx); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if !isConnected(s) {
		t.Fatal("Connected is still open after Connect")
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping after Connect: %v", err)
	}
	if cur, latest, err := s.SchemaVersion(ctx); err != nil || cur != latest || cur == 0 {
		t.Fatalf("SchemaVersion after Connect = %d/%d %v; want migrated", cur, latest, err)
	}
	if err := s.Connect(ctx); err != nil {
		t.Fatalf("a second Connect: %v; want a no-op", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); !errors.Is(err, domain.ErrClosed) {
		t.Fatalf("Ping after Close = %v; want ErrClosed", err)
	}
	if err := s.Connect(ctx); !errors.Is(err, domain.ErrClosed) {
		t.Fatalf("Connect after Close = %v; want ErrClosed", err)
	}
	if err := s.Pool().Ping(ctx); err == nil {
		t.Fatal("the pool still answers after Close; the lazy store owns it")
	}
}

func TestConnect(t *testing.T) {
	t.Parallel()
	t.Run("an unreachable server is unavailable, masked, and keeps the store waiting", func(t *testing.T) {
		t.Parallel()
		s, err := pgxstore.Open(t.Context(), "postgres://bob:s3cret@127.0.0.1:1/app?connect_timeout=5", pgxstore.Config{Lazy: true})
		if err != nil {
			t.Fatalf("a lazy open reached for the server: %v", err)
		}
		defer s.Close()
		err = s.Connect(t.Context())
		if !errors.Is(err, domain.ErrUnavailable) || !strings.Contains(err.Error(), "bob:xxxxx@127.0.0.1:1") || strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("Connect = %v; want ErrUnavailable naming the masked DSN", err)
		}
		if err := s.Ping(t.Context()); !errors.Is(err, domain.ErrUnavailable) || strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("Ping after a failed Connect = %v; want ErrUnavailable, masked", err)
		}
	})
	t.Run("a lazy open still rejects a malformed DSN", func(t *testing.T) {
		t.Parallel()
		if _, err := pgxstore.Open(t.Context(), "host=db password=s3cret bogus", pgxstore.Config{Lazy: true}); !errors.Is(err, domain.ErrInvalidArgument) {
			t.Fatalf("lazy Open = %v; want ErrInvalidArgument", err)
		}
	})
	t.Run("an older schema without auto-migration is a schema error, not unavailable", func(t *testing.T) {
		t.Parallel()
		dsn, schema := schemaDSN(t)
		s, err := pgxstore.Open(t.Context(), dsn, pgxstore.Config{Schema: schema, Lazy: true, NoAutoMigrate: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Connect(t.Context()); !errors.Is(err, domain.ErrSchemaVersion) || errors.Is(err, domain.ErrUnavailable) {
			t.Fatalf("Connect = %v; want ErrSchemaVersion only", err)
		}
		if err := s.Ping(t.Context()); !errors.Is(err, domain.ErrUnavailable) {
			t.Fatalf("Ping = %v; the store must stay shut", err)
		}
	})
	t.Run("a store opened eagerly is connected at once", func(t *testing.T) {
		t.Parallel()
		s := teststore.Postgres(t)
		if !isConnected(s) {
			t.Fatal("Connected is open on an eager store")
		}
		if err := s.Connect(t.Context()); err != nil {
			t.Fatalf("Connect on an eager store: %v", err)
		}
	})
	t.Run("a database that comes up late is connected by a later attempt", func(t *testing.T) {
		t.Parallel()
		dsn, schema := schemaDSN(t)
		u, _ := url.Parse(dsn)
		target := u.Host
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		u.Host = ln.Addr().String()
		_ = ln.Close() // nothing listens there yet
		s, err := pgxstore.Open(t.Context(), u.String(), pgxstore.Config{Schema: schema, Lazy: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Connect(t.Context()); !errors.Is(err, domain.ErrUnavailable) {
			t.Fatalf("Connect with the database down = %v; want ErrUnavailable", err)
		}
		ln, err = net.Listen("tcp", u.Host)
		if err != nil {
			t.Skipf("the port was taken meanwhile: %v", err)
		}
		p := &proxy{ln: ln, target: target}
		p.wg.Go(p.accept)
		t.Cleanup(p.cut)
		if err := s.Connect(t.Context()); err != nil {
			t.Fatalf("Connect once the database is up: %v", err)
		}
		if _, err := s.ListExecutions(t.Context(), ports.ExecutionFilter{}); err != nil {
			t.Fatalf("ListExecutions once connected: %v", err)
		}
	})
}

// TestTheStoreKeepsNoIdleConnectionsOutOfThePool: database/sql must hand
// every connection back to the pool (as stdlib.OpenDBFromPool does), or a
// small pool starves its direct users.
func TestTheStoreKeepsNoIdleConnectionsOutOfThePool(t *testing.T) {
	t.Parallel()
	s := teststore.Postgres(t)
	for range 3 {
		if _, err := s.ListExecutions(t.Context(), ports.ExecutionFilter{}); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Pool().Stat().AcquiredConns(); n != 0 {
		t.Fatalf("%d pool connections still acquired after the calls returned; want 0", n)
	}
}
