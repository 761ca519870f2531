package pgxstore_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/sqlstore/pgxstore"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/testenv"
	"github.com/stenthq/stent/internal/testenv/teststore"
	"github.com/stenthq/stent/ports"
)

func TestMaskDSN(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"postgres://bob:s3cret@db:5432/app?sslmode=disable", "postgres://bob:xxxxx@db:5432/app?sslmode=disable"},
		{"postgres://bob@db/app", "postgres://bob@db/app"},
		{"postgresql://db/app?password=s3cret&user=bob", "postgresql://db/app?password=xxxxx&user=bob"},
		{"host=db user=bob password=s3cret dbname=app", "host=db user=bob password=xxxxx dbname=app"},
		{"host=db password='s3 cret' dbname=app", "host=db password=xxxxx dbname=app"},
		{"postgres://bob:s3cret@db:bad port/app", "postgres://bob:xxxxx@db:bad port/app"},
	}
	for _, c := range cases {
		if got := pgxstore.MaskDSN(c.in); got != c.want {
			t.Errorf("MaskDSN(%q) = %q; want %q", c.in, got, c.want)
		}
	}
}

func TestOpenRejectsBadDSN(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, dsn string
		want      error
		naming    string
	}{
		{"an empty DSN is invalid", "", domain.ErrInvalidArgument, "DSN is empty"},
		{"a blank DSN is invalid", "   ", domain.ErrInvalidArgument, "DSN is empty"},
		{"a malformed URL is invalid and masked", "postgres://bob:s3cret@db:notaport/app", domain.ErrInvalidArgument, "bob:xxxxx@db"},
		{"an unknown key is invalid and masked", "host=db password=s3cret bogus", domain.ErrInvalidArgument, "password=xxxxx"},
		{"an unreachable server is unavailable and masked", "postgres://bob:s3cret@127.0.0.1:1/app?connect_timeout=5",
			domain.ErrUnavailable, "postgres://bob:xxxxx@127.0.0.1:1/app"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, err := pgxstore.Open(t.Context(), c.dsn, pgxstore.Config{})
			if err == nil {
				_ = s.Close()
				t.Fatalf("Open(%q) succeeded", c.dsn)
			}
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.naming) {
				t.Fatalf("Open(%q) = %v; want %v naming %s", c.dsn, err, c.want, c.naming)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("Open(%q) error prints the password: %v", c.dsn, err)
			}
		})
	}
}

func TestOpenOwnsItsPool(t *testing.T) {
	t.Parallel()
	dsn := testenv.PostgresDSN(t)
	schema := teststore.NewSchema(t)
	s, err := pgxstore.Open(t.Context(), dsn, pgxstore.Config{Schema: schema})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := s.Pool().Ping(t.Context()); err == nil {
		t.Fatalf("the pool still answers after Close; Open's store owns and closes it")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	_, err = s.ClaimTasks(t.Context(), ports.ClaimParams{WorkerID: "w", Functions: []string{"f"}, Limit: 1, Lease: time.Second})
	if !errors.Is(err, domain.ErrClosed) {
		t.Fatalf("ClaimTasks after Close = %v; want ErrClosed", err)
	}
}

func TestNewLeavesTheCallersPoolOpen(t *testing.T) {
	t.Parallel()
	pool := teststore.Pool(t, 2)
	s, err := pgxstore.New(t.Context(), pool, pgxstore.Config{Schema: teststore.NewSchema(t)})
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := pool.Ping(t.Context()); err != nil {
		t.Fatalf("caller's pool after Close: %v", err)
	}
	if err := s.Ping(t.Context()); !errors.Is(err, domain.ErrClosed) {
		t.Fatalf("Ping after Close = %v; want ErrClosed", err)
	}
}
