package pgxstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/sqlstore/pgxstore"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/testenv/teststore"
	"github.com/stenthq/stent/ports"
)

// TestClaimSkipsAKeyedGroupWhoseLockAnotherSessionHolds holds the advisory
// lock of one concurrency key's slot in another session: the claim, which
// takes the group locks inside its candidate read, skips that key's task
// (never waits, never decides on it unlocked) and claims the task of a
// key in another slot behind it; once the lock is released the skipped
// task is claimed.
func TestClaimSkipsAKeyedGroupWhoseLockAnotherSessionHolds(t *testing.T) {
	t.Parallel()
	schema := teststore.NewSchema(t)
	pool := teststore.Pool(t, 2)
	s := teststore.PostgresIn(t, pool, schema)
	ctx := t.Context()

	// Two keys in different lock slots (the slot is hashtext(key) & 127).
	slot := func(key string) int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT hashtext($1) & 127`, key).Scan(&n); err != nil {
			t.Fatalf("slot of %q: %v", key, err)
		}
		return n
	}
	busy := "function:keyed:busy"
	free := ""
	for i := 0; free == ""; i++ {
		if k := fmt.Sprintf("function:keyed:free-%d", i); slot(k) != slot(busy) {
			free = k
		}
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, key := range []string{busy, free} { // busy first in claim order
		id := fmt.Sprintf("e%d", i)
		exec := domain.Execution{ID: id, RootFunction: "keyed", RootTaskID: id + "/root", CreatedAt: now}
		root := domain.Task{ID: id + "/root", ExecutionID: id, Kind: domain.KindOrchestrator, StepName: "keyed",
			MaxConcurrent: 5, ConcurrencyKey: key, CreatedAt: now.Add(time.Duration(i) * time.Millisecond)}
		if _, _, err := ports.CreateExecution(ctx, s, exec, root); err != nil {
			t.Fatalf("create %s: %v", id, err)
		}
	}

	holder, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Rollback(ctx) }()
	if _, err := holder.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, pgxstore.FlowLockSpace(schema, "concurrency"), slot(busy)); err != nil {
		t.Fatalf("hold the lock: %v", err)
	}
	claim := func() []string {
		got, err := s.ClaimTasks(ctx, ports.ClaimParams{WorkerID: "w", Functions: []string{"keyed"}, Limit: 2, Now: now, Lease: time.Hour})
		if err != nil {
			t.Fatalf("claim: %v", err)
		}
		var keys []string
		for _, c := range got {
			keys = append(keys, c.ConcurrencyKey)
		}
		return keys
	}
	if got := claim(); len(got) != 1 || got[0] != free {
		t.Fatalf("claim while %q's lock is held = %q; want only %q", busy, got, free)
	}
	if err := holder.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if got := claim(); len(got) != 1 || got[0] != busy {
		t.Fatalf("claim after the lock is released = %q; want %q", got, busy)
	}
}
