package contract

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

func testClaims(t *testing.T, h storeSuite) {
	h.run(t, "a claim takes a due task and sets the lease fields", func(t *testing.T, f *fixture) {
		e, root := f.create(execOpts{Fn: "job"})
		now := at(time.Second)
		got := f.claim(ports.ClaimParams{WorkerID: workerB, Functions: []string{"job"}, Now: now, Lease: 30 * time.Second})
		if len(got) != 1 {
			t.Fatalf("claimed %d tasks; want 1", len(got))
		}
		stored := f.task(root.ID)
		for name, c := range map[string]domain.Task{"returned": got[0], "stored": stored} {
			f.eq(name+" id", c.ID, root.ID)
			f.eq(name+" state", c.State, domain.TaskRunning)
			f.eq(name+" attempt", c.Attempt, 1)
			f.eq(name+" generation", c.Generation, 0)
			f.eq(name+" worker", c.WorkerID, workerB)
			f.eqTimePtr(name+" lease_expires_at", c.LeaseExpiresAt, ptrTo(now.Add(30*time.Second)))
			f.eqTimePtr(name+" started_at", c.StartedAt, &now)
			f.eq(name+" last error", c.LastError == nil, true)
		}
		if got[0].ClaimToken == "" || got[0].ClaimToken != stored.ClaimToken {
			t.Errorf("claim token returned %q, stored %q; want the same non-empty token", got[0].ClaimToken, stored.ClaimToken)
		}
		ex := f.exec(e.ID)
		f.eq("execution state", ex.State, domain.ExecutionRunning)
		f.eqTimePtr("execution started_at", ex.StartedAt, &now)
	})

	h.run(t, "claiming a child leaves the execution as it is", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{})
		rec := f.steps(root, at(time.Second), activitySpec(root, 1, "child"))[0]
		f.claimID(at(2*time.Second), rec.ID)
		ex := f.exec(e.ID)
		f.eq("execution state", ex.State, domain.ExecutionRunning)
		f.eqTimePtr("execution started_at", ex.StartedAt, &epoch)
	})

	h.run(t, "a claim returns at most Limit tasks", func(t *testing.T, f *fixture) {
		for range 7 {
			f.create(execOpts{Fn: "job"})
		}
		for i, want := range []int{3, 3, 1, 0} {
			got := f.claim(ports.ClaimParams{Functions: []string{"job"}, Now: at(time.Second), Limit: 3})
			f.eq(fmt.Sprintf("claim %d size", i+1), len(got), want)
		}
	})

	h.run(t, "only the listed functions are claimed", func(t *testing.T, f *fixture) {
		a, _ := f.create(execOpts{Fn: "alpha"})
		b, _ := f.create(execOpts{Fn: "beta"})
		f.create(execOpts{Fn: "gamma"})
		got := f.claim(ports.ClaimParams{Functions: nil, Now: at(time.Second)})
		f.eq("claimed with no functions", len(got), 0)
		got = f.claimFns(at(time.Second), "alpha", "beta", "delta")
		f.eq("claimed", sortedTaskIDs(got), sortedStrings(a.RootTaskID, b.RootTaskID))
	})

	h.run(t, "sleep, signal and link tasks are never claimed", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		holder := activitySpec(root, 1, "shared")
		holder.IdempotencyKey = "shared-key"
		link := activitySpec(root, 2, "shared")
		link.IdempotencyKey = "shared-key"
		recs := f.steps(root, at(time.Second), holder, link,
			sleepSpec(root, 3, at(time.Second)), signalSpec(root, 4, "go"))
		f.eq("second call kind", recs[1].Kind, domain.KindLink)
		got := f.claimFns(at(time.Hour), "shared", domain.SleepStepName, domain.SignalStepName("go"))
		f.eq("claimed", taskIDs(got), []string{recs[0].ID})
		for _, r := range recs[1:] {
			f.state(r.ID, domain.TaskPending)
		}
	})

	h.run(t, "claims follow priority desc, then created_at, then id", func(t *testing.T, f *fixture) {
		for _, c := range []struct {
			id       int
			priority int
			created  time.Duration
		}{
			{1, 5, 2 * time.Second},
			{2, 5, time.Second},
			{3, 5, time.Second},
			{4, 1, 0},
			{5, 10, 3 * time.Second},
			{6, -1, 0},
			{7, 5, time.Second},
		} {
			f.create(execOpts{Fn: "job", RootID: uuidN(10 - c.id), Priority: c.priority, CreatedAt: at(c.created)})
		}
		var order []string
		for range 7 {
			order = append(order, f.claimOne(at(time.Hour), "job").ID)
		}
		// ids: 1->9, 2->8, 3->7, 4->6, 5->5, 6->4, 7->3
		f.eq("claim order", order, []string{uuidN(5), uuidN(3), uuidN(7), uuidN(8), uuidN(9), uuidN(6), uuidN(4)})
	})

	h.run(t, "a scheduled task is not claimable 1 µs before scheduled_for and is claimable at it", func(t *testing.T, f *fixture) {
		when := at(time.Minute)
		_, root := f.create(execOpts{Fn: "later", ScheduledFor: &when})
		got := f.claimFns(when.Add(-time.Microsecond), "later")
		f.eq("claimed 1 µs early", len(got), 0)
		got = f.claimFns(when, "later")
		f.eq("claimed at scheduled_for", taskIDs(got), []string{root.ID})
	})

	h.run(t, "a running task is not claimed again before its lease expires", func(t *testing.T, f *fixture) {
		_, root := f.create(execOpts{Fn: "job"})
		c := f.claim(ports.ClaimParams{Functions: []string{"job"}, Now: epoch, Lease: time.Minute})
		f.eq("first claim", taskIDs(c), []string{root.ID})
		got := f.claim(ports.ClaimParams{WorkerID: workerB, Functions: []string{"job"}, Now: at(time.Minute - time.Microsecond)})
		f.eq("claimed 1 µs before expiry", len(got), 0)
		got = f.claim(ports.ClaimParams{WorkerID: workerB, Functions: []string{"job"}, Now: at(time.Minute)})
		f.eq("claimed at expiry", taskIDs(got), []string{root.ID})
	})

	h.run(t, "finished tasks are never claimed", func(t *testing.T, f *fixture) {
		tr := f.newTree(execOpts{})
		f.complete(tr.running, `1`, at(time.Minute))
		got := f.claimFns(at(time.Hour), "tree-running", "tree-done")
		f.eq("claimed", len(got), 0)
	})
}

