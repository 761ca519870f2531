package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/clock"
	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/testenv/teststore"
	"github.com/stenthq/stent/ports"
)

// day0 is a winter Monday; 03:00 UTC ticks fall on day0 + n*24h + 3h.
var day0 = time.Date(2031, time.January, 6, 0, 0, 0, 0, time.UTC)

type schedEnv struct {
	t   *testing.T
	ctx context.Context
	fc  *clock.Fake
	st  ports.Store
	eng *app.Engine
}

func reportRegistry() (*app.Registry, *app.Function[string, string]) {
	reg := app.NewRegistry()
	fn := app.Register(reg, "report", func(_ context.Context, in string) (string, error) { return "done " + in, nil })
	return reg, fn
}

func newSchedEnv(t *testing.T, st ports.Store, fc *clock.Fake, reg *app.Registry) *schedEnv {
	t.Helper()
	if reg == nil {
		reg, _ = reportRegistry()
	}
	eng, err := app.New(app.Deps{Store: st, Registry: reg, Clock: fc}, app.Config{ScheduleInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	return &schedEnv{t: t, ctx: t.Context(), fc: fc, st: st, eng: eng}
}

func (e *schedEnv) create(def app.ScheduleDef) domain.Schedule {
	e.t.Helper()
	s, err := e.eng.CreateSchedule(e.ctx, def)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *schedEnv) fire() int {
	e.t.Helper()
	n, err := e.eng.FireDueSchedules(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// executionIDs lists the executions of the store, sorted.
func (e *schedEnv) executionIDs() []string {
	e.t.Helper()
	list, err := e.st.ListExecutions(e.ctx, ports.ExecutionFilter{Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	ids := make([]string, len(list))
	for i, x := range list {
		ids[i] = x.ID
	}
	slices.Sort(ids)
	return ids
}

func tickIDs(name string, ticks ...time.Time) []string {
	out := make([]string, len(ticks))
	for i, t := range ticks {
		out[i] = domain.ScheduleExecutionID(name, t)
	}
	slices.Sort(out)
	return out
}

func at3(day int) time.Time { return day0.Add(time.Duration(day)*24*time.Hour + 3*time.Hour) }

func TestScheduleCatchUpAfterDowntime(t *testing.T) {
	t.Parallel()
	// Created at day 0 01:00; the engines are down until day 3 04:00:
	// the ticks of days 0, 1, 2 and 3 at 03:00 were missed.
	cases := []struct {
		name    string
		catchUp domain.CatchUp
		want    []time.Time
	}{
		{"skip fires none of the missed ticks", app.CatchUpSkip, nil},
		{"once fires the latest missed tick", app.CatchUpOnce, []time.Time{at3(3)}},
		{"all(2) fires the two latest missed ticks", app.CatchUpAll(2), []time.Time{at3(2), at3(3)}},
		{"all(10) fires every missed tick", app.CatchUpAll(10), []time.Time{at3(0), at3(1), at3(2), at3(3)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newSchedEnv(t, memstore.New(), clock.NewFake(day0.Add(time.Hour)), nil)
			s := e.create(app.ScheduleDef{Name: "nightly", Cron: "0 3 * * *", Function: "report", Input: []byte(`"x"`), CatchUp: c.catchUp, Overlap: app.OverlapAllow})
			if !s.NextTick.Equal(at3(0)) {
				t.Fatalf("next tick %s; want %s", s.NextTick, at3(0))
			}
			e.fc.Set(at3(3).Add(time.Hour))
			if n := e.fire(); n != len(c.want) {
				t.Errorf("fired %d; want %d", n, len(c.want))
			}
			if got, want := e.executionIDs(), tickIDs("nightly", c.want...); !slices.Equal(got, want) {
				t.Errorf("executions %q; want %q", got, want)
			}
			got, _ := e.eng.Schedule(e.ctx, "nightly")
			if !got.NextTick.Equal(at3(4)) {
				t.Errorf("next tick %s; want %s", got.NextTick, at3(4))
			}
			if n := e.fire(); n != 0 {
				t.Errorf("a second pass fired %d; want 0", n)
			}
		})
	}

	t.Run("skip still fires a tick found due within the misfire grace", func(t *testing.T) {
		t.Parallel()
		e := newSchedEnv(t, memstore.New(), clock.NewFake(day0.Add(time.Hour)), nil)
		e.create(app.ScheduleDef{Name: "nightly", Cron: "0 3 * * *", Function: "report", CatchUp: app.CatchUpSkip})
		e.fc.Set(at3(0).Add(30 * time.Second))
		if n := e.fire(); n != 1 {
			t.Fatalf("fired %d; want 1", n)
		}
		if got, want := e.executionIDs(), tickIDs("nightly", at3(0)); !slices.Equal(got, want) {
			t.Errorf("executions %q; want %q", got, want)
		}
	})
}

func TestScheduleOverlap(t *testing.T) {
	t.Parallel()
	// No worker runs: an execution stays pending (live).
	setup := func(t *testing.T, o domain.Overlap) *schedEnv {
		e := newSchedEnv(t, memstore.New(), clock.NewFake(day0.Add(time.Hour)), nil)
		e.create(app.ScheduleDef{Name: "nightly", Cron: "0 3 * * *", Function: "report", Overlap: o})
		e.fc.Set(at3(0))
		if n := e.fire(); n != 1 {
			t.Fatalf("first tick fired %d; want 1", n)
		}
		e.fc.Set(at3(1))
		return e
	}
	t.Run("allow starts the next run beside the live one", func(t *testing.T) {
		t.Parallel()
		e := setup(t, app.OverlapAllow)
		if n := e.fire(); n != 1 {
			t.Fatalf("fired %d; want 1", n)
		}
	})
	t.Run("skip drops the tick and moves on", func(t *testing.T) {
		t.Parallel()
		e := setup(t, app.OverlapSkip)
		if n := e.fire(); n != 0 {
			t.Fatalf("fired %d; want 0", n)
		}
		s, _ := e.eng.Schedule(e.ctx, "nightly")
		if !s.NextTick.Equal(at3(2)) {
			t.Errorf("next tick %s; want %s", s.NextTick, at3(2))
		}
	})
	t.Run("queue_one holds the tick until the live run ends, then fires one run", func(t *testing.T) {
		t.Parallel()
		e := setup(t, app.OverlapQueueOne)
		if n := e.fire(); n != 0 {
			t.Fatalf("fired %d while the first run is live; want 0", n)
		}
		e.fc.Set(at3(2).Add(time.Hour)) // two ticks held
		if n := e.fire(); n != 0 {
			t.Fatalf("fired %d while the first run is live; want 0", n)
		}
		if err := e.eng.Cancel(e.ctx, domain.ScheduleExecutionID("nightly", at3(0))); err != nil {
			t.Fatal(err)
		}
		if n := e.fire(); n != 1 {
			t.Fatalf("fired %d once the first run ended; want 1", n)
		}
		if got, want := e.executionIDs(), tickIDs("nightly", at3(0), at3(2)); !slices.Equal(got, want) {
			t.Errorf("executions %q; want %q", got, want)
		}
	})
}

// Three engines on one store fire a one-second schedule: every tick makes
// exactly one execution, whichever engine gets there first.
func TestScheduleFiresEachTickOnceAcrossEngines(t *testing.T) {
	t.Parallel()
	teststore.Run(t, func(t *testing.T, k teststore.Kind) {
		st := k.Open(t)
		fc := clock.NewFake(day0)
		var engines []*schedEnv
		for range 3 {
			engines = append(engines, newSchedEnv(t, st, fc, nil))
		}
		engines[0].create(app.ScheduleDef{Name: "every-second", Cron: "* * * * * *", Function: "report",
			CatchUp: app.CatchUpAll(100), Overlap: app.OverlapAllow})
		const ticks = 20
		var want []time.Time
		total := 0
		for i := 1; i <= ticks; i++ {
			fc.Advance(time.Second)
			want = append(want, day0.Add(time.Duration(i)*time.Second))
			var wg sync.WaitGroup
			var mu sync.Mutex
			for _, e := range engines {
				wg.Go(func() {
					n, err := e.eng.FireDueSchedules(e.ctx)
					if err != nil {
						t.Error(err)
					}
					mu.Lock()
					total += n
					mu.Unlock()
				})
			}
			wg.Wait()
		}
		if total != ticks {
			t.Errorf("the engines created %d executions; want %d", total, ticks)
		}
		if got, w := engines[0].executionIDs(), tickIDs("every-second", want...); !slices.Equal(got, w) {
			t.Errorf("executions %q; want one per tick %q", got, w)
		}
	})
}

// A worker's scheduler fires a declared schedule and the run completes.
func TestScheduleDeclaredAtRegistrationRunsOnAWorker(t *testing.T) {
	t.Parallel()
	reg, fn := reportRegistry()
	app.Schedule(reg, "nightly-report", "0 3 * * *", fn, "march", app.InTimeZone("Europe/Paris"), app.WithCatchUp(app.CatchUpSkip))
	st := memstore.New()
	fc := clock.NewFake(day0)
	eng, err := app.New(app.Deps{Store: st, Registry: reg, Clock: fc}, app.Config{ScheduleInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- eng.Serve(wctx, app.WorkerOptions{PollInterval: 10 * time.Millisecond}) }()
	defer func() { stop(); <-done }()

	var s domain.Schedule
	for {
		if s, err = eng.Schedule(ctx, "nightly-report"); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the worker never wrote the declared schedule: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// 03:00 in Paris in January is 02:00 UTC.
	if want := day0.Add(2 * time.Hour); !s.NextTick.Equal(want) || s.TimeZone != "Europe/Paris" || s.CatchUp != app.CatchUpSkip {
		t.Fatalf("declared schedule %+v; want next tick %s in Europe/Paris, catch-up skip", s, want)
	}
	fc.Set(day0.Add(2*time.Hour + time.Second))
	id := domain.ScheduleExecutionID("nightly-report", day0.Add(2*time.Hour))
	for {
		if _, err := st.GetExecution(ctx, id); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the scheduler never fired the tick")
		}
		time.Sleep(5 * time.Millisecond)
	}
	got, err := fn.Await(ctx, eng, id)
	if err != nil || got != "done march" {
		t.Fatalf("Await = %q, %v; want %q", got, err, "done march")
	}
}

func TestScheduleDeclaredIsUpdatedFromCodeKeepingPause(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	fc := clock.NewFake(day0)
	reg1, fn1 := reportRegistry()
	app.Schedule(reg1, "nightly", "0 3 * * *", fn1, "a")
	e1 := newSchedEnv(t, st, fc, reg1)
	e1.fire()
	if _, err := e1.eng.PauseSchedule(e1.ctx, "nightly"); err != nil {
		t.Fatal(err)
	}
	reg2, fn2 := reportRegistry()
	app.Schedule(reg2, "nightly", "0 4 * * *", fn2, "b", app.WithOverlap(app.OverlapAllow))
	e2 := newSchedEnv(t, st, fc, reg2)
	e2.fire()
	s, err := e2.eng.Schedule(e2.ctx, "nightly")
	if err != nil {
		t.Fatal(err)
	}
	if s.Cron != "0 4 * * *" || string(s.Input) != `"b"` || s.Overlap != app.OverlapAllow || !s.Paused || !s.NextTick.Equal(day0.Add(4*time.Hour)) {
		t.Fatalf("schedule after a new declaration %+v; want cron 0 4 * * *, input \"b\", overlap allow, still paused, next 04:00", s)
	}
}

func TestScheduleRuntimeOperations(t *testing.T) {
	t.Parallel()
	e := newSchedEnv(t, memstore.New(), clock.NewFake(day0), nil)
	e.create(app.ScheduleDef{Name: "hourly", Cron: "@hourly", Function: "report", Input: []byte(`"h"`)})

	s, err := e.eng.PauseSchedule(e.ctx, "hourly")
	if err != nil || !s.Paused {
		t.Fatalf("PauseSchedule = %+v, %v", s, err)
	}
	e.fc.Set(day0.Add(5*time.Hour + time.Minute))
	if n := e.fire(); n != 0 {
		t.Errorf("a paused schedule fired %d", n)
	}
	s, err = e.eng.ResumeSchedule(e.ctx, "hourly")
	if err != nil || s.Paused || !s.NextTick.Equal(day0.Add(6*time.Hour)) {
		t.Fatalf("ResumeSchedule = %+v, %v; want unpaused, next tick 06:00 (the pause is not caught up)", s, err)
	}
	id, err := e.eng.TriggerSchedule(e.ctx, "hourly")
	if err != nil || !strings.HasPrefix(id, "schedule:hourly@") {
		t.Fatalf("TriggerSchedule = %q, %v", id, err)
	}
	s, _ = e.eng.Schedule(e.ctx, "hourly")
	if s.LastExecutionID != id || !s.NextTick.Equal(day0.Add(6*time.Hour)) {
		t.Errorf("after a trigger: %+v; want last execution %s and the next tick unchanged", s, id)
	}
	s, err = e.eng.UpdateSchedule(e.ctx, app.ScheduleDef{Name: "hourly", Cron: "30 * * * *", Function: "report"})
	if err != nil || s.Cron != "30 * * * *" || !s.NextTick.Equal(day0.Add(5*time.Hour+30*time.Minute)) {
		t.Fatalf("UpdateSchedule = %+v, %v; want next tick 05:30", s, err)
	}
	list, err := e.eng.Schedules(e.ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("Schedules = %+v, %v", list, err)
	}
	if err := e.eng.DeleteSchedule(e.ctx, "hourly"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.Schedule(e.ctx, "hourly"); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("Schedule after delete: %v; want ErrNotFound", err)
	}
	if _, err := e.eng.CreateSchedule(e.ctx, app.ScheduleDef{Name: "x", Cron: "@daily", Function: "report"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.CreateSchedule(e.ctx, app.ScheduleDef{Name: "x", Cron: "@daily", Function: "report"}); !errors.Is(err, app.ErrConflict) {
		t.Errorf("CreateSchedule twice: %v; want ErrConflict", err)
	}
}

func TestScheduleBadInputNamesTheValue(t *testing.T) {
	t.Parallel()
	e := newSchedEnv(t, memstore.New(), clock.NewFake(day0), nil)
	cases := []struct {
		name   string
		def    app.ScheduleDef
		target error
		words  []string
	}{
		{"an invalid cron expression", app.ScheduleDef{Cron: "61 * * * *"}, app.ErrInvalidArgument, []string{`"61 * * * *"`, "5 fields"}},
		{"a cron expression with too few fields", app.ScheduleDef{Cron: "every day"}, app.ErrInvalidArgument, []string{`"every day"`}},
		{"a cron expression that never fires", app.ScheduleDef{Cron: "0 0 30 2 *"}, app.ErrInvalidArgument, []string{`"0 0 30 2 *"`, "never fires"}},
		{"@every", app.ScheduleDef{Cron: "@every 5s"}, app.ErrInvalidArgument, []string{`"@every 5s"`}},
		{"an unknown time zone", app.ScheduleDef{TimeZone: "Mars/Olympus"}, app.ErrInvalidArgument, []string{`"Mars/Olympus"`, "IANA"}},
		{"an unknown function", app.ScheduleDef{Function: "nobody"}, app.ErrUnregisteredFunction, []string{`"nobody"`, "report"}},
		{"an unknown overlap", app.ScheduleDef{Overlap: "sometimes"}, app.ErrInvalidArgument, []string{`"sometimes"`, "queue_one"}},
		{"a catch-up bound of 0", app.ScheduleDef{CatchUp: app.CatchUpAll(0)}, app.ErrInvalidArgument, []string{"bound 0"}},
		{"an empty name", app.ScheduleDef{Name: "-"}, app.ErrInvalidArgument, []string{"schedule name"}},
	}
	for _, c := range cases {
		def := c.def
		if def.Name == "" {
			def.Name = "bad"
		} else if def.Name == "-" {
			def.Name = ""
		}
		if def.Cron == "" {
			def.Cron = "@daily"
		}
		if def.Function == "" {
			def.Function = "report"
		}
		_, err := e.eng.CreateSchedule(e.ctx, def)
		if !errors.Is(err, c.target) {
			t.Errorf("%s: %v; want %v", c.name, err, c.target)
			continue
		}
		for _, w := range c.words {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %s", c.name, err, w)
			}
		}
	}

	t.Run("at registration New returns the error", func(t *testing.T) {
		reg, fn := reportRegistry()
		app.Schedule(reg, "a", "* * *", fn, "x")
		app.Schedule(reg, "b", "@daily", fn, "x", app.InTimeZone("Europe/Nowhere"))
		other, _ := reportRegistry()
		foreign := app.Register(app.NewRegistry(), "elsewhere", func(context.Context, int) (int, error) { return 0, nil })
		app.Schedule(other, "c", "@daily", foreign, 1)
		_, err := app.New(app.Deps{Store: memstore.New(), Registry: reg}, app.Config{})
		for _, w := range []string{`schedule "a"`, `"* * *"`, `schedule "b"`, `"Europe/Nowhere"`} {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("New: %v; want it to say %s", err, w)
			}
		}
		_, err = app.New(app.Deps{Store: memstore.New(), Registry: other}, app.Config{})
		if !errors.Is(err, app.ErrUnregisteredFunction) || !strings.Contains(err.Error(), `"elsewhere"`) {
			t.Errorf("a schedule of another registry's function: %v; want ErrUnregisteredFunction", err)
		}
	})
}

// A key function that panics on a schedule's input is an error when the
// schedule is declared or created; one that starts panicking later drops
// that tick with the panic in the error, and the next tick fires (the
// schedule and the queue are never stuck).
func TestScheduleKeyFunctionThatPanics(t *testing.T) {
	t.Parallel()
	var panicking atomic.Bool
	limitedRegistry := func() (*app.Registry, *app.Function[string, string]) {
		reg := app.NewRegistry()
		fn := app.Register(reg, "report", func(_ context.Context, in string) (string, error) { return "done " + in, nil },
			app.WithConcurrency(1, func(in string) string {
				if in == "" || panicking.Load() {
					panic("no tenant in " + strconv.Quote(in))
				}
				return in
			}))
		return reg, fn
	}

	t.Run("declared: New fails naming the panic", func(t *testing.T) {
		reg, fn := limitedRegistry()
		app.Schedule(reg, "nightly", "@daily", fn, "")
		_, err := app.New(app.Deps{Store: memstore.New(), Registry: reg}, app.Config{})
		for _, w := range []string{`schedule "nightly"`, "WithConcurrency key function", `no tenant in ""`} {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("New: %v; want it to say %s", err, w)
			}
		}
	})

	reg, _ := limitedRegistry()
	e := newSchedEnv(t, memstore.New(), clock.NewFake(day0), reg)
	t.Run("created: ErrInvalidArgument naming the panic", func(t *testing.T) {
		_, err := e.eng.CreateSchedule(e.ctx, app.ScheduleDef{Name: "bad", Cron: "@daily", Function: "report", Input: json.RawMessage(`""`)})
		if !errors.Is(err, app.ErrInvalidArgument) || !strings.Contains(err.Error(), `no tenant in ""`) {
			t.Fatalf("CreateSchedule: %v; want ErrInvalidArgument with the panic", err)
		}
	})
	t.Run("a tick whose dispatch panics is dropped with an error, the next one fires", func(t *testing.T) {
		e.create(app.ScheduleDef{Name: "hourly", Cron: "0 * * * *", Function: "report", Input: json.RawMessage(`"acme"`)})
		panicking.Store(true)
		e.fc.Advance(time.Hour)
		n, err := e.eng.FireDueSchedules(e.ctx)
		if n != 0 || err == nil || !strings.Contains(err.Error(), "tick 2031-01-06T01:00:00Z not fired") ||
			!strings.Contains(err.Error(), `no tenant in "acme"`) {
			t.Fatalf("FireDueSchedules = %d, %v; want 0 and the dropped tick with the panic", n, err)
		}
		if n, err := e.eng.FireDueSchedules(e.ctx); n != 0 || err != nil {
			t.Fatalf("a second pass in the same hour = %d, %v; want 0, nil (the tick is not retried)", n, err)
		}
		panicking.Store(false)
		e.fc.Advance(time.Hour)
		if n := e.fire(); n != 1 {
			t.Fatalf("the next tick fired %d executions; want 1", n)
		}
		if ids := e.executionIDs(); len(ids) != 1 || ids[0] != "schedule:hourly@2031-01-06T02:00:00Z" {
			t.Errorf("executions %v; want only the 02:00 tick", ids)
		}
	})
}
