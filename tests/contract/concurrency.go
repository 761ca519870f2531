package contract

import (
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// manyCalls creates n calls of fn under root (in batches of 100), each
// with MaxConcurrent limit.
func (f *fixture) manyCalls(root domain.Task, fn string, n, limit int) []domain.Task {
	f.t.Helper()
	var all []domain.Task
	for from := 1; from <= n; from += 100 {
		var specs []ports.StepSpec
		for pos := from; pos < from+100 && pos <= n; pos++ {
			s := activitySpec(root, pos, fn)
			s.MaxConcurrent = limit
			specs = append(specs, s)
		}
		all = append(all, f.steps(root, at(time.Second), specs...)...)
	}
	return all
}

func testConcurrency(t *testing.T, h storeSuite) {
	h.run(t, "8 concurrent claimers claim each of 500 tasks exactly once", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		created := f.manyCalls(root, "bulk", 500, 0)

		var mu sync.Mutex
		seen := map[string]int{}
		errs := make(chan error, 8)
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				worker := fmt.Sprintf("claimer-%d", w)
				for {
					got, err := f.s.ClaimTasks(f.ctx, ports.ClaimParams{
						WorkerID: worker, Functions: []string{"bulk"}, Limit: 1 + w%4*3, Now: at(time.Minute), Lease: time.Hour,
					})
					if err != nil {
						errs <- fmt.Errorf("%s: ClaimTasks: %w", worker, err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, c := range got {
						seen[c.ID]++
						if c.WorkerID != worker || c.Attempt != 1 || c.State != domain.TaskRunning {
							errs <- fmt.Errorf("%s claimed %s as worker %q, attempt %d, state %s", worker, c.ID, c.WorkerID, c.Attempt, c.State)
						}
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("%s: %v", f.name, err)
		}
		lost, twice := 0, 0
		for _, c := range created {
			switch seen[c.ID] {
			case 0:
				lost++
			case 1:
			default:
				twice++
			}
		}
		if lost > 0 || twice > 0 || len(seen) != 500 {
			t.Errorf("%s: claimed %d distinct tasks, %d never, %d more than once; want each of 500 exactly once", f.name, len(seen), lost, twice)
		}
		running, err := f.s.ListTasks(f.ctx, ports.TaskFilter{StepName: "bulk", States: []domain.TaskState{domain.TaskRunning}, Limit: 1000})
		f.noErr(err, "ListTasks")
		f.eq("running in the store", len(running), 500)
		f.eq("left to claim", len(f.claimFns(at(time.Minute), "bulk")), 0)
	})

	h.run(t, "8 concurrent claimers never exceed a function's limit", func(t *testing.T, f *fixture) {
		const limit, n = 3, 60
		_, root := f.start(execOpts{})
		f.manyCalls(root, "capped", n, limit)

		var completed, maxRunning atomic.Int64
		errs := make(chan error, 8)
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				worker := fmt.Sprintf("claimer-%d", w)
				for round := 0; completed.Load() < n; round++ {
					if round > 200_000 {
						errs <- fmt.Errorf("%s: gave up after %d rounds with %d of %d completed", worker, round, completed.Load(), n)
						return
					}
					got, err := f.s.ClaimTasks(f.ctx, ports.ClaimParams{
						WorkerID: worker, Functions: []string{"capped"}, Limit: 2, Now: at(time.Minute), Lease: time.Hour,
					})
					if err != nil {
						errs <- fmt.Errorf("%s: ClaimTasks: %w", worker, err)
						return
					}
					if len(got) == 0 {
						runtime.Gosched()
						continue
					}
					running, err := f.s.ListTasks(f.ctx, ports.TaskFilter{StepName: "capped", States: []domain.TaskState{domain.TaskRunning}, Limit: 1000})
					if err != nil {
						errs <- fmt.Errorf("%s: ListTasks: %w", worker, err)
						return
					}
					for m := maxRunning.Load(); int64(len(running)) > m && !maxRunning.CompareAndSwap(m, int64(len(running))); m = maxRunning.Load() {
					}
					for _, c := range got {
						if err := ports.CompleteTask(f.ctx, f.s, ports.CompleteParams{Fence: c.Fence(), Result: js(`true`), Now: at(time.Minute)}); err != nil {
							errs <- fmt.Errorf("%s: CompleteTask: %w", worker, err)
							return
						}
						completed.Add(1)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("%s: %v", f.name, err)
		}
		if m := maxRunning.Load(); m > limit || m < 1 {
			t.Errorf("%s: observed up to %d running tasks of a function limited to %d", f.name, m, limit)
		}
		done, err := f.s.ListTasks(f.ctx, ports.TaskFilter{StepName: "capped", States: []domain.TaskState{domain.TaskCompleted}, Limit: 1000})
		f.noErr(err, "ListTasks")
		f.eq("completed", len(done), n)
	})

	h.run(t, "200 concurrent sends and 200 concurrent signal waits pair up exactly", func(t *testing.T, f *fixture) {
		const n = 200
		e, root := f.start(execOpts{})
		start := make(chan struct{})
		errs := make(chan error, 2*n)
		var wg sync.WaitGroup
		for i := 1; i <= n; i++ {
			wg.Go(func() {
				<-start
				if _, err := f.s.SendSignal(f.ctx, e.ID, "race", js(strconv.Itoa(i)), at(time.Second)); err != nil {
					errs <- fmt.Errorf("SendSignal %d: %w", i, err)
				}
			})
			wg.Go(func() {
				<-start
				if _, err := ports.CreateSteps(f.ctx, f.s, root.Fence(), []ports.StepSpec{signalSpec(root, i, "race")}, nil, at(time.Second)); err != nil {
					errs <- fmt.Errorf("CreateSteps %d: %w", i, err)
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("%s: %v", f.name, err)
		}

		msgs := f.signals(e.ID)
		f.eq("messages", len(msgs), n)
		byStep := map[string]domain.Signal{}
		seqs, payloads := map[int64]bool{}, map[string]bool{}
		for _, m := range msgs {
			seqs[m.Seq] = true
			payloads[string(m.Payload)] = true
			if m.ConsumedBy == "" {
				t.Errorf("%s: message %d (%s) was never consumed", f.name, m.Seq, m.Payload)
				continue
			}
			if prev, dup := byStep[m.ConsumedBy]; dup {
				t.Errorf("%s: step %s consumed messages %d and %d", f.name, m.ConsumedBy, prev.Seq, m.Seq)
			}
			byStep[m.ConsumedBy] = m
		}
		f.eq("distinct seqs", len(seqs), n)
		f.eq("distinct payloads", len(payloads), n)
		for i := 1; i <= n; i++ {
			step := f.task(domain.StepID(e.ID, root.ID, i))
			m, ok := byStep[step.ID]
			if step.State != domain.TaskCompleted || !ok || string(step.Result) != string(m.Payload) {
				t.Errorf("%s: signal step %d is %s with %s; consumed message %+v (found %v)", f.name, i, step.State, step.Result, m, ok)
			}
		}
	})
}