func testClaimRouting(t *testing.T, h storeSuite) {
	h.run(t, "queues and tags route tasks to workers", func(t *testing.T, f *fixture) {
		cases := []struct {
			name         string
			queue        string
			tags         []string
			workerQueues []string
			workerTags   []string
			claimable    bool
		}{
			{"a task without a queue goes to any worker", "", nil, []string{"q1"}, nil, true},
			{"a task in a served queue is claimed", "q1", nil, []string{"q0", "q1"}, nil, true},
			{"a task in another queue is not claimed", "q2", nil, []string{"q0", "q1"}, nil, false},
			{"a worker without queues serves every queue", "q2", nil, nil, nil, true},
			{"an untagged task goes to a tagged worker", "", nil, nil, []string{"gpu"}, true},
			{"a worker without tags takes a tagged task", "", []string{"gpu"}, nil, nil, true},
			{"a task sharing one tag is claimed", "", []string{"gpu", "ssd"}, nil, []string{"ssd", "arm"}, true},
			{"a task sharing no tag is not claimed", "", []string{"gpu"}, nil, []string{"cpu"}, false},
			{"a served queue does not override a tag mismatch", "q1", []string{"gpu"}, []string{"q1"}, []string{"cpu"}, false},
			{"a shared tag does not override a queue mismatch", "q2", []string{"gpu"}, []string{"q1"}, []string{"gpu"}, false},
			{"queue and tag both matching is claimed", "q1", []string{"gpu"}, []string{"q1"}, []string{"gpu"}, true},
			{"the default queue is a queue like any other", domain.DefaultQueue, nil, []string{"q1"}, nil, false},
		}
		for i, c := range cases {
			fn := fmt.Sprintf("route-%d", i)
			f.create(execOpts{Fn: fn, Queue: c.queue, Tags: c.tags})
			got := f.claim(ports.ClaimParams{Functions: []string{fn}, Queues: c.workerQueues, Tags: c.workerTags, Now: at(time.Second)})
			if (len(got) == 1) != c.claimable {
				t.Errorf("%s: %s: task queue %q tags %v, worker queues %v tags %v: claimed %d; want claimable=%v",
					f.name, c.name, c.queue, c.tags, c.workerQueues, c.workerTags, len(got), c.claimable)
			}
		}
	})

	h.run(t, "ineligible higher-priority tasks do not hide an eligible one", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		var specs []ports.StepSpec
		for i := range 225 {
			s := activitySpec(root, i+1, "work")
			s.Priority, s.Queue, s.Tags = 100, "q1", []string{"gpu"}
			switch i % 3 {
			case 0:
				s.StepName = "other-function"
			case 1:
				s.Queue = "q2"
			case 2:
				s.Tags = []string{"cpu"}
			}
			specs = append(specs, s)
		}
		f.steps(root, at(time.Second), specs...)
		for range 75 {
			f.create(execOpts{Fn: "work", Queue: "q1", Tags: []string{"gpu"}, Priority: 100, ScheduledFor: ptrTo(at(time.Hour))})
		}
		eligible := activitySpec(root, 1000, "work")
		eligible.Queue, eligible.Tags = "q1", []string{"gpu"}
		want := f.steps(root, at(2*time.Second), eligible)[0]

		got := f.claim(ports.ClaimParams{Functions: []string{"work"}, Queues: []string{"q1"}, Tags: []string{"gpu"}, Limit: 1, Now: at(time.Minute)})
		f.eq("claimed", taskIDs(got), []string{want.ID})
	})
}

