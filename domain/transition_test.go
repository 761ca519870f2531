package domain_test

import (
	"errors"
	"testing"

	"github.com/stenthq/stent/domain"
)

func TestEveryOperationIsAnEdgeOfTheSpecTable(t *testing.T) {
	t.Parallel()
	for _, tr := range domain.ExecutionTransitions {
		if tr.Entity != "execution" || tr.Op == "" || len(tr.From) == 0 || !tr.To.Valid() {
			t.Errorf("execution operation %+v is incomplete", tr)
		}
		for _, from := range tr.From {
			if !specExecutionTransitions[[2]domain.ExecutionState{from, tr.To}] {
				t.Errorf("execution operation %q moves %s to %s, which SPEC §3 forbids", tr.Op, from, tr.To)
			}
		}
	}
	for _, tr := range domain.TaskTransitions {
		if tr.Entity != "task" || tr.Op == "" || len(tr.From) == 0 || !tr.To.Valid() {
			t.Errorf("task operation %+v is incomplete", tr)
		}
		for _, from := range tr.From {
			if !specTaskTransitions[[2]domain.TaskState{from, tr.To}] {
				t.Errorf("task operation %q moves %s to %s, which SPEC §3 forbids", tr.Op, from, tr.To)
			}
		}
	}
}

func TestAnOperationChecksTheStateItStartsFrom(t *testing.T) {
	t.Parallel()
	if err := domain.TaskReset.Check(domain.TaskFailed); err != nil {
		t.Errorf("reset of a failed step: %v", err)
	}
	// running -> pending is an edge of the table (retry, release) but not
	// of a reset: an operation is narrower than the table.
	err := domain.TaskReset.Check(domain.TaskRunning)
	const want = `stent: invalid task transition from "running" to "pending" (reset)`
	if err == nil || err.Error() != want || !errors.Is(err, domain.ErrInvalidTransition) {
		t.Fatalf("TaskReset.Check(running) = %v, want %q", err, want)
	}
	if domain.CheckTaskTransition(domain.TaskRunning, domain.TaskPending) != nil {
		t.Error("running -> pending is not in the table")
	}
	if !domain.ExecCancel.Allows(domain.ExecutionPending) || domain.ExecCancel.Allows(domain.ExecutionFailed) {
		t.Errorf("ExecCancel.From = %v", domain.ExecCancel.From)
	}
	var te *domain.TransitionError
	if err := domain.ExecReplay.Check(domain.ExecutionCompleted); !errors.As(err, &te) || te.Entity != "execution" || te.Op != "replay" {
		t.Errorf("ExecReplay.Check(completed) = %v", err)
	}
}

func TestTheClaimOperationsAllEndRunning(t *testing.T) {
	t.Parallel()
	// The SQL stores claim the three streams with one UPDATE.
	for _, tr := range []domain.TaskTransition{domain.TaskClaim, domain.TaskReclaim, domain.TaskResume} {
		if tr.To != domain.TaskRunning {
			t.Errorf("%s ends in %s", tr.Op, tr.To)
		}
	}
}
