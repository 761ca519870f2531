package contract

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// RunBenchmarks measures the store's hot paths, each on a fresh store from
// newStore (which registers its own cleanup): dispatching executions one
// at a time and from parallel goroutines, claiming and completing no-op
// tasks in batches and one at a time, and creating fan-out steps. Call it
// from a Benchmark function:
//
//	func BenchmarkStore(b *testing.B) { contract.RunBenchmarks(b, newBenchStore) }
func RunBenchmarks(b *testing.B, newStore func(b *testing.B) ports.Store) {
	for _, bench := range []struct {
		name string
		run  func(b *testing.B, s ports.Store)
	}{
		{"CreateExecution", benchCreateExecution},
		{"CreateExecutionParallel", benchCreateExecutionParallel},
		{"NoopTasks", benchNoopTasks},
		{"JobOneByOne", benchJobOneByOne},
		{"CreateSteps", benchCreateSteps},
		{"CreateStepsBatch", benchCreateStepsBatch},
	} {
		b.Run(bench.name, func(b *testing.B) { bench.run(b, newStore(b)) })
	}
}

// benchCreateExecution measures dispatching root-only executions.
func benchCreateExecution(b *testing.B, s ports.Store) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	b.ResetTimer()
	for i := range b.N {
		exec, root := benchExecution(i, now)
		if _, _, err := ports.CreateExecution(b.Context(), s, exec, root); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "executions/s")
}

// benchCreateExecutionParallel dispatches from 4 goroutines per CPU at
// once (PostgreSQL commits them in groups; SQLite serialises its one
// writer).
func benchCreateExecutionParallel(b *testing.B, s ports.Store) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var next atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			exec, root := benchExecution(int(next.Add(1)), now)
			if _, _, err := ports.CreateExecution(b.Context(), s, exec, root); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "executions/s")
}

func benchExecution(i int, now time.Time) (domain.Execution, domain.Task) {
	id := fmt.Sprintf("e%09d", i)
	exec := domain.Execution{ID: id, RootFunction: "noop", RootTaskID: id + "/r", Queue: "default",
		Input: []byte(`{}`), CreatedAt: now}
	root := domain.Task{ID: id + "/r", ExecutionID: id, Kind: domain.KindOrchestrator, StepName: "noop",
		Queue: "default", Input: exec.Input, RetryPolicy: domain.DefaultRetryPolicy(), CreatedAt: now}
	return exec, root
}

// dispatchJobs dispatches b.N root-only executions created at now, then
// resets the timer.
func dispatchJobs(b *testing.B, s ports.Store, now time.Time) {
	for i := range b.N {
		exec, root := benchExecution(i, now)
		if _, _, err := ports.CreateExecution(b.Context(), s, exec, root); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
}

// benchNoopTasks measures the store side of no-op tasks: b.N root-only
// executions are dispatched (not timed), then 4 workers claim batches of 64
// and complete each batch with one CompleteTasks call.
func benchNoopTasks(b *testing.B, s ports.Store) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	dispatchJobs(b, s, now)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for {
				got, err := s.ClaimTasks(b.Context(), ports.ClaimParams{WorkerID: fmt.Sprint("w", w),
					Functions: []string{"noop"}, Limit: 64, Now: now, Lease: time.Minute})
				if err != nil {
					b.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				ps := make([]ports.CompleteParams, len(got))
				for i, t := range got {
					ps[i] = ports.CompleteParams{Fence: t.Fence(), Result: []byte(`null`), Now: now}
				}
				res, err := s.CompleteTasks(b.Context(), ps)
				if err != nil {
					b.Error(err)
					return
				}
				for _, r := range res {
					if err := r.Err; err != nil {
						b.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
}

// benchJobOneByOne measures the store side of a job's latency path: b.N
// root-only executions are dispatched (not timed), then one worker claims
// them one at a time and completes each alone (the Lone hint), as a
// worker that is never busy does.
func benchJobOneByOne(b *testing.B, s ports.Store) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	dispatchJobs(b, s, now)
	for range b.N {
		got, err := s.ClaimTasks(b.Context(), ports.ClaimParams{WorkerID: "w",
			Functions: []string{"noop"}, Limit: 1, Now: now, Lease: time.Minute})
		if err != nil || len(got) != 1 {
			b.Fatalf("claim: %v, %v", got, err)
		}
		if err := ports.CompleteTask(b.Context(), s, ports.CompleteParams{Fence: got[0].Fence(), Result: []byte(`null`),
			Now: now, Lone: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// benchCreateSteps measures a fan-out: one running parent creates its
// child steps 100 per CreateSteps call.
func benchCreateSteps(b *testing.B, s ports.Store) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	exec, root := benchExecution(0, now)
	if _, _, err := ports.CreateExecution(b.Context(), s, exec, root); err != nil {
		b.Fatal(err)
	}
	got, err := s.ClaimTasks(b.Context(), ports.ClaimParams{WorkerID: "w", Functions: []string{"noop"}, Limit: 1, Now: now, Lease: time.Hour})
	if err != nil || len(got) != 1 {
		b.Fatalf("claim parent: %v, %v", got, err)
	}
	parent := got[0]
	b.ResetTimer()
	for start := 0; start < b.N; start += 100 {
		var specs []ports.StepSpec
		for n := start + 1; n <= min(start+100, b.N); n++ {
			specs = append(specs, ports.StepSpec{ID: domain.StepID(exec.ID, parent.ID, n), Position: n,
				Kind: domain.KindActivity, StepName: "child", Input: []byte(`{}`), Queue: "default",
				RetryPolicy: domain.DefaultRetryPolicy()})
		}
		if _, err := ports.CreateSteps(b.Context(), s, parent.Fence(), specs, nil, now); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
}

// benchCreateStepsBatch measures the checkpoints of many workflows (W2's
// hot path): 100 running parents each record one completed inline step
// per CreateStepsBatch call.
func benchCreateStepsBatch(b *testing.B, s ports.Store) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const parents = 100
	for i := range parents {
		exec, root := benchExecution(i, now)
		if _, _, err := ports.CreateExecution(b.Context(), s, exec, root); err != nil {
			b.Fatal(err)
		}
	}
	got, err := s.ClaimTasks(b.Context(), ports.ClaimParams{WorkerID: "w", Functions: []string{"noop"}, Limit: parents, Now: now, Lease: time.Hour})
	if err != nil || len(got) != parents {
		b.Fatalf("claim parents: %d, %v", len(got), err)
	}
	b.ResetTimer()
	for pos := 1; (pos-1)*parents < b.N; pos++ {
		reqs := make([]ports.CreateStepsRequest, 0, parents)
		for _, p := range got[:min(parents, b.N-(pos-1)*parents)] {
			reqs = append(reqs, ports.CreateStepsRequest{Parent: p.Fence(), Now: now, Specs: []ports.StepSpec{{
				ID: domain.StepID(p.ExecutionID, p.ID, pos), Position: pos, Kind: domain.KindActivity,
				StepName: "child", Input: []byte(`{}`), Queue: "default", RetryPolicy: domain.DefaultRetryPolicy(),
				Completed: &ports.StepOutcome{Result: []byte(`1`), StartedAt: now}}}})
		}
		res, err := s.CreateStepsBatch(b.Context(), reqs)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
}
