package app_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/ports"
)

// completionRecorder records the Lone hint of every completion, by task.
type completionRecorder struct {
	ports.Store
	mu   sync.Mutex
	lone map[string]bool
}

func (s *completionRecorder) CompleteTasks(ctx context.Context, ps []ports.CompleteParams) ([]ports.CompleteResult, error) {
	s.mu.Lock()
	for _, p := range ps {
		s.lone[p.Fence.TaskID] = p.Lone
	}
	s.mu.Unlock()
	return s.Store.CompleteTasks(ctx, ps)
}

// The engine hints Lone (ports.CompleteParams) for a job's root, which
// the PostgreSQL store completes in one statement, and for nothing else:
// not for a root that called a step, not for the step.
func TestTheEngineHintsLoneOnlyForAJobsRoot(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	reg := app.NewRegistry()
	job := app.Register(reg, "job", func(_ context.Context, n int) (int, error) { return n + 1, nil })
	slow := app.Register(reg, "slow-step", func(_ context.Context, n int) (int, error) { return n * 2, nil })
	wf := app.Register(reg, "wf", func(ctx context.Context, n int) (int, error) {
		f := slow.Async(ctx, n) // a claimed step, completed through the store
		return f.Get(ctx)
	})
	st := &completionRecorder{Store: memstore.New(), lone: map[string]bool{}}
	eng := newEngine(t, st, reg)
	runWorker(t, eng)

	jobID, err := job.Dispatch(ctx, eng, 1)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := job.Await(ctx, eng, jobID); err != nil || out != 2 {
		t.Fatalf("job = %d, %v", out, err)
	}
	wfID, err := wf.Dispatch(ctx, eng, 3)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := wf.Await(ctx, eng, wfID); err != nil || out != 6 {
		t.Fatalf("wf = %d, %v", out, err)
	}
	jobExec, err := st.GetExecution(ctx, jobID)
	if err != nil {
		t.Fatal(err)
	}
	wfExec, err := st.GetExecution(ctx, wfID)
	if err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.lone[jobExec.RootTaskID] {
		t.Errorf("the job's root completed without the Lone hint: %v", st.lone)
	}
	if lone, ok := st.lone[wfExec.RootTaskID]; !ok || lone {
		t.Errorf("the workflow's root (it called a step): hint %v, recorded %v; want completed without Lone", lone, ok)
	}
	steps := 0
	for id, lone := range st.lone {
		if id != jobExec.RootTaskID && id != wfExec.RootTaskID {
			steps++
			if lone {
				t.Errorf("step %s completed with the Lone hint", id)
			}
		}
	}
	if steps == 0 {
		t.Errorf("no step completion went through the store: %v", st.lone)
	}
}
