package sqlstore

import (
	"context"
	"database/sql"
	"sync"
	"testing"
)

// analyzeCounter is a dialect that only counts Analyze calls.
type analyzeCounter struct {
	Dialect
	mu    sync.Mutex
	calls int
}

func (d *analyzeCounter) Analyze(context.Context, *sql.DB) error {
	d.mu.Lock()
	d.calls++
	d.mu.Unlock()
	return nil
}

// The store refreshes the statistics each time its inserted rows double,
// from 512 to 65,536, and then leaves it to autovacuum: one ANALYZE on a
// table past its sample size (30,000 rows) takes a core for hundreds of
// milliseconds, which showed as a stall in every dispatch's latency (W8).
func TestTheStoreAnalyzesWhileItsTablesAreSmallOnly(t *testing.T) {
	t.Parallel()
	d := &analyzeCounter{}
	s, err := New(Options{Dialect: d, Write: &sql.DB{}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	insert := func(n int) {
		for range n {
			s.noteInserted(1)
			s.growth.wg.Wait() // each analyze ends before the next insert
		}
	}
	calls := func() int { d.mu.Lock(); defer d.mu.Unlock(); return d.calls }

	insert(511)
	if n := calls(); n != 0 {
		t.Fatalf("%d analyzes below 512 rows; want 0", n)
	}
	insert(1) // 512
	if n := calls(); n != 1 {
		t.Fatalf("%d analyzes at 512 rows; want 1", n)
	}
	insert(1<<16 - 512) // 65,536: 1,024 2,048 ... 65,536
	if n := calls(); n != 8 {
		t.Fatalf("%d analyzes at 65,536 rows; want 8 (512 to 65,536 doubling)", n)
	}
	insert(1 << 20)
	if n := calls(); n != 8 {
		t.Fatalf("%d analyzes after 1M more rows; want still 8", n)
	}
}
