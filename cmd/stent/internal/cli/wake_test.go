package cli_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/clock"
	"github.com/stenthq/stent/adapters/localwake"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// heard is the notifier of a pretend stentd: it hands what it is told to a
// channel.
type heard chan domain.Event

func (h heard) Publish(_ context.Context, ev domain.Event) error {
	select {
	case h <- ev:
	default:
	}
	return nil
}

func (h heard) Subscribe(context.Context, ...domain.Topic) (ports.Subscription, error) {
	return nil, errors.New("not used")
}

func (h heard) Close() error { return nil }

// TestCommandsThatChangeStateWakeTheServiceOnSQLite listens as stentd
// does on the SQLite file (localwake) and checks that every command that
// changes state tells it, so its workers act at once instead of on their
// next poll.
func TestCommandsThatChangeStateWakeTheServiceOnSQLite(t *testing.T) {
	t.Parallel()
	h := newSeeded(t, sqliteBackend)
	events := make(heard, 256)
	l, err := localwake.Listen(events, localwake.Config{DBPath: h.dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tc := range []struct {
		args []string
		want func(domain.Event) bool
	}{
		{[]string{"dispatch", "report", `{"month": "2030-04"}`}, func(ev domain.Event) bool { return ev.Topic == domain.TopicReady }},
		{[]string{"cancel", exPending}, func(ev domain.Event) bool { return ev.Topic == domain.TopicCancel && ev.ExecutionID == exPending }},
		{[]string{"dlq", "replay", rootOf(exFailed)}, func(ev domain.Event) bool { return ev.Topic == domain.TopicReady }},
	} {
		expect(t, h.run(t, tc.args...), 0)
		var got []domain.Event
		deadline := time.After(10 * time.Second) // a bound, not a pace: datagrams arrive at once
	wait:
		for {
			select {
			case ev := <-events:
				got = append(got, ev)
				if tc.want(ev) {
					break wait
				}
			case <-deadline:
				t.Errorf("%v: the service heard %+v; not the event it needs", tc.args, got)
				break wait
			}
		}
	}
}

// TestAServiceThatNeverPollsStillServesTheCLI runs a worker on the SQLite
// file whose polls are an hour apart, wired as stentd wires it (its
// in-process notifier wrapped in a localwake.Listener): each CLI command
// below only completes because the command woke it.
func TestAServiceThatNeverPollsStillServesTheCLI(t *testing.T) {
	t.Parallel()
	dsn, st := sqliteBackend.newDB(t)
	reg := app.NewRegistry()
	app.Register(reg, "shout", func(_ context.Context, s string) (string, error) { return strings.ToUpper(s), nil })
	app.Register(reg, "approve", func(ctx context.Context, who string) (string, error) {
		ok, err := app.WaitForSignal[bool](ctx, "approval")
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s: %v", who, ok), nil
	})
	var calls atomic.Int32
	app.Register(reg, "flaky", func(context.Context, int) (int, error) {
		if calls.Add(1) == 1 {
			return 0, errors.New("first call fails")
		}
		return 7, nil
	}, app.WithRetry(domain.RetryPolicy{MaxAttempts: 1}))
	l, err := localwake.Listen(app.NewLocalNotifier(), localwake.Config{DBPath: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	eng, err := app.New(app.Deps{Store: st, Notifier: l, Registry: reg},
		app.Config{PollInterval: time.Hour, PollIntervalMax: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	w, err := eng.NewWorker(app.WorkerOptions{PollInterval: time.Hour, PollIntervalMax: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	go func() { served <- w.Run(ctx) }()
	defer func() { cancel(); <-served }()
	select { // ready: the catalogue is published and the worker listens
	case <-w.Ready():
	case <-time.After(60 * time.Second):
		t.Fatal("the worker never became ready")
	}
	h := &harness{dsn: dsn, st: st, clock: clock.System{}}
	// A bound, so that a broken wake-up fails instead of hanging: without
	// it each command would wait for the worker's next poll, an hour away.
	bounded := func(a ...string) []string { return append([]string{"--timeout", "60s"}, a...) }

	for i := range 2 { // the second one finds the worker idle
		r := h.run(t, bounded("dispatch", "shout", `"hi"`, "--wait")...)
		expect(t, r, 0)
		if !strings.Contains(r.stdout, `"HI"`) {
			t.Fatalf("dispatch --wait #%d printed %q", i+1, r.stdout)
		}
	}

	awaitState := func(id string, want domain.ExecutionState) {
		t.Helper()
		wctx, wcancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer wcancel()
		res, err := eng.WaitFor(wctx, id)
		if err != nil || res.State != want {
			t.Fatalf("execution %s: %+v, %v; want %s", id, res, err, want)
		}
	}
	r := h.run(t, "dispatch", "approve", `"ana"`)
	expect(t, r, 0)
	id := strings.TrimSpace(r.stdout)
	waitForWaiter(t, st, id)
	expect(t, h.run(t, "signal", id, "approval", "true"), 0)
	awaitState(id, domain.ExecutionCompleted)

	r = h.run(t, "dispatch", "approve", `"bo"`)
	expect(t, r, 0)
	id = strings.TrimSpace(r.stdout)
	waitForWaiter(t, st, id)
	expect(t, h.run(t, "cancel", id), 0)
	awaitState(id, domain.ExecutionCancelled)

	r = h.run(t, bounded("dispatch", "flaky", "1", "--wait")...)
	expect(t, r, 1, "ended failed")
	id = strings.Fields(r.stdout)[0]
	dls, err := st.ListDeadLetters(t.Context(), ports.DeadLetterFilter{ExecutionID: id})
	if err != nil || len(dls) == 0 {
		t.Fatalf("dead letters of %s: %v, %v", id, dls, err)
	}
	expect(t, h.run(t, "dlq", "replay", dls[len(dls)-1].TaskID), 0)
	awaitState(id, domain.ExecutionCompleted)
}

// waitForWaiter returns once execution id waits for a signal: its root
// has a signal step. It reads the store on a short tick (the test's own
// worker gives no other hook); a bound keeps a broken run from hanging.
func waitForWaiter(t *testing.T, st ports.Store, id string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		progress, err := st.ListProgress(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range progress {
			if e.Kind == domain.KindSignal {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("execution %s never waited for its signal", id)
}
