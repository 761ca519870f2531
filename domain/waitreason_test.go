package domain_test

import (
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
)

func TestWaitReason(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 14, 0, 0, 0, time.UTC)
	later := now.Add(5*time.Minute + 3*time.Second)
	earlier := now.Add(-time.Second)
	root := func(state domain.TaskState) domain.ProgressEntry {
		return domain.ProgressEntry{TaskID: "r", Kind: domain.KindOrchestrator, Step: "order", State: state}
	}
	child := func(id string, kind domain.TaskKind, step string, state domain.TaskState) domain.ProgressEntry {
		return domain.ProgressEntry{TaskID: id, ParentID: "r", Kind: kind, Step: step, State: state}
	}
	awaited := func(e domain.ProgressEntry) domain.ProgressEntry { e.Awaited = true; return e }
	sleep := child("s", domain.KindSleep, domain.SleepStepName, domain.TaskPending)
	sleep.ScheduledFor = &later
	parked := root(domain.TaskWaiting)
	parked.WakeAt = &later
	due := root(domain.TaskWaiting)
	due.WakeAt = &earlier
	retry := root(domain.TaskPending)
	retry.Attempt, retry.ScheduledFor = 1, &later
	delayed := root(domain.TaskPending)
	delayed.ScheduledFor = &later
	var kids []domain.ProgressEntry
	for i := range 100 {
		state := domain.TaskCompleted
		if i < 37 {
			state = domain.TaskRunning
		}
		kids = append(kids, awaited(child(string(rune('a'+i%26))+string(rune('0'+i/26)), domain.KindActivity, "charge", state)))
	}
	noCharge := func(fn, _ string) bool { return fn != "charge" }
	v2 := root(domain.TaskPending)
	v2.Version = "v2"
	onlyV1 := func(fn, version string) bool { return version == "v1" }

	tests := []struct {
		name   string
		state  domain.ExecutionState
		steps  []domain.ProgressEntry
		served func(string, string) bool
		want   string
	}{
		{"a finished execution waits for nothing", domain.ExecutionCompleted, []domain.ProgressEntry{root(domain.TaskCompleted)}, nil, ""},
		{"a parked sleeper", domain.ExecutionRunning, []domain.ProgressEntry{parked, sleep}, nil, "sleeping until 2026-12-04T14:05:03Z"},
		{"a signal wait", domain.ExecutionRunning, []domain.ProgressEntry{root(domain.TaskWaiting), awaited(child("g", domain.KindSignal, "signal:approval", domain.TaskPending))}, nil, "waiting for signal approval"},
		{"a fan-in", domain.ExecutionRunning, append([]domain.ProgressEntry{root(domain.TaskWaiting)}, kids...), nil, "waiting for 37 of 100 children"},
		{"a child no worker runs", domain.ExecutionRunning, []domain.ProgressEntry{root(domain.TaskWaiting), awaited(child("c", domain.KindActivity, "charge", domain.TaskPending))}, noCharge, "no worker registers charge"},
		{"a parked root no worker runs", domain.ExecutionRunning, []domain.ProgressEntry{due}, func(string, string) bool { return false }, "no worker registers order"},
		{"a versioned root no worker claims at its version", domain.ExecutionPending, []domain.ProgressEntry{v2}, onlyV1, "no worker registers order version v2"},
		{"a versioned root a worker claims", domain.ExecutionPending, []domain.ProgressEntry{v2}, func(string, string) bool { return true }, "queued: order waits for a free worker"},
		{"a due resume", domain.ExecutionRunning, []domain.ProgressEntry{due}, nil, "resuming: order waits for a free worker"},
		{"a queued root", domain.ExecutionPending, []domain.ProgressEntry{root(domain.TaskPending)}, nil, "queued: order waits for a free worker"},
		{"a retry backoff", domain.ExecutionRunning, []domain.ProgressEntry{retry}, nil, "retrying order at 2026-12-04T14:05:03Z"},
		{"a delayed dispatch", domain.ExecutionPending, []domain.ProgressEntry{delayed}, nil, "scheduled: order starts at 2026-12-04T14:05:03Z"},
		{"running code", domain.ExecutionRunning, []domain.ProgressEntry{root(domain.TaskRunning)}, nil, "running order"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := domain.WaitReason(tc.state, tc.steps, tc.served, now); got != tc.want {
				t.Fatalf("WaitReason = %q; want %q", got, tc.want)
			}
		})
	}
}

func TestWaitReasonPausedQueue(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 14, 0, 0, 0, time.UTC)
	later := now.Add(time.Minute)
	pausedPayments := domain.Serving{Paused: func(q string) bool { return q == "payments" }}
	entry := func(id, parent string, state domain.TaskState, queue string) domain.ProgressEntry {
		kind := domain.KindActivity
		if parent == "" {
			kind = domain.KindOrchestrator
		}
		return domain.ProgressEntry{TaskID: id, ParentID: parent, Kind: kind, Step: "step-" + id, State: state, Queue: queue}
	}
	delayed := entry("r", "", domain.TaskPending, "payments")
	delayed.ScheduledFor = &later
	waitingChild := entry("c", "r", domain.TaskPending, "payments")
	waitingChild.Awaited = true
	parked := entry("r", "", domain.TaskWaiting, "default")
	tests := []struct {
		name  string
		steps []domain.ProgressEntry
		sv    domain.Serving
		want  string
	}{
		{"a pending root in a paused queue", []domain.ProgressEntry{entry("r", "", domain.TaskPending, "payments")}, pausedPayments, "queue payments is paused"},
		{"a child in a paused queue comes before the wait for it", []domain.ProgressEntry{parked, waitingChild}, pausedPayments, "queue payments is paused"},
		{"a pending root in another queue", []domain.ProgressEntry{entry("r", "", domain.TaskPending, "default")}, pausedPayments, "queued: step-r waits for a free worker"},
		{"a running task in a paused queue runs", []domain.ProgressEntry{entry("r", "", domain.TaskRunning, "payments")}, pausedPayments, "running step-r"},
		{"a task not yet due shows its time", []domain.ProgressEntry{delayed}, pausedPayments, "scheduled: step-r starts at 2026-12-04T14:01:00Z"},
		{"a missing worker comes first", []domain.ProgressEntry{entry("r", "", domain.TaskPending, "payments")},
			domain.Serving{Served: func(string, string) bool { return false }, Paused: pausedPayments.Paused}, "no worker registers step-r"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := domain.WaitReasonWith(domain.ExecutionRunning, tc.steps, tc.sv, now); got != tc.want {
				t.Fatalf("WaitReasonWith = %q; want %q", got, tc.want)
			}
		})
	}
}

