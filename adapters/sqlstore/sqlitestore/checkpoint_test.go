package sqlitestore

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// The writer leaves checkpoints to the background checkpointer: its own
// automatic checkpoint is only a safety bound far above SQLite's default
// of 1,000 pages, which stalled every write under load (features/088).
func TestTheWriterLeavesCheckpointsToTheBackground(t *testing.T) {
	t.Parallel()
	cfg := Config{Path: "unused.db"}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	opts := writerOptions(cfg, "_pragma=busy_timeout(5000)", "_pragma=synchronous(NORMAL)")
	var got int
	if err := rawDB(t, opts...).QueryRow("PRAGMA wal_autocheckpoint").Scan(&got); err != nil || got != walSafetyPages {
		t.Fatalf("the writer's wal_autocheckpoint = %d, %v; want %d (options %v)", got, err, walSafetyPages, opts)
	}
}

// Committed writes reach the database file through the background
// checkpointer, with no checkpoint by the writer (its bound is not
// reached) and no Close; Close then leaves no WAL behind.
func TestWritesAreCheckpointedInTheBackground(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ckpt.db")
	st, err := Open(t.Context(), Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	input := json.RawMessage(`"` + strings.Repeat("x", 1000) + `"`)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 2000 // about 2.5 MB of rows: well under walSafetyPages
	for b := 0; b < n; b += 500 {
		var reqs []ports.NewExecution
		for i := b; i < b+500; i++ {
			exec, root := newCheckpointExecution(fmt.Sprintf("e%05d", i), now, input)
			reqs = append(reqs, ports.NewExecution{Execution: exec, Root: root})
		}
		if _, err := st.CreateExecutions(t.Context(), reqs); err != nil {
			t.Fatal(err)
		}
	}
	want := before + n*1000
	for size() < want {
		select {
		case <-st.ckpt.ran:
		case <-time.After(30 * time.Second):
			t.Fatalf("the database file is %d bytes after the writes; want at least %d: no background checkpoint copied them", size(), want)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); !os.IsNotExist(err) {
		t.Fatalf("a WAL file is left after Close (%v)", err)
	}
}

func newCheckpointExecution(id string, now time.Time, input json.RawMessage) (domain.Execution, domain.Task) {
	exec := domain.Execution{ID: id, RootFunction: "wf", RootTaskID: id + "-root", Queue: domain.DefaultQueue,
		Input: input, CreatedAt: now}
	root := domain.Task{ID: id + "-root", ExecutionID: id, Kind: domain.KindOrchestrator, StepName: "wf",
		Queue: domain.DefaultQueue, Input: input, CreatedAt: now}
	return exec, root
}
