package scenario

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/clock"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// parkConfig is the harness config with a short ParkAfter, so waits park
// quickly.
func parkConfig(after time.Duration) app.Config {
	return app.Config{PollInterval: 20 * time.Millisecond, PollIntervalMax: 200 * time.Millisecond, ParkAfter: after}
}

// parkedSleeperBody is a workflow body with a name of its own, so the
// goroutines running it can be found in a stack dump.
func parkedSleeperBody(ctx context.Context, d time.Duration) (string, error) {
	if err := app.Sleep(ctx, d); err != nil {
		return "", err
	}
	return "awake", nil
}

// goroutinesIn counts the goroutines whose stack runs fn (a function of
// this package, by name).
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("contract."+fn+"(")) {
			count++
		}
	}
	return count
}

// waitParked waits until the execution's root task is parked.
func waitParked(t *testing.T, h *harness, id string) {
	t.Helper()
	eventually(t, "execution "+id+" to park", func() bool { return rootState(h, id) == domain.TaskWaiting })
}

func engineSuspension(t *testing.T, newStore StoreFactory) {
	t.Run("a sleeping workflow holds no goroutine, slot or lease while parked", func(t *testing.T) {
		t.Parallel()
		fc := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		h := newHarness(t, newStore, withClock(fc))
		wf := app.Register(h.reg, "parked-sleeper", parkedSleeperBody)
		w := h.worker(app.WorkerOptions{MaxConcurrency: 2})
		var ids []string
		for range 20 {
			ids = append(ids, dispatch(h, wf, 2*time.Second))
		}
		for _, id := range ids {
			waitParked(t, h, id)
		}
		// The park's write commits before the run's goroutine ends and
		// gives its slot back: the store can show a task parked a moment
		// before the worker has let go of it (seen under load on
		// PostgreSQL), so both are observed, not sampled once.
		eventually(t, "no goroutine running the parked workflows", func() bool { return goroutinesIn("parkedSleeperBody") == 0 })
		eventually(t, "the worker holding no run while every workflow is parked", func() bool { return w.Active() == 0 })
		for _, id := range ids {
			ex, _ := h.store.GetExecution(h.ctx(), id)
			root, _ := h.store.GetTask(h.ctx(), ex.RootTaskID)
			if root.WorkerID != "" || root.LeaseExpiresAt != nil {
				t.Fatalf("a parked root holds a lease: worker %q, lease %v", root.WorkerID, root.LeaseExpiresAt)
			}
			if v, err := h.engine().StateOf(h.ctx(), id); err != nil || !strings.HasPrefix(v.WaitReason, "sleeping until 2026-01-01T00:00:02Z") {
				t.Fatalf("wait reason %q %v", v.WaitReason, err)
			}
		}
		fc.Advance(2 * time.Second)
		for _, id := range ids {
			if got, err := await(h, wf, id); err != nil || got != "awake" {
				t.Fatalf("%q %v", got, err)
			}
			if v, _ := h.engine().StateOf(h.ctx(), id); v.RootAttempts != 1 {
				t.Errorf("root attempts %d; a resume is not an attempt", v.RootAttempts)
			}
		}
	})

	t.Run("resumed runs get their step records from the claim batch's one read, not one read each", func(t *testing.T) {
		t.Parallel()
		fc := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		reads := &listCounter{}
		h := newHarness(t, func(t *testing.T) ports.Store {
			base := newStore(t)
			if ns, ok := base.(notifiedStore); ok {
				reads.Store = ns.Store
				return notifiedStore{Store: reads, notifier: ns.notifier}
			}
			reads.Store = base
			return reads
		}, withClock(fc))
		wf := app.Register(h.reg, "batch-resumed-sleeper", parkedSleeperBody)
		h.worker(app.WorkerOptions{MaxConcurrency: 50})
		var ids []string
		for range 20 {
			ids = append(ids, dispatch(h, wf, 2*time.Second))
		}
		for _, id := range ids {
			waitParked(t, h, id)
		}
		fc.Advance(2 * time.Second)
		for _, id := range ids {
			if got, err := await(h, wf, id); err != nil || got != "awake" {
				t.Fatalf("%q %v", got, err)
			}
		}
		if n := reads.single.Load(); n != 0 {
			t.Errorf("%d resumed runs read their own step records; want 0 (the claim batch's read serves them)", n)
		}
		if n := reads.batched.Load(); n < 1 || n > 20 {
			t.Errorf("%d batched step reads for 20 resumes; want 1 to 20 (one per claim)", n)
		}
	})

	t.Run("a step body never runs again after a resume", func(t *testing.T) {
		t.Parallel()
		fc := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		h := newHarness(t, newStore, withClock(fc))
		var runs counter
		step := app.Register(h.reg, "counted", func(_ context.Context, n int) (int, error) {
			runs.inc(fmt.Sprint(n))
			return n, nil
		})
		wf := app.Register(h.reg, "step-sleep-step", func(ctx context.Context, _ int) (int, error) {
			sum := 0
			for i := 1; i <= 3; i++ {
				v, err := step.Call(ctx, i)
				if err != nil {
					return 0, err
				}
				sum += v
				if err := app.Sleep(ctx, time.Hour); err != nil {
					return 0, err
				}
			}
			return sum, nil
		})
		h.worker(app.WorkerOptions{})
		id := dispatch(h, wf, 0)
		for i := 1; i <= 3; i++ {
			eventually(t, fmt.Sprintf("step %d, then the park", i), func() bool {
				return runs.get(fmt.Sprint(i)) == 1 && rootState(h, id) == domain.TaskWaiting
			})
			fc.Advance(time.Hour)
		}
		if got, err := await(h, wf, id); err != nil || got != 6 {
			t.Fatalf("%d %v; want 6", got, err)
		}
		for i := 1; i <= 3; i++ {
			if n := runs.get(fmt.Sprint(i)); n != 1 {
				t.Errorf("step %d ran %d times; want 1", i, n)
			}
		}
	})

	t.Run("a signal sent to a parked workflow resumes it", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore, withConfig(parkConfig(10*time.Millisecond)))
		var bodies atomic.Int32
		wf := app.Register(h.reg, "parked-approval", func(ctx context.Context, _ int) (string, error) {
			bodies.Add(1)
			v, err := app.WaitForSignal[string](ctx, "approval")
			if err != nil {
				return "", err
			}
			return "approved by " + v, nil
		})
		h.worker(app.WorkerOptions{})
		id := dispatch(h, wf, 1)
		waitParked(t, h, id)
		if v, err := h.engine().StateOf(h.ctx(), id); err != nil || v.WaitReason != "waiting for signal approval" {
			t.Fatalf("wait reason %q %v", v.WaitReason, err)
		}
		if err := h.engine().SendSignal(h.ctx(), id, "approval", "ana"); err != nil {
			t.Fatal(err)
		}
		if got, err := await(h, wf, id); err != nil || got != "approved by ana" {
			t.Fatalf("%q %v", got, err)
		}
		if n := bodies.Load(); n != 2 {
			t.Errorf("the body ran %d times; want 2 (the first run, one resume)", n)
		}
	})

	t.Run("a parent parked on 100 children resumes once, when the last one finishes", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore, withConfig(parkConfig(10*time.Millisecond)))
		gate := make(chan struct{})
		kid := app.Register(h.reg, "gated-kid", func(ctx context.Context, n int) (int, error) {
			select {
			case <-gate:
				return n, nil
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		})
		var bodies atomic.Int32
		wf := app.Register(h.reg, "fan-in", func(ctx context.Context, n int) (int, error) {
			bodies.Add(1)
			ins := make([]int, n)
			for i := range ins {
				ins[i] = i + 1
			}
			outs, err := kid.Map(ctx, ins)
			if err != nil {
				return 0, err
			}
			sum := 0
			for _, o := range outs {
				sum += o
			}
			return sum, nil
		})
		h.worker(app.WorkerOptions{MaxConcurrency: 128})
		id := dispatch(h, wf, 100)
		waitParked(t, h, id)
		if v, err := h.engine().StateOf(h.ctx(), id); err != nil || v.WaitReason != "waiting for 100 of 100 children" {
			t.Fatalf("wait reason %q %v", v.WaitReason, err)
		}
		close(gate)
		if got, err := await(h, wf, id); err != nil || got != 5050 {
			t.Fatalf("%d %v; want 5050", got, err)
		}
		if n := bodies.Load(); n != 2 {
			t.Errorf("the parent body ran %d times; want 2 (the first run, one resume)", n)
		}
	})

	t.Run("cancelling a parked workflow ends it", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore, withConfig(parkConfig(10*time.Millisecond)))
		wf := app.Register(h.reg, "parked-forever", func(ctx context.Context, _ int) (int, error) {
			return app.WaitForSignal[int](ctx, "never")
		})
		h.worker(app.WorkerOptions{})
		id := dispatch(h, wf, 1)
		waitParked(t, h, id)
		if err := h.engine().Cancel(h.ctx(), id); err != nil {
			t.Fatal(err)
		}
		res := h.wait(id)
		if res.State != domain.ExecutionCancelled {
			t.Fatalf("state %s", res.State)
		}
		wantIs(t, res.Err(), app.ErrCancelled)
		if st := rootState(h, id); st != domain.TaskCancelled {
			t.Fatalf("root state %s", st)
		}
		wantIs(t, h.engine().SendSignal(h.ctx(), id, "never", 1), app.ErrExecutionFinished)
	})

	t.Run("a changed step order is still detected when a parked run resumes", func(t *testing.T) {
		t.Parallel()
		fc := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		h := newHarness(t, newStore, withClock(fc))
		charge := app.Register(h.reg, "charge", func(context.Context, int) (int, error) { return 1, nil })
		refund := app.Register(h.reg, "refund", func(context.Context, int) (int, error) { return 2, nil })
		var deployed atomic.Bool
		wf := app.Register(h.reg, "redeployed", func(ctx context.Context, _ int) (int, error) {
			first := charge
			if deployed.Load() {
				first = refund // the "new code" changed call #1
			}
			if _, err := first.Call(ctx, 1); err != nil {
				return 0, err
			}
			if err := app.Sleep(ctx, time.Hour); err != nil {
				return 0, err
			}
			return 0, nil
		})
		h.worker(app.WorkerOptions{})
		id := dispatch(h, wf, 1)
		waitParked(t, h, id)
		deployed.Store(true)
		fc.Advance(time.Hour)
		res := h.wait(id)
		if res.State != domain.ExecutionFailed {
			t.Fatalf("state %s", res.State)
		}
		wantIs(t, res.Err(), app.ErrNonDeterministic)
		if msg := res.Err().Error(); !strings.Contains(msg, "call #1") || !strings.Contains(msg, `"charge"`) || !strings.Contains(msg, `"refund"`) {
			t.Fatalf("error %q does not name the call and both functions", msg)
		}
	})

	t.Run("a signal payload that does not decode fails the parked workflow and stays inspectable", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore, withConfig(parkConfig(10*time.Millisecond)))
		wf := app.Register(h.reg, "typed-approval", func(ctx context.Context, _ int) (int, error) {
			return app.WaitForSignal[int](ctx, "amount")
		})
		h.worker(app.WorkerOptions{})
		id := dispatch(h, wf, 1)
		waitParked(t, h, id)
		if err := h.engine().SendSignal(h.ctx(), id, "amount", "not a number"); err != nil {
			t.Fatal(err)
		}
		res := h.wait(id)
		if res.State != domain.ExecutionFailed {
			t.Fatalf("state %s", res.State)
		}
		wantIs(t, res.Err(), app.ErrSerialization)
		if msg := res.Err().Error(); !strings.Contains(msg, `signal "amount"`) {
			t.Fatalf("error %q does not name the signal", msg)
		}
		sigs, err := h.store.(ports.Inspector).ListSignals(h.ctx(), id)
		if err != nil || len(sigs) != 1 || string(sigs[0].Payload) != `"not a number"` || sigs[0].ConsumedBy == "" {
			t.Fatalf("signals %+v %v; want the payload kept, consumed by the step", sigs, err)
		}
	})

	t.Run("a parked workflow no worker registers waits and says so", func(t *testing.T) {
		t.Parallel()
		fc := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		h := newHarness(t, newStore, withClock(fc))
		wf := app.Register(h.reg, "retired", parkedSleeperBody)
		a, err := h.engine().NewWorker(app.WorkerOptions{})
		if err != nil {
			t.Fatal(err)
		}
		actx, stopA := context.WithCancel(context.Background())
		doneA := make(chan struct{})
		go func() { defer close(doneA); _ = a.Run(actx) }()
		id := dispatch(h, wf, time.Minute)
		waitParked(t, h, id)
		stopA() // the last worker running "retired" goes away
		<-doneA
		// A new deployment no longer registers the function.
		other := app.NewRegistry()
		app.Register(other, "something-else", func(context.Context, int) (int, error) { return 0, nil })
		eng2, err := app.New(app.Deps{Store: h.store, Registry: other, Clock: fc}, h.cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = eng2.Close() })
		w2, err := eng2.NewWorker(app.WorkerOptions{PollInterval: 10 * time.Millisecond, PollIntervalMax: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx2, stop2 := context.WithCancel(context.Background())
		done2 := make(chan struct{})
		go func() { defer close(done2); _ = w2.Run(ctx2) }()
		t.Cleanup(func() { stop2(); <-done2 })
		<-w2.Ready()
		fc.Advance(time.Minute)
		eventually(t, "the wait reason to name the missing function", func() bool {
			v, err := eng2.StateOf(h.ctx(), id)
			return err == nil && v.WaitReason == "no worker registers retired"
		})
		if st := rootState(h, id); st != domain.TaskWaiting {
			t.Fatalf("root state %s; want it still waiting", st)
		}
		if res, err := h.engine().ResultOf(h.ctx(), id); err == nil || res.State.Terminal() {
			t.Fatalf("the execution ended: %+v %v", res, err)
		}
	})

	t.Run("draining parks waiting workflows at once", func(t *testing.T) {
		t.Parallel()
		fc := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		// ParkAfter longer than the sleep: the sleep waits in memory
		// until the drain parks it.
		h := newHarness(t, newStore, withClock(fc), withConfig(parkConfig(2*time.Hour)))
		wf := app.Register(h.reg, "drained-sleeper", parkedSleeperBody)
		logs := &logCapture{}
		eng, err := app.New(app.Deps{Store: h.store, Registry: h.reg, Clock: fc, Logger: logs.logger()}, h.cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = eng.Close() })
		w, err := eng.NewWorker(app.WorkerOptions{PollInterval: 10 * time.Millisecond, PollIntervalMax: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- w.Run(context.Background()) }()
		<-w.Ready()
		id, err := wf.Dispatch(h.ctx(), eng, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "the sleeper to wait on the clock", func() bool { return fc.Timers() > 0 })
		if st := rootState(h, id); st != domain.TaskRunning {
			t.Fatalf("root state %s before the drain; want running (sleeping in memory)", st)
		}
		// A drain that had to wait for the sleep would only end at its
		// deadline, releasing the task (pending): parking ends it now.
		dctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := w.Drain(dctx); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if st := rootState(h, id); st != domain.TaskWaiting {
			t.Fatalf("root state %s after the drain; want waiting (parked)", st)
		}
		if bad := logs.warnings(); len(bad) > 0 {
			t.Fatalf("the drain logged warnings: %q", bad)
		}
	})

	t.Run("a checkpoint write that meets a store blip is retried, not handed to user code", func(t *testing.T) {
		t.Parallel()
		flaky := &blipStore{fails: 2}
		h := newHarness(t, wrapped(newStore, func(inner ports.Store) ports.Store { flaky.Store = inner; return flaky }), withConfig(app.Config{NoInlineSteps: true, PollInterval: 20 * time.Millisecond, PollIntervalMax: 200 * time.Millisecond}))
		var seen atomic.Value
		step := app.Register(h.reg, "plain", func(context.Context, int) (int, error) { return 1, nil })
		wf := app.Register(h.reg, "blipped", func(ctx context.Context, _ int) (int, error) {
			v, err := step.Call(ctx, 1)
			if err != nil {
				seen.Store(err)
			}
			return v, err
		})
		h.worker(app.WorkerOptions{})
		id := dispatch(h, wf, 1)
		if got, err := await(h, wf, id); err != nil || got != 1 {
			t.Fatalf("%d %v", got, err)
		}
		if err, _ := seen.Load().(error); err != nil {
			t.Fatalf("user code saw %v", err)
		}
		if v, _ := h.engine().StateOf(h.ctx(), id); v.RootAttempts != 1 {
			t.Fatalf("root attempts %d; a store blip must not spend an attempt", v.RootAttempts)
		}
		if flaky.failed.Load() != 2 {
			t.Fatalf("the store failed %d writes; want 2", flaky.failed.Load())
		}
	})

	// Found by the outage soak (tests/chaos TestOutagesCostNothing): a
	// PostgreSQL outage while a parked workflow resumed spent an attempt.
	t.Run("a resumed run's read of its recorded steps that meets a store blip is retried, not handed to user code", func(t *testing.T) {
		t.Parallel()
		flaky := &childrenBlipStore{fails: 2}
		h := newHarness(t, wrapped(newStore, func(inner ports.Store) ports.Store { flaky.Store = inner; return flaky }), withConfig(app.Config{NoInlineSteps: true, ParkAfter: time.Millisecond, PollInterval: 20 * time.Millisecond, PollIntervalMax: 200 * time.Millisecond}))
		var seen atomic.Value
		step := app.Register(h.reg, "plain", func(context.Context, int) (int, error) { return 1, nil })
		wf := app.Register(h.reg, "resumed-through-a-blip", func(ctx context.Context, _ int) (int, error) {
			v, err := step.Call(ctx, 1)
			if err != nil {
				seen.Store(err)
				return 0, err
			}
			// A wait on a signal parks whatever the timing: a sleep
			// short enough for a test could be over before its park was
			// written under load, and then nothing resumes.
			if _, err := app.WaitForSignal[int](ctx, "go"); err != nil {
				seen.Store(err)
				return 0, err
			}
			return v, nil
		})
		h.worker(app.WorkerOptions{})
		id := dispatch(h, wf, 1)
		waitParked(t, h, id)
		if err := h.engine().SendSignal(h.ctx(), id, "go", 1); err != nil {
			t.Fatal(err)
		}
		if got, err := await(h, wf, id); err != nil || got != 1 {
			t.Fatalf("%d %v", got, err)
		}
		if err, _ := seen.Load().(error); err != nil {
			t.Fatalf("user code saw %v", err)
		}
		if v, _ := h.engine().StateOf(h.ctx(), id); v.RootAttempts != 1 {
			t.Fatalf("root attempts %d; a store blip must not spend an attempt", v.RootAttempts)
		}
		if flaky.failed.Load() != 2 {
			t.Fatalf("the store failed %d reads of recorded steps; want 2 (did the run resume?)", flaky.failed.Load())
		}
	})
}

