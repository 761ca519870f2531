package domain_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stenthq/stent/domain"
)

// specExecutionTransitions is SPEC §3's execution table, written out
// independently of the domain's own table ("→ pending" by Dispatch is an
// insert, not a transition).
var specExecutionTransitions = map[[2]domain.ExecutionState]bool{
	{domain.ExecutionPending, domain.ExecutionRunning}:   true, // claim of the root
	{domain.ExecutionRunning, domain.ExecutionCompleted}: true, // worker finishing the root
	{domain.ExecutionRunning, domain.ExecutionFailed}:    true,
	{domain.ExecutionPending, domain.ExecutionTimedOut}:  true, // deadline
	{domain.ExecutionRunning, domain.ExecutionTimedOut}:  true,
	{domain.ExecutionPending, domain.ExecutionCancelled}: true, // Cancel
	{domain.ExecutionRunning, domain.ExecutionCancelled}: true,
	{domain.ExecutionFailed, domain.ExecutionPending}:    true, // replay of the root; reset
	{domain.ExecutionTimedOut, domain.ExecutionPending}:  true, // reset
	{domain.ExecutionCancelled, domain.ExecutionPending}: true, // reset
}

// specTaskTransitions is SPEC §3's task table ("→ pending" and
// "→ completed" on creation are inserts, not transitions).
var specTaskTransitions = map[[2]domain.TaskState]bool{
	{domain.TaskPending, domain.TaskRunning}:   true, // claim
	{domain.TaskRunning, domain.TaskRunning}:   true, // reclaim after lease expiry
	{domain.TaskRunning, domain.TaskCompleted}: true, // worker
	{domain.TaskRunning, domain.TaskFailed}:    true,
	{domain.TaskRunning, domain.TaskPending}:   true, // retry; drain or stop
	{domain.TaskPending, domain.TaskCompleted}: true, // sleep wake-up, signal, link owner
	{domain.TaskPending, domain.TaskFailed}:    true,
	{domain.TaskPending, domain.TaskCancelled}: true, // cancel, timeout, execution ending
	{domain.TaskRunning, domain.TaskCancelled}: true,
	{domain.TaskFailed, domain.TaskPending}:    true, // newer-generation parent, replay
	{domain.TaskCancelled, domain.TaskPending}: true,
	{domain.TaskCompleted, domain.TaskPending}: true, // newer-generation parent resetting a mismatch
	{domain.TaskRunning, domain.TaskWaiting}:   true, // park (suspension)
	{domain.TaskWaiting, domain.TaskRunning}:   true, // resume: claim once the wake condition holds
	{domain.TaskWaiting, domain.TaskCancelled}: true, // cancel, timeout, execution ending
}

func TestExecutionTransitionsMatchTheSpecTableForEveryPair(t *testing.T) {
	t.Parallel()
	states := append(append([]domain.ExecutionState(nil), domain.ExecutionStates...), "bogus", "")
	for _, from := range states {
		for _, to := range states {
			want := specExecutionTransitions[[2]domain.ExecutionState{from, to}]
			name := fmt.Sprintf("%s to %s is allowed", from, to)
			if !want {
				name = fmt.Sprintf("%s to %s is rejected", from, to)
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				err := domain.CheckExecutionTransition(from, to)
				if want {
					if err != nil {
						t.Fatalf("CheckExecutionTransition(%q, %q) = %v, want nil", from, to, err)
					}
					return
				}
				var te *domain.TransitionError
				if !errors.As(err, &te) || te.Entity != "execution" || te.From != string(from) || te.To != string(to) {
					t.Fatalf("CheckExecutionTransition(%q, %q) = %v, want a TransitionError naming both", from, to, err)
				}
				if !errors.Is(err, domain.ErrInvalidTransition) {
					t.Fatalf("error %v does not match ErrInvalidTransition", err)
				}
			})
		}
	}
}

func TestTaskTransitionsMatchTheSpecTableForEveryPair(t *testing.T) {
	t.Parallel()
	states := append(append([]domain.TaskState(nil), domain.TaskStates...), "bogus", "")
	for _, from := range states {
		for _, to := range states {
			want := specTaskTransitions[[2]domain.TaskState{from, to}]
			name := fmt.Sprintf("%s to %s is allowed", from, to)
			if !want {
				name = fmt.Sprintf("%s to %s is rejected", from, to)
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				err := domain.CheckTaskTransition(from, to)
				if want {
					if err != nil {
						t.Fatalf("CheckTaskTransition(%q, %q) = %v, want nil", from, to, err)
					}
					return
				}
				var te *domain.TransitionError
				if !errors.As(err, &te) || te.Entity != "task" || te.From != string(from) || te.To != string(to) {
					t.Fatalf("CheckTaskTransition(%q, %q) = %v, want a TransitionError naming both", from, to, err)
				}
				if !errors.Is(err, domain.ErrInvalidTransition) {
					t.Fatalf("error %v does not match ErrInvalidTransition", err)
				}
			})
		}
	}
}

