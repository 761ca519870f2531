package worker

import (
	"context"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/clock"
	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/app/internal/hint"
	"github.com/stenthq/stent/app/internal/run"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

type downNotifier struct{}

func (downNotifier) Publish(context.Context, domain.Event) error { return domain.ErrClosed }
func (downNotifier) Subscribe(context.Context, ...domain.Topic) (ports.Subscription, error) {
	return nil, domain.ErrClosed
}
func (downNotifier) Close() error { return nil }

// renewals reports each renewed lease.
type renewals struct {
	run.Metrics
	ch chan run.Info
}

func (r renewals) LeaseRenewed(t run.Info) { r.ch <- t }
func (r renewals) TaskClaimed(run.Info)    {}

func TestHeartbeatsRunOnThePacingClock(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	stored := clock.NewFake(start) // the clock of stored times
	pace := clock.NewFake(start)   // the clock the worker paces itself with
	st := memstore.New()
	exec := domain.Execution{ID: "e1", RootFunction: "f", State: domain.ExecutionPending, Queue: domain.DefaultQueue,
		RootTaskID: "t1", CreatedAt: start, UpdatedAt: start}
	root := domain.Task{ID: "t1", ExecutionID: "e1", Kind: domain.KindOrchestrator, StepName: "f", State: domain.TaskPending,
		Queue: domain.DefaultQueue, RetryPolicy: domain.DefaultRetryPolicy(), CreatedAt: start, UpdatedAt: start}
	if _, _, err := ports.CreateExecution(ctx, st, exec, root); err != nil {
		t.Fatal(err)
	}
	claimed, err := st.ClaimTasks(ctx, ports.ClaimParams{WorkerID: "w1", Functions: []string{"f"}, Limit: 1, Now: start, Lease: time.Minute})
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v, %d tasks", err, len(claimed))
	}
	log := slog.New(slog.DiscardHandler)
	renewed := make(chan run.Info, 1)
	env := &Env{Run: &run.Env{Store: st, Clock: stored, Pace: pace, Log: log, Metrics: renewals{ch: renewed},
		Hints: &hint.Publisher{Notifier: downNotifier{}, Log: log, Now: stored.Now}}}
	w := New(env, Options{ID: "w1", Functions: []string{"f"}, MaxConcurrency: 1, LeaseDuration: time.Minute,
		HeartbeatInterval: 20 * time.Second})
	r := run.New(env.Run, w, ctx, claimed[0].Task, true)

	go w.heartbeatLoop(ctx)
	for pace.Timers() == 0 {
		runtime.Gosched() // until the ticker is set
	}
	stored.Advance(30 * time.Second)
	pace.Advance(20 * time.Second) // one heartbeat interval on the pacing clock only
	if got := <-renewed; got.TaskID != "t1" {
		t.Fatalf("renewed %+v, want task t1", got)
	}
	if want := start.Add(30 * time.Second).Add(time.Minute); !r.Lease().Equal(want) {
		t.Fatalf("lease = %v, want %v (renewed at the stored-times clock's now)", r.Lease(), want)
	}
}
