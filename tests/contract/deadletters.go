package contract

import (
	"fmt"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// failedChild starts an execution whose root's call 1 to fn (in queue) ran
// once and failed terminally at epoch+2s.
func (f *fixture) failedChild(fn, queue string) (domain.Execution, domain.Task, domain.Task) {
	f.t.Helper()
	e, root := f.start(execOpts{})
	s := activitySpec(root, 1, fn)
	s.Queue = queue
	rec := f.steps(root, at(time.Second), s)[0]
	c := f.claimID(at(time.Second), rec.ID)
	f.fail(c, "boom", at(2*time.Second))
	return e, root, f.task(rec.ID)
}

func (f *fixture) replay(p ports.ReplayParams) domain.Task {
	f.t.Helper()
	got, err := f.s.ReplayDeadLetter(f.ctx, p)
	f.noErr(err, "ReplayDeadLetter")
	return got
}

func testDeadLetters(t *testing.T, h storeSuite) {
	h.run(t, "a terminal failure writes a dead letter with the task snapshot", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{})
		s := activitySpec(root, 1, "charge")
		s.Queue = "payments"
		c := f.claimID(at(time.Second), f.steps(root, at(time.Second), s)[0].ID)
		now := at(time.Minute)
		f.noErr(f.s.FailTask(f.ctx, ports.FailParams{Fence: c.Fence(), Error: richError(), Reason: "gave up after 1 attempt", Now: now}), "FailTask")
		d, err := f.s.GetDeadLetter(f.ctx, c.ID)
		f.noErr(err, "GetDeadLetter")
		f.eq("entry", fmt.Sprint(d.TaskID, d.ExecutionID, d.StepName, d.Kind, d.Queue),
			fmt.Sprint(c.ID, e.ID, "charge", domain.KindActivity, "payments"))
		f.eq("reason", d.Reason, "gave up after 1 attempt")
		f.eq("code", d.Code, "card_declined")
		f.eq("error", mustJSON(d.Error), mustJSON(richError()))
		f.eq("snapshot", mustJSON(d.Snapshot), mustJSON(f.task(c.ID)))
		f.eqTime("moved_at", d.MovedAt, now)
		f.eq("count", f.countDeadLetters(), int64(1))
	})

	h.run(t, "failing the same task again replaces its dead letter", func(t *testing.T, f *fixture) {
		_, _, child := f.failedChild("flaky", "")
		f.replay(ports.ReplayParams{TaskID: child.ID, Now: at(time.Minute)})
		c := f.claimOne(at(time.Minute), "flaky")
		f.noErr(f.s.FailTask(f.ctx, ports.FailParams{Fence: c.Fence(), Error: storeError("again"), Reason: "second", Now: at(2 * time.Minute)}), "FailTask")
		f.eq("count", f.countDeadLetters(), int64(1))
		d, err := f.s.GetDeadLetter(f.ctx, child.ID)
		f.noErr(err, "GetDeadLetter")
		f.eq("reason", d.Reason, "second")
		f.eq("code", d.Code, "again")
		f.eqTime("moved_at", d.MovedAt, at(2*time.Minute))
	})

	h.run(t, "dead letters list newest first and filter by queue, step name and execution", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{})
		var failed []domain.Task
		for i, c := range []struct{ fn, queue string }{{"a", "q1"}, {"b", "q1"}, {"a", "q2"}, {"c", "q2"}} {
			s := activitySpec(root, i+1, c.fn)
			s.Queue = c.queue
			rec := f.steps(root, at(time.Second), s)[0]
			claimed := f.claim(ports.ClaimParams{Functions: []string{c.fn}, Now: at(time.Second), Limit: 1})
			if len(claimed) != 1 || claimed[0].ID != rec.ID {
				t.Fatalf("claim of %s = %v; want %s", c.fn, taskIDs(claimed), rec.ID)
			}
			f.fail(claimed[0], "boom", at(time.Duration(i+2)*time.Second))
			failed = append(failed, rec)
		}
		_, _, other := f.failedChild("z", "q3") // moved at epoch+2s, same as failed[0]
		newestFirst := []string{failed[3].ID, failed[2].ID, failed[1].ID}
		oldest := sortedStrings(failed[0].ID, other.ID) // same moved_at: task id desc
		newestFirst = append(newestFirst, oldest[1], oldest[0])
		for _, tc := range []struct {
			name   string
			filter ports.DeadLetterFilter
			want   []string
		}{
			{"everything", ports.DeadLetterFilter{}, newestFirst},
			{"queue", ports.DeadLetterFilter{Queue: "q1"}, []string{failed[1].ID, failed[0].ID}},
			{"step name", ports.DeadLetterFilter{StepName: "a"}, []string{failed[2].ID, failed[0].ID}},
			{"execution", ports.DeadLetterFilter{ExecutionID: e.ID, Queue: "q2"}, []string{failed[3].ID, failed[2].ID}},
			{"page", ports.DeadLetterFilter{Limit: 2, Offset: 1}, newestFirst[1:3]},
		} {
			list, err := f.s.ListDeadLetters(f.ctx, tc.filter)
			f.noErr(err, "ListDeadLetters")
			var got []string
			for _, d := range list {
				got = append(got, d.TaskID)
			}
			f.eq("dead letters by "+tc.name, got, tc.want)
		}
	})

	h.run(t, "a missing dead letter is not found", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		id := root.ID // a task without a dead letter
		_, err := f.s.GetDeadLetter(f.ctx, id)
		f.errNames(err, domain.ErrNotFound, id, "GetDeadLetter")
		f.errNames(f.s.DiscardDeadLetter(f.ctx, id), domain.ErrNotFound, id, "DiscardDeadLetter")
		before := f.snapshot(root.ExecutionID)
		_, err = f.s.ReplayDeadLetter(f.ctx, ports.ReplayParams{TaskID: id, Now: at(time.Minute)})
		f.errNames(err, domain.ErrNotFound, id, "ReplayDeadLetter")
		f.unchanged(before, "a replay without an entry", root.ExecutionID)
	})

	h.run(t, "discard deletes only the entry", func(t *testing.T, f *fixture) {
		_, _, child := f.failedChild("flaky", "")
		f.noErr(f.s.DiscardDeadLetter(f.ctx, child.ID), "DiscardDeadLetter")
		f.eq("count", f.countDeadLetters(), int64(0))
		f.eq("task", mustJSON(f.task(child.ID)), mustJSON(child))
		f.isErr(f.s.DiscardDeadLetter(f.ctx, child.ID), domain.ErrNotFound, "a second discard")
	})

	h.run(t, "replay re-queues the same task id with generation +1 and fresh attempts", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		rec := f.steps(root, at(time.Second), activitySpec(root, 1, "flaky"))[0]
		first := f.claimID(at(time.Second), rec.ID)
		f.noErr(f.s.RetryTask(f.ctx, ports.RetryParams{Fence: first.Fence(), Error: storeError("x"), RunAt: at(2 * time.Second), Now: at(2 * time.Second)}), "RetryTask")
		second := f.claimID(at(2*time.Second), rec.ID)
		err := ports.CompleteTask(f.ctx, f.s, ports.CompleteParams{Fence: first.Fence(), Result: js(`1`), Now: at(3 * time.Second)})
		f.isErr(err, domain.ErrLeaseLost, "CompleteTask with the first attempt's fence")
		f.fail(second, "boom", at(3*time.Second))
		failed := f.task(rec.ID)
		f.eq("attempts before replay", failed.Attempt, 2)

		now := at(time.Minute)
		got := f.replay(ports.ReplayParams{TaskID: rec.ID, Now: now})
		for name, c := range map[string]domain.Task{"returned": got, "stored": f.task(rec.ID)} {
			f.eq(name+" id", c.ID, rec.ID)
			f.eq(name+" state", c.State, domain.TaskPending)
			f.eq(name+" attempt", c.Attempt, 0)
			f.eq(name+" generation", c.Generation, failed.Generation+1)
			f.eq(name+" error", c.Error == nil, true)
			f.eqRaw(name+" result", c.Result, nil)
			f.eq(name+" lease fields", c.WorkerID+c.ClaimToken, "")
			f.eqTimePtr(name+" lease", c.LeaseExpiresAt, nil)
			f.eq(name+" due now", c.Due(now), true)
		}
		_, err = f.s.GetDeadLetter(f.ctx, rec.ID)
		f.isErr(err, domain.ErrNotFound, "the replayed entry")
		again := f.claimOne(now, "flaky")
		f.eq("claimed id", again.ID, rec.ID)
		f.eq("claimed attempt", again.Attempt, 1)
	})

	h.run(t, "replay with KeepAttempts keeps the attempt count", func(t *testing.T, f *fixture) {
		_, _, child := f.failedChild("flaky", "")
		got := f.replay(ports.ReplayParams{TaskID: child.ID, KeepAttempts: true, Now: at(time.Minute)})
		f.eq("attempt", got.Attempt, child.Attempt)
		f.eq("claimed attempt", f.claimOne(at(time.Minute), "flaky").Attempt, child.Attempt+1)
	})

	for _, keep := range []bool{false, true} {
		h.run(t, fmt.Sprintf("a replay starts a fresh recovery budget (KeepAttempts %v)", keep), func(t *testing.T, f *fixture) {
			_, root := f.start(execOpts{})
			rec := f.steps(root, at(time.Second), activitySpec(root, 1, "lost"))[0]
			f.claim(ports.ClaimParams{Functions: []string{"lost"}, Now: at(time.Second), Lease: time.Minute})
			again := f.claim(ports.ClaimParams{WorkerID: workerB, Functions: []string{"lost"}, Now: at(2 * time.Minute)})
			f.eq("reclaimed", taskIDs(again), []string{rec.ID})
			f.eq("recoveries before the failure", again[0].Recoveries, 1)
			f.fail(again[0], "fatal", at(3*time.Minute))
			got := f.replay(ports.ReplayParams{TaskID: rec.ID, KeepAttempts: keep, Now: at(4 * time.Minute)})
			f.eq("recoveries after the replay", got.Recoveries, 0)
		})
	}

	h.run(t, "replay with a queue moves the task to that queue", func(t *testing.T, f *fixture) {
		_, _, child := f.failedChild("flaky", "main")
		got := f.replay(ports.ReplayParams{TaskID: child.ID, Queue: "retry", Now: at(time.Minute)})
		f.eq("queue", got.Queue, "retry")
		f.eq("claimed from the old queue", len(f.claim(ports.ClaimParams{Functions: []string{"flaky"}, Queues: []string{"main"}, Now: at(time.Minute)})), 0)
		f.eq("claimed from the new queue", len(f.claim(ports.ClaimParams{Functions: []string{"flaky"}, Queues: []string{"retry"}, Now: at(time.Minute)})), 1)
	})

	h.run(t, "replaying a root resets its failed execution to pending", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{})
		f.fail(root, "boom", at(time.Second))
		f.execState(e.ID, domain.ExecutionFailed)
		now := at(time.Minute)
		got := f.replay(ports.ReplayParams{TaskID: root.ID, Now: now})
		f.eq("root state", got.State, domain.TaskPending)
		f.eq("root generation", got.Generation, root.Generation+1)
		ex := f.exec(e.ID)
		f.eq("execution state", ex.State, domain.ExecutionPending)
		f.eq("execution error", ex.Error == nil, true)
		f.eqTimePtr("execution finished_at", ex.FinishedAt, nil)
		f.claimOne(now, root.StepName)
		f.execState(e.ID, domain.ExecutionRunning)
	})

	for _, end := range []string{"failed", "completed", "cancelled"} {
		h.run(t, "replaying a child of a "+end+" execution is refused and changes nothing", func(t *testing.T, f *fixture) {
			e, root, child := f.failedChild("flaky", "")
			switch end {
			case "failed":
				f.fail(root, "root failed", at(time.Minute))
			case "completed":
				f.complete(root, `1`, at(time.Minute))
			case "cancelled":
				_, _, err := f.s.CancelExecution(f.ctx, e.ID, at(time.Minute))
				f.noErr(err, "CancelExecution")
			}
			before := f.snapshot(e.ID)
			_, err := f.s.ReplayDeadLetter(f.ctx, ports.ReplayParams{TaskID: child.ID, Now: at(2 * time.Minute)})
			f.isErr(err, domain.ErrExecutionFinished, "ReplayDeadLetter")
			f.unchanged(before, "a refused replay", e.ID)
		})
	}

	h.run(t, "1 500 dead letters are replayed one by one", func(t *testing.T, f *fixture) {
		const n = 1500
		_, root := f.start(execOpts{})
		f.manyCalls(root, "doomed", n, 0)
		failed := 0
		for {
			batch := f.claimFns(at(time.Minute), "doomed")
			if len(batch) == 0 {
				break
			}
			for _, c := range batch {
				f.fail(c, "boom", at(2*time.Minute))
				failed++
			}
		}
		f.eq("failed", failed, n)
		f.eq("dead letters", f.countDeadLetters(), int64(n))
		replayed := map[string]bool{}
		for page := 0; page <= n/100+1; page++ {
			list, err := f.s.ListDeadLetters(f.ctx, ports.DeadLetterFilter{Limit: 100})
			f.noErr(err, "ListDeadLetters")
			if len(list) == 0 {
				break
			}
			for _, d := range list {
				f.replay(ports.ReplayParams{TaskID: d.TaskID, Now: at(3 * time.Minute)})
				replayed[d.TaskID] = true
			}
		}
		f.eq("replayed", len(replayed), n)
		f.eq("dead letters left", f.countDeadLetters(), int64(0))
		pending, err := f.s.ListTasks(f.ctx, ports.TaskFilter{StepName: "doomed", States: []domain.TaskState{domain.TaskPending}, Limit: 2000})
		f.noErr(err, "ListTasks")
		f.eq("pending again", len(pending), n)
	})
}
