package contract

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// dispatchKeyed creates one execution built from o and returns the item's
// result.
func (f *fixture) dispatchKeyed(o execOpts) (ports.CreatedExecution, domain.Execution) {
	f.t.Helper()
	exec, root := buildExecution(o)
	res, err := f.s.CreateExecutions(f.ctx, []ports.NewExecution{{Execution: exec, Root: root}})
	f.noErr(err, "CreateExecutions")
	if len(res) != 1 {
		f.t.Fatalf("%s: CreateExecutions returned %d results for 1 item", f.name, len(res))
	}
	f.noErr(res[0].Err, "CreateExecutions item")
	return res[0], exec
}

func (f *fixture) countExecutions(fn string) int {
	f.t.Helper()
	list, err := f.s.ListExecutions(f.ctx, ports.ExecutionFilter{Function: fn, Limit: 1000})
	f.noErr(err, "ListExecutions")
	return len(list)
}

func testDispatchDedupe(t *testing.T, h storeSuite) {
	h.run(t, "a singleton key joins the live execution and is free again once it ends", func(t *testing.T, f *fixture) {
		fn := "single-" + domain.NewID()[:8]
		first, e1 := f.dispatchKeyed(execOpts{Fn: fn, Singleton: "nightly", Input: `1`})
		f.eq("first outcome", first.Outcome, domain.DispatchCreated)
		f.eq("first created", first.Created, true)
		f.eq("stored singleton key", f.exec(e1.ID).SingletonKey, "nightly")
		second, _ := f.dispatchKeyed(execOpts{Fn: fn, Singleton: "nightly", Input: `2`, CreatedAt: at(time.Second)})
		f.eq("second outcome", second.Outcome, domain.DispatchJoined)
		f.eq("second id", second.ID, e1.ID)
		f.eq("second created", second.Created, false)
		f.eq("executions", f.countExecutions(fn), 1)
		f.eqRaw("the live execution keeps its input", f.exec(e1.ID).Input, js(`1`))
		other, _ := f.dispatchKeyed(execOpts{Fn: fn + "-other", Singleton: "other"})
		f.eq("another key", other.Outcome, domain.DispatchCreated)

		root := f.claimID(at(2*time.Second), e1.RootTaskID)
		running, _ := f.dispatchKeyed(execOpts{Fn: fn, Singleton: "nightly", CreatedAt: at(3 * time.Second)})
		f.eq("while running", running.Outcome, domain.DispatchJoined)
		f.complete(root, `"done"`, at(4*time.Second))
		after, e3 := f.dispatchKeyed(execOpts{Fn: fn, Singleton: "nightly", CreatedAt: at(5 * time.Second)})
		f.eq("after it ended", after.Outcome, domain.DispatchCreated)
		f.eq("new id", after.ID, e3.ID)
		f.eq("executions", f.countExecutions(fn), 2)
	})

	h.run(t, "a cancelled singleton frees its key", func(t *testing.T, f *fixture) {
		_, e1 := f.dispatchKeyed(execOpts{Singleton: "k"})
		_, _, err := f.s.CancelExecution(f.ctx, e1.ID, at(time.Second))
		f.noErr(err, "CancelExecution")
		again, _ := f.dispatchKeyed(execOpts{Singleton: "k", CreatedAt: at(2 * time.Second)})
		f.eq("after cancel", again.Outcome, domain.DispatchCreated)
	})

	h.run(t, "an idempotency key hit comes before the singleton", func(t *testing.T, f *fixture) {
		_, e1 := f.dispatchKeyed(execOpts{Key: "idem", Singleton: "s"})
		got, _ := f.dispatchKeyed(execOpts{Key: "idem", Singleton: "s"})
		f.eq("outcome", got.Outcome, domain.DispatchExisting)
		f.eq("id", got.ID, e1.ID)
	})

	h.run(t, "a debounced dispatch replaces the pending execution's input, start and deadline", func(t *testing.T, f *fixture) {
		fn := "deb-" + domain.NewID()[:8]
		first, e1 := f.dispatchKeyed(execOpts{Fn: fn, Debounce: "user-7", Input: `1`,
			ScheduledFor: ptrTo(at(10 * time.Second)), Deadline: ptrTo(at(time.Minute))})
		f.eq("first outcome", first.Outcome, domain.DispatchCreated)
		f.eq("stored debounce key", f.exec(e1.ID).DebounceKey, "user-7")
		second, _ := f.dispatchKeyed(execOpts{Fn: fn, Debounce: "user-7", Input: `2`, CreatedAt: at(5 * time.Second),
			ScheduledFor: ptrTo(at(15 * time.Second)), Deadline: ptrTo(at(2 * time.Minute))})
		f.eq("second outcome", second.Outcome, domain.DispatchDebounced)
		f.eq("second id", second.ID, e1.ID)
		f.eq("second created", second.Created, false)
		f.eq("executions", f.countExecutions(fn), 1)
		got, root := f.exec(e1.ID), f.task(e1.RootTaskID)
		f.eqRaw("execution input", got.Input, js(`2`))
		f.eqRaw("root input", root.Input, js(`2`))
		f.eqTimePtr("execution scheduled_for", got.ScheduledFor, ptrTo(at(15*time.Second)))
		f.eqTimePtr("root scheduled_for", root.ScheduledFor, ptrTo(at(15*time.Second)))
		f.eqTimePtr("execution deadline", got.Deadline, ptrTo(at(2*time.Minute)))
		f.eqTimePtr("root deadline", root.Deadline, ptrTo(at(2*time.Minute)))
		f.eq("not claimable at the first start time", len(f.claimFns(at(12*time.Second), fn)), 0)

		claimed := f.claimOne(at(15*time.Second), fn)
		f.eqRaw("claimed input", claimed.Input, js(`2`))
		third, e3 := f.dispatchKeyed(execOpts{Fn: fn, Debounce: "user-7", Input: `3`, CreatedAt: at(16 * time.Second),
			ScheduledFor: ptrTo(at(20 * time.Second))})
		f.eq("after the start", third.Outcome, domain.DispatchCreated)
		f.eq("new id", third.ID, e3.ID)
		f.eqRaw("the started run keeps its input", f.task(e1.RootTaskID).Input, js(`2`))
	})

	h.run(t, "both keys on one dispatch are an invalid argument", func(t *testing.T, f *fixture) {
		exec, root := buildExecution(execOpts{Singleton: "a", Debounce: "b"})
		_, err := f.s.CreateExecutions(f.ctx, []ports.NewExecution{{Execution: exec, Root: root}})
		f.isErr(err, domain.ErrInvalidArgument, "CreateExecutions with both keys")
	})

	h.run(t, "a batch resolves each keyed item against the ones before it", func(t *testing.T, f *fixture) {
		fn := "batch-" + domain.NewID()[:8]
		var items []ports.NewExecution
		for i, o := range []execOpts{
			{Fn: fn, Singleton: "s", Input: `1`},
			{Fn: fn, Singleton: "s", Input: `2`},
			{Fn: fn, Debounce: "d", Input: `3`},
			{Fn: fn, Debounce: "d", Input: `4`},
			{Fn: fn, Input: `5`},
		} {
			o.CreatedAt = at(time.Duration(i) * time.Millisecond)
			exec, root := buildExecution(o)
			items = append(items, ports.NewExecution{Execution: exec, Root: root})
		}
		res, err := f.s.CreateExecutions(f.ctx, items)
		f.noErr(err, "CreateExecutions")
		var got []domain.DispatchOutcome
		for _, r := range res {
			got = append(got, r.Outcome)
		}
		f.eq("outcomes", got, []domain.DispatchOutcome{domain.DispatchCreated, domain.DispatchJoined,
			domain.DispatchCreated, domain.DispatchDebounced, domain.DispatchCreated})
		f.eq("joined id", res[1].ID, res[0].ID)
		f.eq("debounced id", res[3].ID, res[2].ID)
		f.eqRaw("debounced input", f.exec(res[2].ID).Input, js(`4`))
		f.eq("executions", f.countExecutions(fn), 3)
	})

	h.run(t, "concurrent dispatches with one singleton key create exactly one execution", func(t *testing.T, f *fixture) {
		fn := "race-" + domain.NewID()[:8]
		const n = 8
		ids := make([]string, n)
		outcomes := make([]domain.DispatchOutcome, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				exec, root := buildExecution(execOpts{Fn: fn, Singleton: "one", Input: fmt.Sprint(i)})
				res, err := f.s.CreateExecutions(f.ctx, []ports.NewExecution{{Execution: exec, Root: root}})
				if err != nil || len(res) != 1 || res[0].Err != nil {
					t.Errorf("dispatch %d: %v %v", i, res, err)
					return
				}
				ids[i], outcomes[i] = res[0].ID, res[0].Outcome
			}()
		}
		wg.Wait()
		created := 0
		for i := range n {
			if outcomes[i] == domain.DispatchCreated {
				created++
			}
			if ids[i] != ids[0] {
				t.Errorf("dispatch %d got %s; dispatch 0 got %s", i, ids[i], ids[0])
			}
		}
		f.eq("created", created, 1)
		f.eq("executions", f.countExecutions(fn), 1)
	})

	h.run(t, "concurrent debounced dispatches leave one pending execution with one of their inputs", func(t *testing.T, f *fixture) {
		fn := "deb-race-" + domain.NewID()[:8]
		const n = 8
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				exec, root := buildExecution(execOpts{Fn: fn, Debounce: "one", Input: fmt.Sprint(i), ScheduledFor: ptrTo(at(time.Hour))})
				if _, err := f.s.CreateExecutions(f.ctx, []ports.NewExecution{{Execution: exec, Root: root}}); err != nil {
					t.Errorf("dispatch %d: %v", i, err)
				}
			}()
		}
		wg.Wait()
		f.eq("executions", f.countExecutions(fn), 1)
	})
}

