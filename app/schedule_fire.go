package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/stenthq/stent/domain"
)

// Schedule defaults (Config.ScheduleInterval, Config.ScheduleMisfireGrace).
const (
	DefaultScheduleInterval     = time.Second
	DefaultScheduleMisfireGrace = time.Minute
)

// dueSchedulesPerPass bounds the schedules one pass reads.
const dueSchedulesPerPass = 100

// FireDueSchedules runs one pass of the scheduler: it writes the
// schedules declared in the registry (the first time it succeeds), then
// fires every due schedule as its catch-up and overlap policies say, and
// returns how many executions it created. Each tick's execution has the
// id domain.ScheduleExecutionID(name, tick), so engines racing on one
// tick create one execution, and the schedule's next tick advances with
// a compare-and-set. Due ticks are read on Deps.Clock. Workers call it
// every Config.ScheduleInterval; tests with a fake clock may call it
// directly after advancing the clock.
func (e *Engine) FireDueSchedules(ctx context.Context) (int, error) {
	if err := e.checkOpen(); err != nil {
		return 0, err
	}
	if err := e.syncDeclaredSchedules(ctx); err != nil {
		return 0, err
	}
	now := e.now()
	due, err := e.store.DueSchedules(ctx, now, dueSchedulesPerPass)
	if err != nil {
		return 0, fmt.Errorf("stent: due schedules: %w", err)
	}
	fired := 0
	var errs []error
	for _, s := range due {
		n, err := e.fireSchedule(ctx, s, now)
		fired += n
		if err != nil {
			errs = append(errs, fmt.Errorf("stent: schedule %q: %w", s.Name, err))
		}
	}
	return fired, errors.Join(errs...)
}

// fireSchedule handles one due schedule at now.
func (e *Engine) fireSchedule(ctx context.Context, s domain.Schedule, now time.Time) (int, error) {
	cs, loc, err := parseCron(s.Cron, s.TimeZone, now)
	if err != nil {
		return 0, err
	}
	n := 1
	if s.CatchUp.Mode == domain.CatchUpModeAll {
		n = s.CatchUp.Bound
	}
	ticks := ticksBetween(cs, loc, s.NextTick, now, n)
	var fire []time.Time
	switch s.CatchUp.Mode {
	case domain.CatchUpModeSkip:
		if len(ticks) > 0 && now.Sub(ticks[len(ticks)-1]) <= e.cfg.ScheduleMisfireGrace {
			fire = ticks[len(ticks)-1:]
		}
	case domain.CatchUpModeOnce:
		fire = ticks[max(len(ticks)-1, 0):]
	default:
		fire = ticks
	}
	if s.Overlap != domain.OverlapAllow {
		live, err := e.executionLive(ctx, s.LastExecutionID)
		if err != nil {
			return 0, err
		}
		switch {
		case live && s.Overlap == domain.OverlapQueueOne:
			return 0, nil // held: the tick stays due until the live run ends
		case live:
			fire = nil
		case s.Overlap == domain.OverlapQueueOne && len(fire) == 0 && len(ticks) > 0:
			fire = ticks[len(ticks)-1:] // a held tick is never dropped
		}
		if len(fire) > 1 {
			fire = fire[len(fire)-1:] // never start runs that overlap each other
		}
	}
	fired := 0
	var badTicks []error
	for _, t := range fire {
		id := domain.ScheduleExecutionID(s.Name, t)
		created, err := e.startScheduled(ctx, s, id)
		if errors.Is(err, ErrInvalidArgument) {
			// Bad input (a key function that panics on the input, a
			// function whose options changed since the schedule was
			// created) fails the same way on every pass: the tick is
			// dropped with an error instead of staying due for ever.
			e.log.ErrorContext(ctx, "schedule tick not fired", "schedule", s.Name, "tick", t, "error", err)
			badTicks = append(badTicks, fmt.Errorf("tick %s not fired: %w", t.UTC().Format(time.RFC3339), err))
			continue
		}
		if err != nil {
			return fired, err // the tick stays due: the next pass tries again
		}
		if created {
			fired++
			e.log.InfoContext(ctx, "schedule fired", "schedule", s.Name, "tick", t, "execution_id", id)
		}
		s.LastTick, s.LastExecutionID = &t, id
	}
	if skipped := len(ticks) - len(fire); skipped > 0 {
		e.log.DebugContext(ctx, "schedule ticks not fired", "schedule", s.Name, "ticks", skipped,
			"catch_up", s.CatchUp.String(), "overlap", string(s.Overlap))
	}
	s.NextTick = nextTick(cs, loc, now)
	if s.NextTick.IsZero() {
		s.Paused, s.NextTick = true, now
		e.log.WarnContext(ctx, "schedule has no further tick; paused", "schedule", s.Name, "cron", s.Cron)
	}
	if _, err := e.store.UpdateSchedule(ctx, s, now); err != nil && !errors.Is(err, ErrConflict) {
		return fired, err
	}
	// ErrConflict: another worker handled this tick first; the executions
	// above were no-ops then (same ids).
	return fired, errors.Join(badTicks...)
}

