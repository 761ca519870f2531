package contract

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// flowCall is a call spec with flow limits.
type flowCall struct {
	fn       string
	limit    int    // MaxConcurrent
	key      string // ConcurrencyKey
	rateKey  string
	rate     int
	ratePer  time.Duration
	priority int
}

// flowCalls creates the calls under root at 1s, at positions from 1.
func (f *fixture) flowCalls(root domain.Task, calls ...flowCall) []domain.Task {
	f.t.Helper()
	var out []domain.Task
	for from := 0; from < len(calls); from += 100 {
		var specs []ports.StepSpec
		for i := from; i < from+100 && i < len(calls); i++ {
			c := calls[i]
			s := activitySpec(root, i+1, c.fn)
			s.MaxConcurrent, s.ConcurrencyKey, s.Priority = c.limit, c.key, c.priority
			s.RateKey, s.RateLimit, s.RatePer = c.rateKey, c.rate, c.ratePer
			specs = append(specs, s)
		}
		out = append(out, f.steps(root, at(time.Second), specs...)...)
	}
	return out
}

func ids(ts []domain.Task) map[string]bool {
	m := map[string]bool{}
	for _, t := range ts {
		m[t.ID] = true
	}
	return m
}

func testFlowLimits(t *testing.T, h storeSuite) {
	h.run(t, "a keyed concurrency limit counts running tasks per key and stores the key", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		var calls []flowCall
		for range 3 {
			calls = append(calls, flowCall{fn: "keyed", limit: 1, key: "function:keyed:a"}, flowCall{fn: "keyed", limit: 1, key: "function:keyed:b"})
		}
		created := f.flowCalls(root, calls...)
		f.eq("stored concurrency key", created[0].ConcurrencyKey, "function:keyed:a")
		first := f.claimFns(at(time.Minute), "keyed")
		f.eq("claimed with two keys of limit 1", len(first), 2)
		if first[0].ConcurrencyKey == first[1].ConcurrencyKey {
			t.Errorf("%s: claimed two tasks of key %q; want one per key", f.name, first[0].ConcurrencyKey)
		}
		f.eq("claimed while both keys are full", len(f.claimFns(at(time.Minute), "keyed")), 0)
		f.complete(first[0], `1`, at(time.Minute))
		again := f.claimFns(at(time.Minute), "keyed")
		f.eq("claimed after one key freed a slot", len(again), 1)
		if len(again) == 1 {
			f.eq("key of the next claim", again[0].ConcurrencyKey, first[0].ConcurrencyKey)
		}
	})

	h.run(t, "a keyed group spans the functions that share its key", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		f.flowCalls(root, flowCall{fn: "q1", limit: 1, key: "queue:payments:c7"}, flowCall{fn: "q2", limit: 1, key: "queue:payments:c7"})
		f.eq("claimed of a shared group of limit 1", len(f.claimFns(at(time.Minute), "q1", "q2")), 1)
	})

	h.run(t, "a key-less limit is the function's own group, apart from its keyed tasks", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		f.flowCalls(root, flowCall{fn: "mixed", limit: 1}, flowCall{fn: "mixed", limit: 1},
			flowCall{fn: "mixed", limit: 1, key: "function:mixed:x"}, flowCall{fn: "mixed", limit: 1, key: "function:mixed:x"})
		f.eq("claimed: one key-less and one keyed", len(f.claimFns(at(time.Minute), "mixed")), 2)
	})

	h.run(t, "a full key does not block the tasks behind it", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		var calls []flowCall
		for range 5 {
			calls = append(calls, flowCall{fn: "hol", limit: 1, key: "function:hol:busy", priority: 5})
		}
		calls = append(calls, flowCall{fn: "hol", limit: 1, key: "function:hol:free"})
		created := f.flowCalls(root, calls...)
		got := f.claim(ports.ClaimParams{Functions: []string{"hol"}, Now: at(time.Minute), Limit: 2})
		f.eq("claimed", len(got), 2)
		f.eq("the task behind the full key was claimed", ids(got)[created[5].ID], true)
	})

	h.run(t, "a rate limit admits n fresh claims per window and holds the rest back until the window frees a slot", func(t *testing.T, f *fixture) {
		exec, root := f.start(execOpts{})
		const per = 10 * time.Second
		var calls []flowCall
		for range 5 {
			calls = append(calls, flowCall{fn: "rated", rateKey: "function:rated:", rate: 2, ratePer: per})
		}
		created := f.flowCalls(root, calls...)
		f.eq("stored rate limit", [3]any{created[0].RateKey, created[0].RateLimit, created[0].RatePer}, [3]any{"function:rated:", 2, per})
		first := f.claimFns(at(time.Minute), "rated")
		f.eq("claimed in the first window", len(first), 2)
		for _, c := range first {
			f.eqTimePtr("claimed task's limited until", c.RateLimitedUntil, nil)
		}
		held := 0
		for _, c := range created {
			if tk := f.task(c.ID); tk.State == domain.TaskPending {
				held++
				f.eqTimePtr("held task's limited until", tk.RateLimitedUntil, ptrTo(at(time.Minute+per)))
			}
		}
		f.eq("held back", held, 3)
		prog, err := f.s.ListProgress(f.ctx, exec.ID)
		f.noErr(err, "ListProgress")
		shown := 0
		for _, p := range prog {
			if p.RateLimitedUntil != nil {
				shown++
			}
		}
		f.eq("progress entries showing the hold", shown, 3)
		f.eq("claimed inside the window", len(f.claimFns(at(time.Minute+per-time.Microsecond), "rated")), 0)
		for _, c := range first {
			f.complete(c, `1`, at(time.Minute+time.Second))
		}
		f.eq("claimed when the window moved on", len(f.claimFns(at(time.Minute+per), "rated")), 2)
		f.eq("claimed at once after that", len(f.claimFns(at(time.Minute+per), "rated")), 0)
		f.eq("claimed in the third window", len(f.claimFns(at(time.Minute+2*per), "rated")), 1)
	})

	h.run(t, "NextWake returns the earliest limited_until of the held tasks", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		const per = 10 * time.Second
		f.flowCalls(root,
			flowCall{fn: "rated", rateKey: "function:rated:", rate: 1, ratePer: per},
			flowCall{fn: "rated", rateKey: "function:rated:", rate: 1, ratePer: per},
			flowCall{fn: "rated", rateKey: "function:rated:", rate: 1, ratePer: per},
			flowCall{fn: "slow", rateKey: "function:slow:", rate: 1, ratePer: time.Hour},
			flowCall{fn: "slow", rateKey: "function:slow:", rate: 1, ratePer: time.Hour})
		if next, ok := f.nextWake("rated", "slow"); ok {
			t.Errorf("NextWake before any hold = %v; want none", next)
		}
		f.eq("claimed", len(f.claimFns(at(time.Minute), "rated", "slow")), 2)
		next, ok := f.nextWake("rated", "slow")
		if !ok || !next.Equal(at(time.Minute+per)) {
			t.Errorf("NextWake with held tasks = %v, %v; want %v (the earlier hold)", next, ok, at(time.Minute+per))
		}
		next, ok = f.nextWake("slow")
		if !ok || !next.Equal(at(time.Minute+time.Hour)) {
			t.Errorf("NextWake of the slow function = %v, %v; want %v", next, ok, at(time.Minute+time.Hour))
		}
		// A waiting task's earlier wake-up still comes first.
		_, parker := f.start(execOpts{Fn: "parker"})
		f.park(parker, ports.ParkParams{WakeAt: ptrTo(at(time.Minute + time.Second))}, true)
		next, ok = f.nextWake("rated", "slow", "parker")
		if !ok || !next.Equal(at(time.Minute+time.Second)) {
			t.Errorf("NextWake with a waiting task due first = %v, %v; want %v", next, ok, at(time.Minute+time.Second))
		}
		// Once claimed, a held task no longer counts; the one held again
		// gives the next window.
		f.eq("claimed when the window moved on", len(f.claimFns(at(time.Minute+per), "rated")), 1)
		next, ok = f.nextWake("rated")
		if !ok || !next.Equal(at(time.Minute+2*per)) {
			t.Errorf("NextWake after the next claim = %v, %v; want %v", next, ok, at(time.Minute+2*per))
		}
	})

	h.run(t, "a task held back by its rate limit does not block the tasks behind it", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		created := f.flowCalls(root,
			flowCall{fn: "hot", rateKey: "function:hot:", rate: 1, ratePer: time.Hour, priority: 9},
			flowCall{fn: "hot", rateKey: "function:hot:", rate: 1, ratePer: time.Hour, priority: 9},
			flowCall{fn: "cold"})
		got := f.claim(ports.ClaimParams{Functions: []string{"hot", "cold"}, Now: at(time.Minute), Limit: 2})
		f.eq("claimed", len(got), 2)
		f.eq("the unlimited task behind the held one was claimed", ids(got)[created[2].ID], true)
	})

	h.run(t, "a resume and a reclaim are not charged to the rate limit", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		f.flowCalls(root, flowCall{fn: "once", rateKey: "function:once:", rate: 1, ratePer: 2 * time.Hour},
			flowCall{fn: "once", rateKey: "function:once:", rate: 1, ratePer: 2 * time.Hour})
		got := f.claimFns(at(time.Minute), "once")
		f.eq("claimed", len(got), 1)
		// The lease expires inside the window: the reclaim is not a new
		// start, and the other task is still held back.
		re := f.claim(ports.ClaimParams{WorkerID: workerB, Functions: []string{"once"}, Now: at(time.Minute + storeLease)})
		f.eq("claimed: the reclaim only", len(re), 1)
		if len(re) == 1 {
			f.eq("reclaimed task", re[0].ID, got[0].ID)
		}
	})

	h.run(t, "8 concurrent claimers never exceed a keyed limit", func(t *testing.T, f *fixture) {
		const limit, keys, n = 2, 4, 80
		_, root := f.start(execOpts{})
		var calls []flowCall
		for i := range n {
			calls = append(calls, flowCall{fn: "ck", limit: limit, key: fmt.Sprintf("function:ck:%d", i%keys)})
		}
		f.flowCalls(root, calls...)
		var mu sync.Mutex
		running := map[string]int{}
		var completed atomic.Int64
		errs := make(chan error, 16)
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				worker := fmt.Sprintf("claimer-%d", w)
				for round := 0; completed.Load() < n; round++ {
					if round > 200_000 {
						errs <- fmt.Errorf("%s: gave up with %d of %d completed", worker, completed.Load(), n)
						return
					}
					got, err := f.s.ClaimTasks(f.ctx, ports.ClaimParams{WorkerID: worker, Functions: []string{"ck"}, Limit: 3, Now: at(time.Minute), Lease: time.Hour})
					if err != nil {
						errs <- fmt.Errorf("%s: ClaimTasks: %w", worker, err)
						return
					}
					if len(got) == 0 {
						runtime.Gosched()
						continue
					}
					mu.Lock()
					for _, c := range got {
						running[c.ConcurrencyKey]++
						if running[c.ConcurrencyKey] > limit {
							errs <- fmt.Errorf("%s: key %s has %d running; the limit is %d", worker, c.ConcurrencyKey, running[c.ConcurrencyKey], limit)
						}
					}
					mu.Unlock()
					for _, c := range got {
						// Leave the ledger before the store frees the slot.
						mu.Lock()
						running[c.ConcurrencyKey]--
						mu.Unlock()
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
	})

	h.run(t, "8 concurrent claimers never exceed a rate limit", func(t *testing.T, f *fixture) {
		const rate, n = 5, 40
		_, root := f.start(execOpts{})
		var calls []flowCall
		for range n {
			calls = append(calls, flowCall{fn: "rc", rateKey: "queue:rc:", rate: rate, ratePer: time.Hour})
		}
		f.flowCalls(root, calls...)
		var total atomic.Int64
		errs := make(chan error, 8)
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for range 5 {
					got, err := f.s.ClaimTasks(f.ctx, ports.ClaimParams{WorkerID: fmt.Sprintf("claimer-%d", w), Functions: []string{"rc"}, Limit: 4, Now: at(time.Minute), Lease: time.Hour})
					if err != nil {
						errs <- err
						return
					}
					total.Add(int64(len(got)))
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("%s: ClaimTasks: %v", f.name, err)
		}
		if got := total.Load(); got > rate {
			t.Errorf("%s: %d claims in one window; the rate limit is %d", f.name, got, rate)
		}
		// Whatever a busy group turned away, a lone claimer gets the rest
		// of the window.
		f.claimFns(at(time.Minute), "rc")
		running, err := f.s.ListTasks(f.ctx, ports.TaskFilter{StepName: "rc", States: []domain.TaskState{domain.TaskRunning}, Limit: 100})
		f.noErr(err, "ListTasks")
		f.eq("running after a lone claim", len(running), rate)
	})

	h.run(t, "a rate limit without a key or period is bad input naming the value", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		for _, c := range []struct {
			call flowCall
			want string
		}{
			{flowCall{fn: "bad", rate: 2, ratePer: time.Second}, "without a rate key"},
			{flowCall{fn: "bad", rateKey: "k", rate: 2}, "rate period 0s"},
			{flowCall{fn: "bad", rateKey: "k", rate: -1, ratePer: time.Second}, "rate limit -1"},
		} {
			s := activitySpec(root, 1, c.call.fn)
			s.RateKey, s.RateLimit, s.RatePer = c.call.rateKey, c.call.rate, c.call.ratePer
			_, err := ports.CreateSteps(f.ctx, f.s, root.Fence(), []ports.StepSpec{s}, nil, at(time.Second))
			f.isErr(err, domain.ErrInvalidArgument, "CreateSteps with "+c.want)
			if err != nil && !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: error %q; want it to name %q", f.name, err, c.want)
			}
		}
	})
}
