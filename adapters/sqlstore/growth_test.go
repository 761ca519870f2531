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
	held  int64 // what TableRows answers
	mu    sync.Mutex
	calls int
	reads int
}

func (d *analyzeCounter) TableRows(context.Context, *sql.DB) (int64, error) {
	d.mu.Lock()
	d.reads++
	d.mu.Unlock()
	return d.held, nil
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

// A store opened over tables that already hold rows counts the doubling
// from what they hold: over a million rows it never analyzes (each
// ANALYZE of them took a core for 600 ms, after every worker start: W5),
// and it reads the estimate once.
func TestTheStoreAnalyzesOnlyTablesItsInsertsHaveGrown(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		held int64
		want int
	}{
		{0, 8},         // empty (or never analyzed): 512 to 65,536
		{1000, 7},      // 1,024 to 65,536
		{40_000, 1},    // 65,536
		{1 << 20, 0},   // a million rows: autovacuum's
		{100 << 20, 0}, // far past
	} {
		d := &analyzeCounter{held: tc.held}
		s, err := New(Options{Dialect: d, Write: &sql.DB{}})
		if err != nil {
			t.Fatal(err)
		}
		for range 1 << 17 {
			s.noteInserted(1)
			s.growth.wg.Wait()
		}
		_ = s.Close()
		if d.calls != tc.want || d.reads != 1 {
			t.Errorf("held %d: %d analyzes and %d estimate reads; want %d and 1", tc.held, d.calls, d.reads, tc.want)
		}
	}
}