func testDispatchDedupeReplay(t *testing.T, h storeSuite) {
	h.run(t, "replaying a failed singleton while another run holds its key is a conflict and changes nothing", func(t *testing.T, f *fixture) {
		fn := "single-" + domain.NewID()[:8]
		_, e1 := f.dispatchKeyed(execOpts{Fn: fn, Singleton: "k"})
		root := f.claimID(at(time.Second), e1.RootTaskID)
		f.fail(root, "boom", at(2*time.Second))
		f.eq("failed", f.exec(e1.ID).State, domain.ExecutionFailed)
		live, _ := f.dispatchKeyed(execOpts{Fn: fn, Singleton: "k", CreatedAt: at(3 * time.Second)})
		f.eq("a new run after the failure", live.Outcome, domain.DispatchCreated)
		before := f.snapshot(e1.ID)
		_, err := f.s.ReplayDeadLetter(f.ctx, ports.ReplayParams{TaskID: root.ID, Now: at(4 * time.Second)})
		f.isErr(err, domain.ErrConflict, "ReplayDeadLetter of a singleton whose key is held")
		f.unchanged(before, "a refused replay", e1.ID)
		_, _, err = f.s.CancelExecution(f.ctx, live.ID, at(5*time.Second))
		f.noErr(err, "CancelExecution")
		_, err = f.s.ReplayDeadLetter(f.ctx, ports.ReplayParams{TaskID: root.ID, Now: at(6 * time.Second)})
		f.noErr(err, "ReplayDeadLetter once the key is free")
		f.eq("replayed", f.exec(e1.ID).State, domain.ExecutionPending)
	})
}

func testDispatchDedupeOtherFunction(t *testing.T, h storeSuite) {
	for _, kind := range []string{"singleton", "debounce"} {
		h.run(t, "a "+kind+" key held by another function's execution is a conflict for the item", func(t *testing.T, f *fixture) {
			o := execOpts{Fn: "a-" + domain.NewID()[:8], Input: `1`, ScheduledFor: ptrTo(at(time.Hour))}
			if kind == "singleton" {
				o.Singleton = "k"
			} else {
				o.Debounce = "k"
			}
			_, holder := f.dispatchKeyed(o)
			before := f.snapshot(holder.ID)
			o.Fn, o.Input = "b-"+domain.NewID()[:8], `2`
			exec, root := buildExecution(o)
			res, err := f.s.CreateExecutions(f.ctx, []ports.NewExecution{{Execution: exec, Root: root}})
			f.noErr(err, "CreateExecutions")
			f.errNames(res[0].Err, domain.ErrConflict, holder.ID, "the item")
			f.unchanged(before, "a refused "+kind+" dispatch", holder.ID)
			f.eq("executions of the other function", f.countExecutions(o.Fn), 0)
		})
	}
}
