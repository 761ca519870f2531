package sqlitestore

import (
	"database/sql"
	"path/filepath"
	"testing"
)

// rawDB opens a database/sql handle on a fresh SQLite file in the test's
// temporary directory with the given URI options (fileURI), closed when
// the test ends: for tests of the driver's and dialect's behaviour below
// the store.
func rawDB(t *testing.T, opts ...string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", fileURI(filepath.Join(t.TempDir(), "raw.db"), opts))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}