// wrapped is newStore with each store wrapped by wrap (a fault-injecting
// store), keeping the notifier of a store that comes with one.
func wrapped(newStore StoreFactory, wrap func(ports.Store) ports.Store) StoreFactory {
	return func(t *testing.T) ports.Store {
		base := newStore(t)
		if ns, ok := base.(notifiedStore); ok {
			return notifiedStore{Store: wrap(ns.Store), notifier: ns.notifier}
		}
		return wrap(base)
	}
}

// childrenBlipStore fails the first fails reads of tasks' recorded steps
// (ListTasks by parent or parents: what a worker reads for the runs it
// resumes, and a run reads itself when that failed) with ErrUnavailable.
type childrenBlipStore struct {
	ports.Store
	fails  int32
	failed atomic.Int32
}

func (s *childrenBlipStore) ListTasks(ctx context.Context, f ports.TaskFilter) ([]domain.Task, error) {
	if f.ParentTaskID != "" || len(f.ParentTaskIDs) > 0 {
		if s.failed.Add(1) <= s.fails {
			return nil, fmt.Errorf("blip: %w", domain.ErrUnavailable)
		}
		s.failed.Add(-1)
	}
	return s.Store.ListTasks(ctx, f)
}

// listCounter counts the reads of step records: by one parent (a run's
// own read) and by several (a claim batch's read).
type listCounter struct {
	ports.Store
	single, batched atomic.Int32
}