func testFunctionLimits(t *testing.T, h storeSuite) {
	// limited creates n pending calls of fn with MaxConcurrent limit.
	limited := func(f *fixture, root domain.Task, fn string, limit, n, from int) []domain.Task {
		var specs []ports.StepSpec
		for i := range n {
			s := activitySpec(root, from+i, fn)
			s.MaxConcurrent = limit
			specs = append(specs, s)
		}
		return f.steps(root, at(time.Second), specs...)
	}

	h.run(t, "a limit counts running tasks and the tasks chosen in the same claim", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		limited(f, root, "capped", 3, 8, 1)
		got := f.claim(ports.ClaimParams{Functions: []string{"capped"}, Now: at(time.Minute), Limit: 2})
		f.eq("first claim", len(got), 2)
		got2 := f.claim(ports.ClaimParams{WorkerID: workerB, Functions: []string{"capped"}, Now: at(time.Minute)})
		f.eq("second claim (one slot left)", len(got2), 1)
		got3 := f.claim(ports.ClaimParams{Functions: []string{"capped"}, Now: at(time.Minute)})
		f.eq("third claim (at the limit)", len(got3), 0)
		f.complete(got[0], `1`, at(2*time.Minute))
		got4 := f.claim(ports.ClaimParams{Functions: []string{"capped"}, Now: at(2 * time.Minute)})
		f.eq("claim after one finished", len(got4), 1)
	})

	h.run(t, "a limit counts running tasks whose lease expired", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		recs := limited(f, root, "capped", 2, 3, 1)
		first := f.claim(ports.ClaimParams{Functions: []string{"capped"}, Now: at(time.Second), Limit: 1, Lease: time.Minute})
		if len(first) != 1 {
			t.Fatalf("first claim took %d tasks; want 1", len(first))
		}
		// At expiry the expired task is reclaimed (no new slot) and one
		// more starts: two running, the limit.
		got := f.claim(ports.ClaimParams{WorkerID: workerB, Functions: []string{"capped"}, Now: at(2 * time.Minute)})
		f.eq("claimed at expiry", len(got), 2)
		running, err := f.s.ListTasks(f.ctx, ports.TaskFilter{StepName: "capped", States: []domain.TaskState{domain.TaskRunning}})
		f.noErr(err, "ListTasks")
		f.eq("running", len(running), 2)
		f.state(first[0].ID, domain.TaskRunning)
		f.eq("reclaimed attempt", f.task(first[0].ID).Attempt, 1)
		f.eq("reclaimed recoveries", f.task(first[0].ID).Recoveries, 1)
		f.eq("a third task", len(recs), 3)
	})

	h.run(t, "an expired task at its function's limit is reclaimed without starting another", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		recs := limited(f, root, "single", 1, 2, 1)
		first := f.claim(ports.ClaimParams{Functions: []string{"single"}, Now: at(time.Second), Lease: time.Minute})
		if len(first) != 1 {
			t.Fatalf("first claim took %d tasks; want 1", len(first))
		}
		other := recs[0].ID
		if other == first[0].ID {
			other = recs[1].ID
		}
		got := f.claim(ports.ClaimParams{WorkerID: workerB, Functions: []string{"single"}, Now: at(2 * time.Minute)})
		f.eq("claimed", taskIDs(got), []string{first[0].ID})
		f.state(other, domain.TaskPending)
	})

	h.run(t, "a limit holds back only its own function", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		limited(f, root, "single", 1, 3, 1)
		var free []ports.StepSpec
		for i := range 3 {
			free = append(free, activitySpec(root, 10+i, "free"))
		}
		f.steps(root, at(time.Second), free...)
		got := f.claimFns(at(time.Minute), "single", "free")
		n := map[string]int{}
		for _, c := range got {
			n[c.StepName]++
		}
		f.eq("claimed per function", fmt.Sprint(n["single"], n["free"]), "1 3")
	})

	h.run(t, "an inline-claimed step counts toward its function's limit", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		inline := activitySpec(root, 1, "single")
		inline.MaxConcurrent = 1
		inline.Claim = &ports.StepClaim{WorkerID: workerA, Token: domain.NewID(), LeaseExpiresAt: at(time.Hour)}
		f.steps(root, at(time.Second), inline)
		limited(f, root, "single", 1, 1, 2)
		got := f.claimFns(at(time.Minute), "single")
		f.eq("claimed while the inline step runs", len(got), 0)
	})
}

func sortedStrings(s ...string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
