package contract

import (
	"errors"
	"testing"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// testCreateExecutions covers the batch dispatch write.
func testCreateExecutions(t *testing.T, h storeSuite) {
	h.run(t, "a batch creates every execution and root, reusing ids and keys like CreateExecution", func(t *testing.T, f *fixture) {
		keyed, _ := f.create(execOpts{Fn: "job", Key: "order-1"})
		taken, _ := f.create(execOpts{ID: "caller-id", Fn: "other"})
		newA, rootA := buildExecution(execOpts{Fn: "job", Input: `1`})
		newB, rootB := buildExecution(execOpts{Fn: "job", Input: `2`})
		dupKey, dupKeyRoot := buildExecution(execOpts{Fn: "job", Key: "order-1"})
		sameID, sameIDRoot := buildExecution(execOpts{ID: "caller-id", Fn: "job"})
		res, err := f.s.CreateExecutions(f.ctx, []ports.NewExecution{
			{Execution: newA, Root: rootA}, {Execution: dupKey, Root: dupKeyRoot},
			{Execution: sameID, Root: sameIDRoot}, {Execution: newB, Root: rootB},
		})
		f.noErr(err, "CreateExecutions")
		if len(res) != 4 {
			t.Fatalf("%s: %d results for 4 items", f.name, len(res))
		}
		f.eq("new item", []any{res[0].ID, res[0].Created, res[0].Err}, []any{newA.ID, true, error(nil)})
		f.eq("reused key", []any{res[1].ID, res[1].Created, res[1].Err}, []any{keyed.ID, false, error(nil)})
		if !errors.Is(res[2].Err, domain.ErrConflict) || res[2].Created {
			t.Fatalf("%s: id used by another function: %+v; want ErrConflict", f.name, res[2])
		}
		f.eq("second new item", []any{res[3].ID, res[3].Created}, []any{newB.ID, true})
		f.eq("first root", f.task(rootA.ID).State, domain.TaskPending)
		f.eqRaw("second input", f.exec(newB.ID).Input, js(`2`))
		f.eq("taken id keeps its function", f.exec(taken.ID).RootFunction, "other")
		if _, err := f.s.GetTask(f.ctx, dupKeyRoot.ID); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("%s: a reused key wrote its root (%v)", f.name, err)
		}
		if got := f.claimFns(at(0), "job"); len(got) != 3 {
			t.Fatalf("%s: %d claimable roots; want 3 (the keyed one and the two new)", f.name, len(got))
		}
	})

	h.run(t, "a batch with bad input writes nothing", func(t *testing.T, f *fixture) {
		ok, okRoot := buildExecution(execOpts{Fn: "job"})
		bad, badRoot := buildExecution(execOpts{Fn: "job"})
		badRoot.StepName = "other"
		_, err := f.s.CreateExecutions(f.ctx, []ports.NewExecution{{Execution: ok, Root: okRoot}, {Execution: bad, Root: badRoot}})
		if !errors.Is(err, domain.ErrInvalidArgument) {
			t.Fatalf("%s: error %v; want ErrInvalidArgument", f.name, err)
		}
		if _, err := f.s.GetExecution(f.ctx, ok.ID); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("%s: a refused batch wrote an execution (%v)", f.name, err)
		}
	})
}
