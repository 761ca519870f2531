package sqlitestore_test

import (
	"path/filepath"
	"testing"

	"github.com/stenthq/stent/adapters/sqlstore/sqlitestore"
)

// newTestStore opens a fresh migrated store in the test's temporary
// directory and closes it in t.Cleanup.
func newTestStore(t *testing.T) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(t.Context(), sqlitestore.Config{Path: filepath.Join(t.TempDir(), "stent.db")})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// newBenchStore opens a fresh store for a benchmark.
func newBenchStore(b *testing.B) *sqlitestore.Store {
	b.Helper()
	s, err := sqlitestore.Open(b.Context(), sqlitestore.Config{Path: filepath.Join(b.TempDir(), "bench.db")})
	if err != nil {
		b.Fatalf("open: %v", err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}
