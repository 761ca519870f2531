package contract

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
)

// newSchedule returns a schedule with every field set to a non-default
// value, so a store that drops one is noticed.
func newSchedule(name string, next time.Time) domain.Schedule {
	return domain.Schedule{
		Name: name, Cron: "0 3 * * *", TimeZone: "Europe/Paris", Function: "report",
		Input: js(`{"month":"2031-03","n":0}`), CatchUp: domain.CatchUp{Mode: domain.CatchUpModeAll, Bound: 7},
		Overlap: domain.OverlapQueueOne, NextTick: next,
	}
}

func (f *fixture) createSchedule(s domain.Schedule, now time.Time) domain.Schedule {
	f.t.Helper()
	got, err := f.s.CreateSchedule(f.ctx, s, now)
	f.noErr(err, "CreateSchedule "+s.Name)
	return got
}

func (f *fixture) eqSchedule(what string, got, want domain.Schedule) {
	f.t.Helper()
	f.eq(what+": name", got.Name, want.Name)
	f.eq(what+": cron", got.Cron, want.Cron)
	f.eq(what+": time zone", got.TimeZone, want.TimeZone)
	f.eq(what+": function", got.Function, want.Function)
	f.eqRaw(what+": input", got.Input, want.Input)
	f.eq(what+": catch-up", got.CatchUp, want.CatchUp)
	f.eq(what+": overlap", got.Overlap, want.Overlap)
	f.eq(what+": paused", got.Paused, want.Paused)
	f.eqTime(what+": next tick", got.NextTick, want.NextTick)
	f.eqTimePtr(what+": last tick", got.LastTick, want.LastTick)
	f.eq(what+": last execution", got.LastExecutionID, want.LastExecutionID)
	f.eq(what+": version", got.Version, want.Version)
	f.eqTime(what+": created at", got.CreatedAt, want.CreatedAt)
	f.eqTime(what+": updated at", got.UpdatedAt, want.UpdatedAt)
}

func scheduleNames(list []domain.Schedule) string {
	names := make([]string, len(list))
	for i, s := range list {
		names[i] = s.Name
	}
	return strings.Join(names, ",")
}

