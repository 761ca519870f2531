package pgxstore_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/sqlstore/pgxstore"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/testenv/teststore"
	"github.com/stenthq/stent/ports"
)

// TestLimitHoldsAcrossSeparateConnections runs 8 claimers, each with its
// own store and pool (so its own server sessions), on one schema. The
// number of claimed-but-not-finished tasks never exceeds the limit, and
// every task runs exactly once.
func TestLimitHoldsAcrossSeparateConnections(t *testing.T) {
	t.Parallel()
	const (
		claimers = 8
		tasks    = 80
		limit    = 3
	)
	schema := teststore.NewSchema(t)
	stores := make([]*pgxstore.Store, claimers)
	for i := range stores {
		s, err := pgxstore.New(t.Context(), teststore.Pool(t, 1), pgxstore.Config{Schema: schema})
		if err != nil {
			t.Fatalf("store %d: %v", i, err)
		}
		t.Cleanup(func() { _ = s.Close() })
		stores[i] = s
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range tasks {
		id := fmt.Sprintf("e%03d", i)
		exec := domain.Execution{ID: id, RootFunction: "limited", RootTaskID: id + "/root", Queue: "q", CreatedAt: now}
		root := domain.Task{ID: id + "/root", ExecutionID: id, Kind: domain.KindOrchestrator, StepName: "limited",
			Queue: "q", MaxConcurrent: limit, CreatedAt: now.Add(time.Duration(i) * time.Microsecond)}
		if _, _, err := ports.CreateExecution(t.Context(), stores[0], exec, root); err != nil {
			t.Fatalf("create %s: %v", id, err)
		}
	}

	var (
		inflight, peak, finished atomic.Int64
		mu                       sync.Mutex
		seen                     = map[string]int{}
		wg                       sync.WaitGroup
	)
	start := make(chan struct{})
	for i, s := range stores {
		wg.Go(func() {
			<-start
			worker := fmt.Sprintf("w%d", i)
			for finished.Load() < tasks {
				got, err := s.ClaimTasks(t.Context(), ports.ClaimParams{
					WorkerID: worker, Functions: []string{"limited"}, Limit: 2, Now: now, Lease: time.Hour,
				})
				if err != nil {
					t.Errorf("%s claim: %v", worker, err)
					return
				}
				n := inflight.Add(int64(len(got)))
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				for _, task := range got {
					mu.Lock()
					seen[task.ID]++
					mu.Unlock()
					// Leave the in-flight count before the completion
					// commits: the server still counts the task as running.
					inflight.Add(-1)
					if err := ports.CompleteTask(t.Context(), s, ports.CompleteParams{Fence: task.Fence(), Now: now}); err != nil {
						t.Errorf("%s complete %s: %v", worker, task.ID, err)
						return
					}
					finished.Add(1)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if p := peak.Load(); p > limit {
		t.Errorf("peak concurrency %d exceeds the limit %d", p, limit)
	}
	if len(seen) != tasks {
		t.Errorf("%d distinct tasks ran; want %d", len(seen), tasks)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("task %s claimed %d times", id, n)
		}
	}
}