func TestExecutionStatePredicates(t *testing.T) {
	t.Parallel()
	terminal := map[domain.ExecutionState]bool{
		domain.ExecutionCompleted: true, domain.ExecutionFailed: true,
		domain.ExecutionTimedOut: true, domain.ExecutionCancelled: true,
	}
	if len(domain.ExecutionStates) != 6 {
		t.Fatalf("ExecutionStates = %v, want the 6 states of SPEC §3", domain.ExecutionStates)
	}
	for _, s := range domain.ExecutionStates {
		if s.Terminal() != terminal[s] {
			t.Errorf("%s.Terminal() = %v", s, s.Terminal())
		}
		if !s.Valid() {
			t.Errorf("%s.Valid() = false", s)
		}
		if got, err := domain.ParseExecutionState(string(s)); err != nil || got != s {
			t.Errorf("ParseExecutionState(%q) = %q, %v", s, got, err)
		}
		// Terminal states are final, apart from the replay of a failed one
		// and the reset of a failed, timed-out or cancelled one (never of a
		// completed one: that is forked).
		if s.Terminal() {
			for _, to := range domain.ExecutionStates {
				if err := domain.CheckExecutionTransition(s, to); err == nil && (s == domain.ExecutionCompleted || to != domain.ExecutionPending) {
					t.Errorf("terminal %s may move to %s", s, to)
				}
			}
		}
	}
	for _, bad := range []string{"", "Pending", "cancelling", "done"} {
		_, err := domain.ParseExecutionState(bad)
		want := fmt.Sprintf("stent: unknown execution state %q; allowed: pending, running, completed, failed, timed_out, cancelled", bad)
		if err == nil || err.Error() != want || !errors.Is(err, domain.ErrInvalidArgument) {
			t.Errorf("ParseExecutionState(%q) = %v, want %q", bad, err, want)
		}
		if domain.ExecutionState(bad).Valid() {
			t.Errorf("%q.Valid() = true", bad)
		}
	}
}

func TestTaskStatePredicates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		state          domain.TaskState
		terminal, live bool
	}{
		{domain.TaskPending, false, true},
		{domain.TaskRunning, false, true},
		{domain.TaskWaiting, false, true},
		{domain.TaskCompleted, true, false},
		{domain.TaskFailed, true, false},
		{domain.TaskCancelled, true, false},
	}
	if len(domain.TaskStates) != len(tests) {
		t.Fatalf("TaskStates = %v, want the 6 states of SPEC §3 (wave 2 adds waiting)", domain.TaskStates)
	}
	for _, tc := range tests {
		if tc.state.Terminal() != tc.terminal || tc.state.Live() != tc.live || !tc.state.Valid() {
			t.Errorf("%s: Terminal %v Live %v Valid %v", tc.state, tc.state.Terminal(), tc.state.Live(), tc.state.Valid())
		}
		if got, err := domain.ParseTaskState(string(tc.state)); err != nil || got != tc.state {
			t.Errorf("ParseTaskState(%q) = %q, %v", tc.state, got, err)
		}
	}
	_, err := domain.ParseTaskState("timed_out")
	const want = `stent: unknown task state "timed_out"; allowed: pending, running, waiting, completed, failed, cancelled`
	if err == nil || err.Error() != want || !errors.Is(err, domain.ErrInvalidArgument) {
		t.Errorf("ParseTaskState(timed_out) = %v, want %q", err, want)
	}
}

func TestTaskKinds(t *testing.T) {
	t.Parallel()
	claimable := map[domain.TaskKind]bool{domain.KindOrchestrator: true, domain.KindActivity: true}
	for _, k := range domain.TaskKinds {
		if k.Claimable() != claimable[k] {
			t.Errorf("%s.Claimable() = %v", k, k.Claimable())
		}
		if got, err := domain.ParseTaskKind(string(k)); err != nil || got != k {
			t.Errorf("ParseTaskKind(%q) = %q, %v", k, got, err)
		}
	}
	_, err := domain.ParseTaskKind("timer")
	const want = `stent: unknown task kind "timer"; allowed: orchestrator, activity, sleep, signal, link`
	if err == nil || err.Error() != want || !errors.Is(err, domain.ErrInvalidArgument) {
		t.Errorf("ParseTaskKind(timer) = %v, want %q", err, want)
	}
}