func (s *listCounter) ListTasks(ctx context.Context, f ports.TaskFilter) ([]domain.Task, error) {
	switch {
	case f.ParentTaskIDs != nil:
		s.batched.Add(1)
	case f.ParentTaskID != "":
		s.single.Add(1)
	}
	return s.Store.ListTasks(ctx, f)
}

// blipStore fails its first fails step writes with ErrUnavailable.
type blipStore struct {
	ports.Store
	fails  int32
	failed atomic.Int32
}

func (s *blipStore) blip() error {
	if s.failed.Add(1) <= s.fails {
		return fmt.Errorf("blip: %w", domain.ErrUnavailable)
	}
	s.failed.Add(-1)
	return nil
}

func (s *blipStore) CreateStepsBatch(ctx context.Context, reqs []ports.CreateStepsRequest) ([]ports.CreateStepsResult, error) {
	if err := s.blip(); err != nil {
		return nil, err
	}
	return s.Store.CreateStepsBatch(ctx, reqs)
}

// logCapture records the messages of warnings and errors logged through
// its logger.
type logCapture struct {
	mu   sync.Mutex
	msgs []string
}

func (c *logCapture) logger() *slog.Logger { return slog.New(captureHandler{c}) }

func (c *logCapture) warnings() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.msgs)
}

type captureHandler struct{ c *logCapture }

func (h captureHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h captureHandler) Handle(_ context.Context, r slog.Record) error {
	h.c.mu.Lock()
	h.c.msgs = append(h.c.msgs, r.Message)
	h.c.mu.Unlock()
	return nil
}
func (h captureHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h captureHandler) WithGroup(string) slog.Handler      { return h }
