package contract

import (
	"reflect"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// testRowsAsStored checks that the records CreateSteps and ClaimTasks
// return equal what GetTask reads back, for every field the store encodes:
// sub-millisecond retry delays, tags, trace context, byte payloads and
// times given in another zone; and that a resumed claim returns its row as
// stored. It runs on every store (it was once a copy in each SQL
// driver's tests).
func testRowsAsStored(t *testing.T, h storeSuite) {
	h.run(t, "created steps and claimed tasks come back as GetTask reads them, also after a park and resume", func(t *testing.T, f *fixture) {
		s, ctx := f.s, f.ctx
		zone := time.FixedZone("UTC-5", -5*3600)
		now := time.Date(2025, 11, 2, 1, 30, 0, 123456789, zone)
		exec := domain.Execution{ID: "e", RootFunction: "wf", RootTaskID: "e/r", Queue: "q", CreatedAt: now}
		root := domain.Task{ID: "e/r", ExecutionID: "e", Kind: domain.KindOrchestrator, StepName: "wf", Queue: "q",
			RetryPolicy: domain.RetryPolicy{MaxAttempts: 2, InitialDelay: 1500 * time.Microsecond}, CreatedAt: now}
		if _, _, err := ports.CreateExecution(ctx, s, exec, root); err != nil {
			t.Fatal(err)
		}
		claimed, err := s.ClaimTasks(ctx, ports.ClaimParams{WorkerID: "w", Functions: []string{"wf"}, Limit: 1, Now: now, Lease: time.Minute})
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim = %v, %v", claimed, err)
		}
		wake := now.Add(time.Hour)
		specs := []ports.StepSpec{
			{ID: domain.StepID("e", "e/r", 1), Position: 1, Kind: domain.KindActivity, StepName: "act",
				Input: []byte(`{ "spaced" : [1, 2] }`), Tags: []string{"gpu", "eu"}, TraceContext: map[string]string{"traceparent": "00-ab"},
				RetryPolicy: domain.RetryPolicy{MaxAttempts: 5, InitialDelay: 250 * time.Microsecond, MaxDelay: 3*time.Second + time.Microsecond,
					BackoffFactor: 1.5, Jitter: domain.NoJitter, RetryOn: []string{"x"}},
				Claim: &ports.StepClaim{WorkerID: "w", Token: "tok", LeaseExpiresAt: now.Add(time.Minute)}},
			{ID: domain.StepID("e", "e/r", 2), Position: 2, Kind: domain.KindSleep, StepName: domain.SleepStepName, ScheduledFor: &wake},
		}
		steps, err := ports.CreateSteps(ctx, s, claimed[0].Fence(), specs, nil, now)
		if err != nil {
			t.Fatal(err)
		}
		if !claimed[0].FirstClaim {
			t.Error("the root's first claim is not flagged FirstClaim")
		}
		for _, got := range append([]domain.Task{claimed[0].Task}, steps...) {
			stored, err := s.GetTask(ctx, got.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, stored) {
				t.Errorf("returned %+v\nstored   %+v", got, stored)
			}
		}

		// A root parked on its activity, woken by the activity's completion
		// and resumed by a claim comes back as stored too.
		parked, err := s.ParkTask(ctx, ports.ParkParams{Fence: claimed[0].Fence(), Children: []string{steps[0].ID}, WakeAt: &wake, Now: now})
		if err != nil || !parked {
			t.Fatalf("park = %v, %v", parked, err)
		}
		res, err := s.CompleteTasks(ctx, []ports.CompleteParams{{Fence: steps[0].Fence(), Result: []byte(`1`), Now: now}})
		if err != nil || res[0].Err != nil {
			t.Fatalf("complete = %+v, %v", res, err)
		}
		if want := []ports.WokenTask{{ID: "e/r", Queue: "q", StepName: "wf"}}; !reflect.DeepEqual(res[0].Woken, want) {
			t.Errorf("woken = %+v; want %+v", res[0].Woken, want)
		}
		resumed, err := s.ClaimTasks(ctx, ports.ClaimParams{WorkerID: "w", Functions: []string{"wf"}, Limit: 1, Now: now.Add(time.Second), Lease: time.Minute})
		if err != nil || len(resumed) != 1 {
			t.Fatalf("resume = %v, %v", resumed, err)
		}
		stored, err := s.GetTask(ctx, resumed[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if resumed[0].FirstClaim {
			t.Error("a resume is flagged FirstClaim")
		}
		if !reflect.DeepEqual(resumed[0].Task, stored) {
			t.Errorf("resumed %+v\nstored  %+v", resumed[0], stored)
		}
	})
}
