package stentfx_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/stentfx"
)

func TestParseDSN(t *testing.T) {
	t.Parallel()
	for dsn, want := range map[string]stentfx.Backend{
		"postgres://u:p@h/db":      stentfx.BackendPostgres,
		"postgresql://h/db":        stentfx.BackendPostgres,
		"sqlite://stent.sqlite":    stentfx.BackendSQLite,
		"stent.sqlite":             stentfx.BackendSQLite,
		"/var/lib/stent/db.sqlite": stentfx.BackendSQLite,
		"./my-postgres://x.sqlite": stentfx.BackendSQLite, // never matched by substring
	} {
		got, err := stentfx.ParseDSN(dsn)
		if err != nil || got != want {
			t.Errorf("ParseDSN(%q) = %q, %v; want %q", dsn, got, err, want)
		}
	}
	for _, dsn := range []string{"", "  ", "mysql://h/db", "redis://h"} {
		if _, err := stentfx.ParseDSN(dsn); !errors.Is(err, domain.ErrInvalidArgument) {
			t.Errorf("ParseDSN(%q): %v, want ErrInvalidArgument", dsn, err)
		}
	}
}

func TestMaskDSNHidesThePassword(t *testing.T) {
	t.Parallel()
	if got := stentfx.MaskDSN("postgres://bob:s3cret@db:5432/x"); strings.Contains(got, "s3cret") {
		t.Fatalf("MaskDSN leaked the password: %s", got)
	}
}

func TestOpenStoreReadOnlyCreatesNothing(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "missing.sqlite")
	_, err := stentfx.OpenStore(context.Background(), path, stentfx.StoreOptions{ReadOnly: true})
	if !errors.Is(err, domain.ErrNotFound) || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("error %v", err)
	}
	if _, statErr := os.Stat(path); !os.IsNotExist(statErr) {
		t.Fatalf("a read-only open created %s", path)
	}
	st, err := stentfx.OpenStore(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "new.sqlite"), stentfx.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur, latest, err := st.SchemaVersion(context.Background())
	if err != nil || cur != latest {
		t.Fatalf("schema %d/%d %v", cur, latest, err)
	}
	_ = st.Close()
}

func TestNotifierKindAutoFollowsTheDeployment(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cfg  stentfx.Config
		want string
	}{
		{stentfx.Config{DB: "stent.sqlite"}, stentfx.NotifierLocal},
		{stentfx.Config{DB: "postgres://h/db"}, stentfx.NotifierPostgres},
		{stentfx.Config{DB: "postgres://h/db", RedisURL: "redis://h"}, stentfx.NotifierRedis},
		{stentfx.Config{DB: "postgres://h/db", Notifier: stentfx.NotifierLocal}, stentfx.NotifierLocal},
	} {
		if got := stentfx.NotifierKind(c.cfg); got != c.want {
			t.Errorf("NotifierKind(db %q, redis %q, notifier %q) = %q, want %q", c.cfg.DB, c.cfg.RedisURL, c.cfg.Notifier, got, c.want)
		}
	}
}
