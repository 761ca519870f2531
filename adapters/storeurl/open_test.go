package storeurl_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stenthq/stent/adapters/storeurl"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/testenv"
)

func TestOpenReadOnlyCreatesNothing(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "missing.sqlite")
	_, err := storeurl.Open(context.Background(), path, storeurl.Options{ReadOnly: true})
	if !errors.Is(err, domain.ErrNotFound) || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("error %v", err)
	}
	if _, statErr := os.Stat(path); !os.IsNotExist(statErr) {
		t.Fatalf("a read-only open created %s", path)
	}
	st, err := storeurl.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "new.sqlite"), storeurl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cur, latest, err := st.SchemaVersion(context.Background())
	if err != nil || cur != latest {
		t.Fatalf("schema %d/%d %v", cur, latest, err)
	}
	_ = st.Close()
}

func TestOpenKeepsTheURLsAutoMigrateOff(t *testing.T) {
	t.Parallel()
	// auto_migrate=false in a sqlite:// URL used to be overridden by the
	// caller's default (migrate), creating the schema.
	st, err := storeurl.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "new.sqlite")+"?auto_migrate=false", storeurl.Options{})
	if err == nil {
		_ = st.Close()
	}
	if !errors.Is(err, domain.ErrSchemaVersion) {
		t.Fatalf("Open = %v; want ErrSchemaVersion (the URL turned auto-migration off)", err)
	}
}

func TestOpenRejectsWhatParseRejects(t *testing.T) {
	t.Parallel()
	if _, err := storeurl.Open(context.Background(), "mysql://bob:s3cret@h/db", storeurl.Options{}); !errors.Is(err, domain.ErrInvalidArgument) ||
		strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Open = %v; want ErrInvalidArgument without the password", err)
	}
}

func TestOpenAnUnreachablePostgreSQL(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{
		"postgres://bob:s3cret@127.0.0.1:1/app?connect_timeout=5",
		"host=127.0.0.1 port=1 user=bob password=s3cret dbname=app connect_timeout=5",
	} {
		t.Run(raw[:8], func(t *testing.T) {
			t.Parallel()
			_, err := storeurl.Open(t.Context(), raw, storeurl.Options{})
			if !errors.Is(err, domain.ErrUnavailable) || !strings.Contains(err.Error(), "xxxxx") || strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("Open = %v; want ErrUnavailable naming the masked value", err)
			}
			st, err := storeurl.Open(t.Context(), raw, storeurl.Options{Lazy: true})
			if err != nil {
				t.Fatalf("a lazy Open reached for the server: %v", err)
			}
			defer st.Close()
			if err := st.Ping(t.Context()); !errors.Is(err, domain.ErrUnavailable) {
				t.Fatalf("Ping of a lazy store = %v; want ErrUnavailable", err)
			}
		})
	}
}

// TestOpenAKeyValueDSN opens the test server through a key=value DSN
// (once mistaken for a SQLite file name) selecting a schema of its own.
func TestOpenAKeyValueDSN(t *testing.T) {
	t.Parallel()
	raw, schema := testenv.PostgresSchema(t, "storeurl_")
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	kv := fmt.Sprintf("host=%s port=%s user=%s dbname=%s sslmode=disable search_path=%s",
		u.Hostname(), u.Port(), u.User.Username(), strings.TrimPrefix(u.Path, "/"), schema)
	if pw, ok := u.User.Password(); ok {
		kv += " password=" + pw
	}
	if b, err := storeurl.Parse(kv); err != nil || b != storeurl.Postgres {
		t.Fatalf("Parse(%q) = %q, %v; want postgres", storeurl.Mask(kv), b, err)
	}
	st, err := storeurl.Open(t.Context(), kv, storeurl.Options{})
	if err != nil {
		t.Fatalf("Open(%q): %v", storeurl.Mask(kv), err)
	}
	defer st.Close()
	cur, latest, err := st.SchemaVersion(t.Context())
	if err != nil || cur != latest {
		t.Fatalf("schema %d/%d %v", cur, latest, err)
	}
	var n int
	conn, err := pgx.Connect(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM information_schema.tables WHERE table_schema = $1`, schema).Scan(&n); err != nil || n == 0 {
		t.Fatalf("%d tables in schema %s (%v); want the store's tables there", n, schema, err)
	}
}
