package contract

import (
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// usage lists the limit usage at now (Groups optional), failing on error.
func (f *fixture) usage(now time.Time, groups ...string) []domain.LimitUsage {
	f.t.Helper()
	list, err := f.s.ListLimitUsage(f.ctx, ports.LimitUsageFilter{Now: now, Groups: groups})
	f.noErr(err, "ListLimitUsage")
	return list
}

// usageOf finds a group's row of a kind (zero value, false when absent).
func usageOf(list []domain.LimitUsage, kind domain.LimitKind, group string) (domain.LimitUsage, bool) {
	for _, u := range list {
		if u.Kind == kind && u.Group == group {
			return u, true
		}
	}
	return domain.LimitUsage{}, false
}

func (f *fixture) eqUsage(what string, list []domain.LimitUsage, want domain.LimitUsage) {
	f.t.Helper()
	got, ok := usageOf(list, want.Kind, want.Group)
	if !ok {
		f.t.Errorf("%s: %s: no %s row for group %q in %+v", f.name, what, want.Kind, want.Group, list)
		return
	}
	want.PerSeconds = want.Per.Seconds()
	f.eq(what, got, want)
}

func testLimitUsage(t *testing.T, h storeSuite) {
	h.run(t, "no limited task: no row", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		f.steps(root, at(time.Second), activitySpec(root, 1, "free"))
		f.eq("rows", len(f.usage(at(time.Minute))), 0)
	})

	h.run(t, "concurrency groups report running and pending tasks by group, split into scope, name and key", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		var specs []ports.StepSpec
		add := func(fn, queue, key string, limit int) {
			s := activitySpec(root, len(specs)+1, fn)
			s.Queue, s.MaxConcurrent, s.ConcurrencyKey = queue, limit, key
			specs = append(specs, s)
		}
		for range 3 {
			add("keyed", "jobs", "function:keyed:a", 2)
		}
		add("shared1", "payments", "queue:payments:c7", 1)
		add("shared2", "payments", "queue:payments:c7", 1)
		add("plain", "jobs", "", 1)
		add("plain", "jobs", "", 1)
		f.steps(root, at(time.Second), specs...)
		claimed := f.claimFns(at(time.Minute), "keyed", "shared1", "shared2")
		f.eq("claimed", len(claimed), 3)
		list := f.usage(at(time.Minute))
		f.eq("rows", len(list), 3)
		f.eqUsage("keyed group", list, domain.LimitUsage{Kind: domain.LimitConcurrency, Group: "function:keyed:a",
			Scope: domain.ScopeFunction, Name: "keyed", Key: "a", Limit: 2, InUse: 2, Pending: 1})
		f.eqUsage("queue group", list, domain.LimitUsage{Kind: domain.LimitConcurrency, Group: "queue:payments:c7",
			Scope: domain.ScopeQueue, Name: "payments", Key: "c7", Limit: 1, InUse: 1, Pending: 1})
		f.eqUsage("key-less group", list, domain.LimitUsage{Kind: domain.LimitConcurrency, Group: "plain",
			Scope: domain.ScopeFunction, Name: "plain", Limit: 1, InUse: 0, Pending: 2})
		for i := 1; i < len(list); i++ {
			if list[i-1].Group >= list[i].Group {
				t.Errorf("%s: rows not ordered by group: %q before %q", f.name, list[i-1].Group, list[i].Group)
			}
		}
		if u, _ := usageOf(list, domain.LimitConcurrency, "function:keyed:a"); !u.Full() {
			t.Errorf("%s: keyed group %+v not full", f.name, u)
		}

		only := f.usage(at(time.Minute), "plain", "queue:payments:c7", "unknown")
		f.eq("rows of two groups", len(only), 2)
		page, err := f.s.ListLimitUsage(f.ctx, ports.LimitUsageFilter{Now: at(time.Minute), Limit: 1})
		f.noErr(err, "ListLimitUsage limit 1")
		f.eq("rows with limit 1", len(page), 1)

		for _, c := range claimed {
			f.complete(c, `1`, at(2*time.Minute))
		}
		list = f.usage(at(2 * time.Minute))
		f.eqUsage("keyed group after completion", list, domain.LimitUsage{Kind: domain.LimitConcurrency, Group: "function:keyed:a",
			Scope: domain.ScopeFunction, Name: "keyed", Key: "a", Limit: 2, InUse: 0, Pending: 1})

		progress, err := f.s.ListProgress(f.ctx, root.ExecutionID)
		f.noErr(err, "ListProgress")
		for _, p := range progress {
			if p.Step == "keyed" {
				f.eq("progress max_concurrent", p.MaxConcurrent, 2)
				f.eq("progress concurrency_key", p.ConcurrencyKey, "function:keyed:a")
				f.eq("progress concurrency group", p.ConcurrencyGroup(), "function:keyed:a")
			}
			if p.Step == "plain" {
				f.eq("key-less progress concurrency group", p.ConcurrencyGroup(), "plain")
			}
		}
	})

	h.run(t, "a rate group reports its starts in the window, also once its tasks finished", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		var specs []ports.StepSpec
		for i := range 3 {
			s := activitySpec(root, i+1, "rl")
			s.Queue, s.RateKey, s.RateLimit, s.RatePer = "jobs", "function:rl:x", 2, 10*time.Second
			specs = append(specs, s)
		}
		f.steps(root, at(time.Second), specs...)
		claimed := f.claimFns(at(time.Minute), "rl")
		f.eq("claimed under rate 2", len(claimed), 2)
		want := domain.LimitUsage{Kind: domain.LimitRate, Group: "function:rl:x", Scope: domain.ScopeFunction, Name: "rl", Key: "x",
			Limit: 2, Per: 10 * time.Second, InUse: 2, Pending: 1}
		f.eqUsage("rate group", f.usage(at(time.Minute+time.Second)), want)
		for _, c := range claimed {
			f.complete(c, `1`, at(time.Minute+2*time.Second))
		}
		f.eqUsage("rate group after its tasks finished", f.usage(at(time.Minute+3*time.Second)), want)
		want.InUse = 0
		f.eqUsage("rate group after the window", f.usage(at(time.Minute+11*time.Second)), want)
		if u, _ := usageOf(f.usage(at(time.Minute+time.Second)), domain.LimitRate, "function:rl:x"); !u.Full() {
			t.Errorf("%s: rate group %+v not full", f.name, u)
		}
	})

	h.run(t, "a rate group's starts outlive the retention of their tasks: the usage and the claim still count them", func(t *testing.T, f *fixture) {
		spec := func(root domain.Task, seq int) ports.StepSpec {
			s := activitySpec(root, seq, "rl")
			s.Queue, s.RateKey, s.RateLimit, s.RatePer = "jobs", "function:rl:x", 2, 10*time.Second
			return s
		}
		old, oroot := f.start(execOpts{})
		f.steps(oroot, at(time.Second), spec(oroot, 1), spec(oroot, 2))
		claimed := f.claimFns(at(time.Minute), "rl")
		f.eq("claimed under rate 2", len(claimed), 2)
		for _, c := range claimed {
			f.complete(c, `1`, at(time.Minute))
		}
		f.complete(oroot, `"done"`, at(time.Minute+time.Second))
		res, err := f.s.Cleanup(f.ctx, ports.CleanupParams{ExecutionsBefore: at(time.Minute + 2*time.Second)})
		f.noErr(err, "Cleanup")
		f.eq("executions removed", res.Executions, int64(1))
		if _, err := f.s.GetExecution(f.ctx, old.ID); err == nil {
			t.Fatalf("%s: execution %s still there after Cleanup", f.name, old.ID)
		}

		_, root := f.start(execOpts{})
		f.steps(root, at(time.Minute+2*time.Second), spec(root, 1))
		f.eqUsage("rate group after retention removed the tasks of its starts", f.usage(at(time.Minute+3*time.Second)),
			domain.LimitUsage{Kind: domain.LimitRate, Group: "function:rl:x", Scope: domain.ScopeFunction, Name: "rl", Key: "x",
				Limit: 2, Per: 10 * time.Second, InUse: 2, Pending: 1})
		f.eq("claimed while the removed tasks' starts fill the window", len(f.claimFns(at(time.Minute+4*time.Second), "rl")), 0)
		f.eq("claimed once the window moved past them", len(f.claimFns(at(time.Minute+11*time.Second), "rl")), 1)
	})

	h.run(t, "a rate group with nothing live and no start in its window is left out", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		s := activitySpec(root, 1, "rl")
		s.RateKey, s.RateLimit, s.RatePer = "function:rl:", 5, time.Second
		f.steps(root, at(time.Second), s)
		c := f.claimOne(at(time.Minute), "rl")
		f.complete(c, `1`, at(time.Minute))
		f.eq("rows inside the window", len(f.usage(at(time.Minute))), 1)
		f.eq("rows after the window", len(f.usage(at(time.Minute+2*time.Second))), 0)
	})

	h.run(t, "a negative limit is bad input", func(t *testing.T, f *fixture) {
		_, err := f.s.ListLimitUsage(f.ctx, ports.LimitUsageFilter{Now: at(0), Limit: -1})
		f.isErr(err, domain.ErrInvalidArgument, "ListLimitUsage limit -1")
	})
}
