package contract

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

func testStats(t *testing.T, h storeSuite) {
	h.run(t, "an empty store counts nothing", func(t *testing.T, f *fixture) {
		byState, err := f.s.CountExecutionsByState(f.ctx)
		f.noErr(err, "CountExecutionsByState")
		f.eq("executions", len(byState), 0)
		f.eq("task groups", len(f.taskCounts()), 0)
		f.eq("dead letters", f.countDeadLetters(), int64(0))
	})

	h.run(t, "counts agree with what was created", func(t *testing.T, f *fixture) {
		f.create(execOpts{Queue: "q1"})
		_, b := f.start(execOpts{Queue: "q2"})
		recs := f.steps(b, at(time.Second), activitySpec(b, 1, "x"), activitySpec(b, 2, "y"),
			sleepSpec(b, 3, at(time.Hour)), signalSpec(b, 4, "go"))
		f.claimID(at(time.Second), recs[0].ID)
		_, c := f.start(execOpts{Queue: "q1"})
		f.complete(c, `1`, at(time.Second))
		_, d := f.start(execOpts{Queue: "q1"})
		f.fail(d, "boom", at(time.Second))
		e, _ := f.create(execOpts{Queue: "q1"})
		_, _, err := f.s.CancelExecution(f.ctx, e.ID, at(time.Second))
		f.noErr(err, "CancelExecution")
		g, _ := f.create(execOpts{Queue: "q1", Deadline: ptrTo(at(time.Second))})
		_, _, err = f.s.TimeoutExecution(f.ctx, g.ID, at(time.Second))
		f.noErr(err, "TimeoutExecution")

		byState, err := f.s.CountExecutionsByState(f.ctx)
		f.noErr(err, "CountExecutionsByState")
		f.eq("executions by state", byState, map[domain.ExecutionState]int64{
			domain.ExecutionPending: 1, domain.ExecutionRunning: 1, domain.ExecutionCompleted: 1,
			domain.ExecutionFailed: 1, domain.ExecutionCancelled: 1, domain.ExecutionTimedOut: 1,
		})
		want := []string{
			"cancelled q1 orchestrator 2",
			"completed q1 orchestrator 1",
			"failed q1 orchestrator 1",
			"pending  activity 1",
			"pending  signal 1",
			"pending  sleep 1",
			"pending q1 orchestrator 1",
			"running  activity 1",
			"running q2 orchestrator 1",
		}
		var got []string
		for _, g := range f.taskCounts() {
			got = append(got, fmt.Sprintf("%s %s %s %d", g.State, g.Queue, g.Kind, g.N))
		}
		slices.Sort(got)
		f.eq("task groups", got, want)
		f.eq("dead letters", f.countDeadLetters(), int64(1))

		all, err := f.s.ListTasks(f.ctx, ports.TaskFilter{Limit: 1000})
		f.noErr(err, "ListTasks")
		var total int64
		for _, g := range f.taskCounts() {
			total += g.N
		}
		f.eq("tasks counted", total, int64(len(all)))
	})
}
