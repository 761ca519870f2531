package sqlitestore

import (
	"slices"
	"testing"
)

// TestWriterPageCache checks the writer connection's page cache: 16 MiB by
// default (features/082), CacheMiB when set, as SQLite reports it back.
func TestWriterPageCache(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		mib  int
		want int64
	}{{0, -16 * 1024}, {64, -64 * 1024}} {
		cfg := Config{Path: "unused.db", CacheMiB: c.mib}
		if err := cfg.validate(); err != nil {
			t.Fatal(err)
		}
		opts := writerOptions(cfg, "_pragma=busy_timeout(5000)", "_pragma=synchronous(NORMAL)")
		var got int64
		err := rawDB(t, opts...).QueryRow("PRAGMA cache_size").Scan(&got)
		if err != nil || got != c.want {
			t.Fatalf("CacheMiB %d: PRAGMA cache_size = %d, %v; want %d (options %v)", c.mib, got, err, c.want, opts)
		}
		if !slices.Contains(opts, "_pragma=temp_store(MEMORY)") {
			t.Fatalf("writer options %v lost temp_store(MEMORY)", opts)
		}
	}
}
