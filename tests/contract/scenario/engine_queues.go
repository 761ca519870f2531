package scenario

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// claimCounter counts the claims and wake reads a store answers.
type claimCounter struct {
	ports.Store
	claims, wakes atomic.Int64
}

func (c *claimCounter) ClaimTasks(ctx context.Context, p ports.ClaimParams) ([]ports.ClaimedTask, error) {
	c.claims.Add(1)
	return c.Store.ClaimTasks(ctx, p)
}

func (c *claimCounter) NextWake(ctx context.Context, p ports.ClaimParams) (time.Time, bool, error) {
	c.wakes.Add(1)
	return c.Store.NextWake(ctx, p)
}

func engineQueues(t *testing.T, newStore StoreFactory) {
	t.Run("a paused queue holds new runs until resumed while its running task finishes", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		release := make(chan struct{})
		started := make(chan struct{}, 4)
		job := app.Register(h.reg, "job", func(ctx context.Context, n int) (int, error) {
			started <- struct{}{}
			if n == 1 {
				select {
				case <-release:
				case <-ctx.Done():
					return 0, ctx.Err()
				}
			}
			return n * 10, nil
		}, app.WithQueue("jobs"))
		h.worker(app.WorkerOptions{Queues: []string{"jobs"}})
		first := dispatch(h, job, 1)
		select {
		case <-started:
		case <-time.After(testTimeout):
			t.Fatal("the first job never started")
		}
		eng := h.engine()
		if changed, err := eng.PauseQueue(h.ctx(), "jobs"); err != nil || !changed {
			t.Fatalf("PauseQueue = %v, %v; want true, nil", changed, err)
		}
		second := dispatch(h, job, 2)
		close(release)
		if got, err := await(h, job, first); err != nil || got != 10 {
			t.Fatalf("the running job = %v, %v; want 10", got, err)
		}
		time.Sleep(300 * time.Millisecond) // several poll intervals
		v, err := eng.StateOf(h.ctx(), second)
		if err != nil || v.State != domain.ExecutionPending {
			t.Fatalf("second run while paused: %s, %v; want pending", v.State, err)
		}
		if v.WaitReason != "queue jobs is paused" {
			t.Errorf("wait reason %q; want %q", v.WaitReason, "queue jobs is paused")
		}
		qs, err := eng.Queues(h.ctx())
		if err != nil {
			t.Fatal(err)
		}
		var jobs domain.QueueInfo
		for _, q := range qs {
			if q.Name == "jobs" {
				jobs = q
			}
		}
		if !jobs.Paused || jobs.Pending != 1 || jobs.Running != 0 || jobs.PausedAt == nil {
			t.Errorf("queue jobs = %+v; want paused with 1 pending", jobs)
		}
		if changed, err := eng.ResumeQueue(h.ctx(), "jobs"); err != nil || !changed {
			t.Fatalf("ResumeQueue = %v, %v; want true, nil", changed, err)
		}
		if got, err := await(h, job, second); err != nil || got != 20 {
			t.Fatalf("the held job after resume = %v, %v; want 20", got, err)
		}
	})

	t.Run("workers do not spin on the due work of a paused queue", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		counter := &claimCounter{Store: h.store}
		h.store = counter
		job := app.Register(h.reg, "held", func(context.Context, int) (int, error) { return 1, nil }, app.WithQueue("held"))
		if _, err := h.engine().PauseQueue(h.ctx(), "held"); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			dispatch(h, job, i)
		}
		h.worker(app.WorkerOptions{Queues: []string{"held"}, PollInterval: 10 * time.Millisecond, PollIntervalMax: 100 * time.Millisecond})
		before := counter.claims.Load()
		time.Sleep(time.Second)
		// Backing off from 10 ms to 100 ms makes about 15 claims a second;
		// a worker that spun on the held tasks would make thousands.
		if n := counter.claims.Load() - before; n > 60 {
			t.Errorf("%d claims in 1s with only paused work; want the poll backoff (< 60)", n)
		}
		if n := counter.wakes.Load(); n > 150 {
			t.Errorf("%d NextWake reads; want few", n)
		}
		if _, err := h.engine().ResumeQueue(h.ctx(), "held"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the held runs finish after resume", func() bool {
			qs, err := h.engine().Queues(h.ctx())
			if err != nil {
				return false
			}
			for _, q := range qs {
				if q.Name == "held" {
					return q.Pending == 0 && q.Running == 0
				}
			}
			return true
		})
	})

	t.Run("a bad queue name is refused with the name and the rule", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		_, err := h.engine().PauseQueue(h.ctx(), "")
		if !errors.Is(err, app.ErrInvalidArgument) || !strings.Contains(err.Error(), "queue") {
			t.Fatalf("PauseQueue(\"\") = %v; want ErrInvalidArgument naming the queue", err)
		}
	})
}

func engineLimitUsage(t *testing.T, newStore StoreFactory) {
	t.Run("a run held by a full concurrency key says so and the key's use is listed", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		release := make(chan struct{})
		started := make(chan int, 4)
		type order struct {
			Customer string `json:"customer"`
			N        int    `json:"n"`
		}
		job := app.Register(h.reg, "charge", func(ctx context.Context, o order) (int, error) {
			started <- o.N
			if o.N == 1 {
				select {
				case <-release:
				case <-ctx.Done():
					return 0, ctx.Err()
				}
			}
			return o.N * 10, nil
		}, app.WithConcurrency(1, func(o order) string { return o.Customer }))
		h.worker(app.WorkerOptions{})
		first := dispatch(h, job, order{"c7", 1})
		select {
		case <-started:
		case <-time.After(testTimeout):
			t.Fatal("the first run never started")
		}
		second := dispatch(h, job, order{"c7", 2})
		eng := h.engine()
		const want = "waiting for concurrency key c7 of charge (1 of 1 running)"
		eventually(t, "the held run's wait reason "+want, func() bool {
			v, err := eng.StateOf(h.ctx(), second)
			return err == nil && v.WaitReason == want
		})
		list, err := eng.LimitUsage(h.ctx(), 0)
		if err != nil {
			t.Fatal(err)
		}
		wantUsage := domain.LimitUsage{Kind: domain.LimitConcurrency, Group: "function:charge:c7", Scope: domain.ScopeFunction,
			Name: "charge", Key: "c7", Limit: 1, InUse: 1, Pending: 1}
		if len(list) != 1 || list[0] != wantUsage {
			t.Errorf("LimitUsage = %+v; want [%+v]", list, wantUsage)
		}
		close(release)
		if got, err := await(h, job, first); err != nil || got != 10 {
			t.Fatalf("the first run = %v, %v; want 10", got, err)
		}
		if got, err := await(h, job, second); err != nil || got != 20 {
			t.Fatalf("the held run = %v, %v; want 20", got, err)
		}
	})
}