// executionLive reports whether the execution id exists and is not
// terminal; "" and a deleted execution are not live.
func (e *Engine) executionLive(ctx context.Context, id string) (bool, error) {
	if id == "" {
		return false, nil
	}
	ex, err := e.store.GetExecution(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return !ex.State.Terminal(), nil
}

// startScheduled dispatches the schedule's function under id; created is
// false when an execution of that id already existed.
func (e *Engine) startScheduled(ctx context.Context, s domain.Schedule, id string) (bool, error) {
	fi, err := e.known(ctx, s.Function, nil)
	if err != nil {
		return false, err
	}
	_, created, err := e.dispatchCreated(ctx, s.Function, fi, s.Input, []DispatchOption{WithExecutionID(id)})
	if errors.Is(err, ErrConflict) {
		return false, nil // the id names a run of the schedule's former function
	}
	return created, err
}

// syncDeclaredSchedules writes the registry's declared schedules once per
// engine: created when absent, updated when their definition changed.
func (e *Engine) syncDeclaredSchedules(ctx context.Context) error {
	if e.schedSynced.Load() {
		return nil
	}
	e.schedSyncMu.Lock()
	defer e.schedSyncMu.Unlock()
	if e.schedSynced.Load() {
		return nil
	}
	for _, def := range e.reg.Schedules() {
		if err := e.syncDeclared(ctx, def); err != nil {
			return fmt.Errorf("stent: declared schedule %q: %w", def.Name, err)
		}
	}
	e.schedSynced.Store(true)
	return nil
}

func (e *Engine) syncDeclared(ctx context.Context, def ScheduleDef) error {
	cs, loc, err := parseCron(def.Cron, def.TimeZone, e.now())
	if err != nil {
		return err
	}
	for attempt := 0; attempt < 10; attempt++ {
		s, err := e.store.GetSchedule(ctx, def.Name)
		if errors.Is(err, ErrNotFound) {
			now := e.now()
			_, err = e.store.CreateSchedule(ctx, domain.Schedule{
				Name: def.Name, Cron: def.Cron, TimeZone: def.TimeZone, Function: def.Function, Input: def.Input,
				CatchUp: def.CatchUp, Overlap: def.Overlap, NextTick: nextTick(cs, loc, now),
			}, now)
			if errors.Is(err, ErrConflict) {
				continue // another engine created it: compare with that one
			}
			return err
		}
		if err != nil {
			return err
		}
		if s.Cron == def.Cron && s.TimeZone == def.TimeZone && s.Function == def.Function &&
			slices.Equal(s.Input, def.Input) && s.CatchUp == def.CatchUp && s.Overlap == def.Overlap {
			return nil
		}
		applyDef(&s, def, cs, loc, e.now())
		_, err = e.store.UpdateSchedule(ctx, s, e.now())
		if errors.Is(err, ErrConflict) {
			continue
		}
		return err
	}
	return fmt.Errorf("schedule %q kept changing while it was written: %w", def.Name, ErrConflict)
}

// runScheduler fires due schedules every Config.ScheduleInterval until
// ctx ends. The interval is paced on the wall clock like the engine's
// other polls; which ticks are due is read on Deps.Clock, so a test with a
// fake clock advances it and the next pass (or FireDueSchedules) fires.
func (e *Engine) runScheduler(ctx context.Context) {
	t := e.pace.NewTicker(e.cfg.ScheduleInterval)
	defer t.Stop()
	for {
		if _, err := e.FireDueSchedules(ctx); err != nil && ctx.Err() == nil && !errors.Is(err, ErrClosed) {
			e.log.WarnContext(ctx, "firing schedules failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// startScheduler runs the scheduler beside a worker; the returned func
// stops it and waits for it.
func (e *Engine) startScheduler(ctx context.Context) func() {
	if e.cfg.ScheduleInterval < 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.runScheduler(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}
