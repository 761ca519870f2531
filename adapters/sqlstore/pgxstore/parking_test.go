package pgxstore_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/sqlstore/pgxstore"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/testenv/teststore"
	"github.com/stenthq/stent/ports"
)

// TestParkAndStepEndsNeverStrandAParent races ParkTask against the
// transactions that end the awaited steps (CompleteTask, CompleteTasks,
// FailTask, SendSignal), each on its own store and pool (so its own server
// sessions, READ COMMITTED). Whatever the interleaving, a parent is either
// not parked (its steps had all ended: it keeps its claim) or parked and
// woken exactly once by the last step to end; it never stays waiting with
// no wake-up time once every awaited step has ended.
func TestParkAndStepEndsNeverStrandAParent(t *testing.T) {
	t.Parallel()
	const rounds = 60
	schema := teststore.NewSchema(t)
	newStore := func() *pgxstore.Store {
		s, err := pgxstore.New(t.Context(), teststore.Pool(t, 2), pgxstore.Config{Schema: schema})
		if err != nil {
			t.Fatalf("store: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	parker, enders := newStore(), []*pgxstore.Store{newStore(), newStore(), newStore()}
	ctx := t.Context()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

	for r := range rounds {
		id := fmt.Sprintf("e%03d", r)
		exec, root := rootJob(id, "parent", now)
		if _, _, err := ports.CreateExecution(ctx, parker, exec, root); err != nil {
			t.Fatal(err)
		}
		claimed, err := parker.ClaimTasks(ctx, ports.ClaimParams{WorkerID: "p", Functions: []string{"parent"}, Limit: 1, Now: now, Lease: time.Hour})
		if err != nil || len(claimed) != 1 {
			t.Fatalf("round %d: claim parent: %v %v", r, claimed, err)
		}
		parent := claimed[0]
		kids := 1 + r%3
		specs := make([]ports.StepSpec, 0, kids+1)
		for i := 1; i <= kids; i++ {
			specs = append(specs, ports.StepSpec{ID: domain.StepID(id, parent.ID, i), Position: i,
				Kind: domain.KindActivity, StepName: "kid"})
		}
		withSignal := r%2 == 1
		if withSignal {
			specs = append(specs, ports.StepSpec{ID: domain.StepID(id, parent.ID, kids+1), Position: kids + 1,
				Kind: domain.KindSignal, StepName: domain.SignalStepName("go")})
		}
		steps, err := ports.CreateSteps(ctx, parker, parent.Fence(), specs, nil, now)
		if err != nil {
			t.Fatalf("round %d: create steps: %v", r, err)
		}
		running, err := enders[0].ClaimTasks(ctx, ports.ClaimParams{WorkerID: "c", Functions: []string{"kid"}, Limit: kids, Now: now, Lease: time.Hour})
		if err != nil || len(running) != kids {
			t.Fatalf("round %d: claim kids: %d %v", r, len(running), err)
		}
		children := make([]string, len(steps))
		for i, s := range steps {
			children[i] = s.ID
		}

		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			woken  int
			parked bool
		)
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			var err error
			if parked, err = parker.ParkTask(ctx, ports.ParkParams{Fence: parent.Fence(), Children: children, Now: now}); err != nil {
				t.Errorf("round %d: park: %v", r, err)
			}
		})
		// The first kid ends alone; the others end in one batch, or one
		// fails; the signal, if any, is delivered by a third session.
		wg.Go(func() {
			<-start
			res, err := enders[0].CompleteTasks(ctx, []ports.CompleteParams{{Fence: running[0].Fence(), Now: now}})
			if err != nil || res[0].Err != nil {
				t.Errorf("round %d: complete: %v %v", r, err, res)
				return
			}
			mu.Lock()
			woken += len(res[0].Woken)
			mu.Unlock()
		})
		if kids > 1 {
			wg.Go(func() {
				<-start
				if r%4 == 0 {
					if err := enders[1].FailTask(ctx, ports.FailParams{Fence: running[1].Fence(),
						Error: &domain.TaskError{Code: "boom", Message: "boom"}, Now: now}); err != nil {
						t.Errorf("round %d: fail: %v", r, err)
					}
					for _, k := range running[2:] {
						if err := ports.CompleteTask(ctx, enders[1], ports.CompleteParams{Fence: k.Fence(), Now: now}); err != nil {
							t.Errorf("round %d: complete: %v", r, err)
						}
					}
					return
				}
				ps := make([]ports.CompleteParams, 0, kids-1)
				for _, k := range running[1:] {
					ps = append(ps, ports.CompleteParams{Fence: k.Fence(), Now: now})
				}
				res, err := enders[1].CompleteTasks(ctx, ps)
				if err != nil {
					t.Errorf("round %d: complete batch: %v", r, err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				for _, x := range res {
					if x.Err != nil {
						t.Errorf("round %d: complete batch item: %v", r, x.Err)
					}
					woken += len(x.Woken)
				}
			})
		}
		if withSignal {
			wg.Go(func() {
				<-start
				if _, err := enders[2].SendSignal(ctx, id, "go", []byte(`1`), now); err != nil {
					t.Errorf("round %d: send signal: %v", r, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}

		got, err := parker.GetTask(ctx, parent.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !parked {
			if got.State != domain.TaskRunning || woken != 0 {
				t.Fatalf("round %d: not parked, but the parent is %s and was reported woken %d times", r, got.State, woken)
			}
			if err := ports.CompleteTask(ctx, parker, ports.CompleteParams{Fence: parent.Fence(), Now: now}); err != nil {
				t.Fatalf("round %d: the unparked parent lost its claim: %v", r, err)
			}
			continue
		}
		if got.State != domain.TaskWaiting || got.WakeAt == nil {
			t.Fatalf("round %d: parked parent stranded: state %s, wake_at %v, after every awaited step ended", r, got.State, got.WakeAt)
		}
		// Completions report the parents they woke; a failure or a signal
		// delivery that ends the last step does not (their ports return no
		// such list).
		want := 1
		if withSignal || (kids > 1 && r%4 == 0) {
			want = woken // may be 0 or 1
		}
		if woken > 1 || woken != want {
			t.Fatalf("round %d: the parent was reported woken %d times; want once", r, woken)
		}
		resumed, err := parker.ClaimTasks(ctx, ports.ClaimParams{WorkerID: "p", Functions: []string{"parent"}, Limit: 1, Now: now, Lease: time.Hour})
		if err != nil || len(resumed) != 1 || resumed[0].ID != parent.ID {
			t.Fatalf("round %d: resume: %v %v", r, resumed, err)
		}
		if err := ports.CompleteTask(ctx, parker, ports.CompleteParams{Fence: resumed[0].Fence(), Now: now}); err != nil {
			t.Fatalf("round %d: complete resumed parent: %v", r, err)
		}
	}
}