func testSchedules(t *testing.T, h storeSuite) {
	h.run(t, "a created schedule is read back field for field, at version 1", func(t *testing.T, f *fixture) {
		in := newSchedule("nightly", at(time.Hour))
		got := f.createSchedule(in, at(time.Second))
		want := in
		want.Version, want.CreatedAt, want.UpdatedAt = 1, at(time.Second), at(time.Second)
		f.eqSchedule("created", got, want)
		read, err := f.s.GetSchedule(f.ctx, "nightly")
		f.noErr(err, "GetSchedule")
		f.eqSchedule("read", read, want)
	})

	h.run(t, "a second schedule of the same name is a conflict and changes nothing", func(t *testing.T, f *fixture) {
		f.createSchedule(newSchedule("nightly", at(time.Hour)), epoch)
		other := newSchedule("nightly", at(2*time.Hour))
		other.Cron = "* * * * *"
		_, err := f.s.CreateSchedule(f.ctx, other, at(time.Minute))
		f.errNames(err, domain.ErrConflict, "nightly", "CreateSchedule twice")
		got, err := f.s.GetSchedule(f.ctx, "nightly")
		f.noErr(err, "GetSchedule")
		f.eq("cron kept", got.Cron, "0 3 * * *")
	})

	h.run(t, "schedules are listed by name; an empty store lists none", func(t *testing.T, f *fixture) {
		list, err := f.s.ListSchedules(f.ctx)
		f.noErr(err, "ListSchedules")
		f.eq("empty list", len(list), 0)
		for _, n := range []string{"b", "c", "a"} {
			f.createSchedule(newSchedule(n, at(time.Hour)), epoch)
		}
		list, err = f.s.ListSchedules(f.ctx)
		f.noErr(err, "ListSchedules")
		f.eq("order", scheduleNames(list), "a,b,c")
	})

	h.run(t, "an update is a compare-and-set on the version", func(t *testing.T, f *fixture) {
		s := f.createSchedule(newSchedule("nightly", at(time.Hour)), epoch)
		s.NextTick, s.LastTick, s.LastExecutionID, s.Paused = at(25*time.Hour), ptrTo(at(time.Hour)), "schedule:nightly@x", true
		s.Cron, s.TimeZone, s.Input = "30 4 * * *", "", nil
		s.CatchUp, s.Overlap = domain.CatchUp{Mode: domain.CatchUpModeSkip}, domain.OverlapAllow
		got, err := f.s.UpdateSchedule(f.ctx, s, at(2*time.Hour))
		f.noErr(err, "UpdateSchedule")
		want := s
		want.Version, want.UpdatedAt = 2, at(2*time.Hour)
		f.eqSchedule("updated", got, want)
		read, err := f.s.GetSchedule(f.ctx, "nightly")
		f.noErr(err, "GetSchedule")
		f.eqSchedule("read after update", read, want)

		stale := s // still at version 1
		stale.NextTick = at(99 * time.Hour)
		_, err = f.s.UpdateSchedule(f.ctx, stale, at(3*time.Hour))
		f.errNames(err, domain.ErrConflict, "nightly", "UpdateSchedule at a stale version")
		read, _ = f.s.GetSchedule(f.ctx, "nightly")
		f.eqSchedule("unchanged by the stale update", read, want)
	})

	h.run(t, "of concurrent updates at one version exactly one applies", func(t *testing.T, f *fixture) {
		s := f.createSchedule(newSchedule("nightly", at(time.Hour)), epoch)
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				c := s
				c.NextTick = at(time.Duration(i+2) * time.Hour)
				_, errs[i] = f.s.UpdateSchedule(f.ctx, c, at(time.Minute))
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else {
				f.isErr(err, domain.ErrConflict, "a losing update")
			}
		}
		f.eq("updates that applied", ok, 1)
		read, _ := f.s.GetSchedule(f.ctx, "nightly")
		f.eq("version", read.Version, 2)
	})

	h.run(t, "unknown schedules are not found", func(t *testing.T, f *fixture) {
		_, err := f.s.GetSchedule(f.ctx, "nobody")
		f.errNames(err, domain.ErrNotFound, "nobody", "GetSchedule")
		f.errNames(f.s.DeleteSchedule(f.ctx, "nobody"), domain.ErrNotFound, "nobody", "DeleteSchedule")
		s := newSchedule("nobody", at(time.Hour))
		s.Version = 1
		_, err = f.s.UpdateSchedule(f.ctx, s, epoch)
		f.errNames(err, domain.ErrNotFound, "nobody", "UpdateSchedule")
	})

	h.run(t, "a deleted schedule is gone and its name free again", func(t *testing.T, f *fixture) {
		f.createSchedule(newSchedule("a", at(time.Hour)), epoch)
		f.createSchedule(newSchedule("b", at(time.Hour)), epoch)
		f.noErr(f.s.DeleteSchedule(f.ctx, "a"), "DeleteSchedule")
		list, _ := f.s.ListSchedules(f.ctx)
		f.eq("left", scheduleNames(list), "b")
		got := f.createSchedule(newSchedule("a", at(time.Hour)), at(time.Minute))
		f.eq("version of the new one", got.Version, 1)
	})

	h.run(t, "due schedules are unpaused ones whose next tick has come, earliest first", func(t *testing.T, f *fixture) {
		f.createSchedule(newSchedule("later", at(2*time.Hour)), epoch)
		f.createSchedule(newSchedule("b-due", at(time.Hour)), epoch)
		f.createSchedule(newSchedule("a-due", at(time.Hour)), epoch)
		f.createSchedule(newSchedule("first", at(time.Minute)), epoch)
		p := newSchedule("paused", at(time.Minute))
		p.Paused = true
		f.createSchedule(p, epoch)

		due, err := f.s.DueSchedules(f.ctx, at(time.Hour), 10)
		f.noErr(err, "DueSchedules")
		f.eq("due at +1h (next tick == now is due)", scheduleNames(due), "first,a-due,b-due")
		due, _ = f.s.DueSchedules(f.ctx, at(time.Hour), 2)
		f.eq("limited to 2", scheduleNames(due), "first,a-due")
		due, _ = f.s.DueSchedules(f.ctx, epoch, 10)
		f.eq("due at the start", len(due), 0)
	})

	h.run(t, "bad schedules and arguments are invalid arguments naming the value", func(t *testing.T, f *fixture) {
		good := newSchedule("ok", at(time.Hour))
		cases := []struct {
			what, name string
			edit       func(*domain.Schedule)
		}{
			{"an empty name", "schedule name", func(s *domain.Schedule) { s.Name = "" }},
			{"an empty cron", "cron", func(s *domain.Schedule) { s.Cron = "" }},
			{"a reserved function", "stent.x", func(s *domain.Schedule) { s.Function = "stent.x" }},
			{"an input that is not JSON", "input", func(s *domain.Schedule) { s.Input = js(`{nope`) }},
			{"an unknown catch-up", "sometimes", func(s *domain.Schedule) { s.CatchUp = domain.CatchUp{Mode: "sometimes"} }},
			{"a catch-up bound of 0", "0", func(s *domain.Schedule) { s.CatchUp = domain.CatchUp{Mode: domain.CatchUpModeAll} }},
			{"an unknown overlap", "maybe", func(s *domain.Schedule) { s.Overlap = "maybe" }},
			{"no next tick", "next tick", func(s *domain.Schedule) { s.NextTick = time.Time{} }},
		}
		for _, c := range cases {
			s := good
			c.edit(&s)
			_, err := f.s.CreateSchedule(f.ctx, s, epoch)
			f.errNames(err, domain.ErrInvalidArgument, c.name, "CreateSchedule with "+c.what)
		}
		_, err := f.s.DueSchedules(f.ctx, epoch, 0)
		f.errNames(err, domain.ErrInvalidArgument, "0", "DueSchedules with limit 0")
		_, err = f.s.GetSchedule(f.ctx, "")
		f.isErr(err, domain.ErrInvalidArgument, "GetSchedule with an empty name")
		list, _ := f.s.ListSchedules(f.ctx)
		f.eq("nothing stored", len(list), 0)
	})
}