func TestWaitReasonConcurrencyKey(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 14, 0, 0, 0, time.UTC)
	later := now.Add(time.Minute)
	usage := map[string]domain.LimitUsage{
		"function:charge:c7": {Kind: domain.LimitConcurrency, Group: "function:charge:c7", Scope: domain.ScopeFunction, Name: "charge", Key: "c7", Limit: 2, InUse: 2},
		"queue:payments:c8":  {Kind: domain.LimitConcurrency, Group: "queue:payments:c8", Scope: domain.ScopeQueue, Name: "payments", Key: "c8", Limit: 1, InUse: 1},
		"charge":             {Kind: domain.LimitConcurrency, Group: "charge", Scope: domain.ScopeFunction, Name: "charge", Limit: 3, InUse: 3},
		"function:charge:c9": {Kind: domain.LimitConcurrency, Group: "function:charge:c9", Scope: domain.ScopeFunction, Name: "charge", Key: "c9", Limit: 2, InUse: 1},
		"queue:payments:":    {Kind: domain.LimitConcurrency, Group: "queue:payments:", Scope: domain.ScopeQueue, Name: "payments", Limit: 1, InUse: 1},
	}
	sv := domain.Serving{Concurrency: func(g string) (domain.LimitUsage, bool) { u, ok := usage[g]; return u, ok }}
	pending := func(key string, limit int) domain.ProgressEntry {
		return domain.ProgressEntry{TaskID: "r", Kind: domain.KindOrchestrator, Step: "charge", State: domain.TaskPending, MaxConcurrent: limit, ConcurrencyKey: key}
	}
	delayed := pending("function:charge:c7", 2)
	delayed.ScheduledFor = &later
	limited := pending("function:charge:c7", 2)
	limited.RateLimitedUntil = &later
	tests := []struct {
		name  string
		entry domain.ProgressEntry
		sv    domain.Serving
		want  string
	}{
		{"a full function key", pending("function:charge:c7", 2), sv, "waiting for concurrency key c7 of charge (2 of 2 running)"},
		{"a full queue key", pending("queue:payments:c8", 1), sv, "waiting for concurrency key c8 of queue payments (1 of 1 running)"},
		{"a full key-less queue limit", pending("queue:payments:", 1), sv, "waiting for the concurrency limit of queue payments (1 of 1 running)"},
		{"a full function-wide limit", pending("", 3), sv, "waiting for the concurrency limit of charge (3 of 3 running)"},
		{"a key with a free slot", pending("function:charge:c9", 2), sv, "queued: charge waits for a free worker"},
		{"an unknown group", pending("function:charge:zz", 2), sv, "queued: charge waits for a free worker"},
		{"no usage known", pending("function:charge:c7", 2), domain.Serving{}, "queued: charge waits for a free worker"},
		{"not due yet", delayed, sv, "scheduled: charge starts at 2026-12-04T14:01:00Z"},
		{"rate limited comes first", limited, sv, "rate limited until 14:01:00 (charge)"},
	}
	for _, tc := range tests {
		if got := domain.WaitReasonWith(domain.ExecutionPending, []domain.ProgressEntry{tc.entry}, tc.sv, now); got != tc.want {
			t.Errorf("%s: %q; want %q", tc.name, got, tc.want)
		}
	}
}

func TestLimitTally(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 14, 0, 0, 0, time.UTC)
	tl := domain.NewLimitTally(nil)
	tl.AddTasks(domain.LimitRate, "queue:q:k", "fn", "q", domain.TaskPending, 2, 5, time.Minute)
	tl.AddStart("queue:q:k", "fn", "q", now.Add(-2*time.Minute), 5, time.Minute)
	tl.AddStart("queue:q:k", "fn", "q", now.Add(-30*time.Second), 5, time.Minute)
	tl.AddStart("function:old:", "old", "q", now.Add(-2*time.Minute), 5, time.Minute)
	tl.AddTasks(domain.LimitConcurrency, "fn", "fn", "q", domain.TaskRunning, 3, 4, 0)
	got := tl.List(now, 0)
	want := []domain.LimitUsage{
		{Kind: domain.LimitConcurrency, Group: "fn", Scope: domain.ScopeFunction, Name: "fn", Limit: 4, InUse: 3},
		{Kind: domain.LimitRate, Group: "queue:q:k", Scope: domain.ScopeQueue, Name: "q", Key: "k", Limit: 5, Per: time.Minute, PerSeconds: 60, InUse: 1, Pending: 2},
	}
	if len(got) != len(want) {
		t.Fatalf("List = %+v; want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d = %+v; want %+v", i, got[i], want[i])
		}
	}
}
