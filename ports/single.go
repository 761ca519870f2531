package ports

import (
	"context"
	"fmt"
	"time"

	"github.com/stenthq/stent/domain"
)

// The store writes in batches only. These helpers write one item through
// the batch methods and unwrap its result, with the semantics of one item
// of the batch.

// CreateExecution inserts one execution and its root task (see
// ExecutionStore.CreateExecutions): it returns the execution's id and
// whether this call created it. An id used by an execution of another
// function is ErrConflict.
func CreateExecution(ctx context.Context, s ExecutionStore, exec domain.Execution, root domain.Task) (id string, created bool, err error) {
	res, err := s.CreateExecutions(ctx, []NewExecution{{Execution: exec, Root: root}})
	if err != nil {
		return "", false, err
	}
	if len(res) != 1 {
		return "", false, fmt.Errorf("stent: create execution %q: the store returned %d results for 1 item", exec.ID, len(res))
	}
	if res[0].Err != nil {
		return "", false, res[0].Err
	}
	return res[0].ID, res[0].Created, nil
}

// CreateSteps makes sure a record exists for every spec under the fenced
// parent and returns every record as stored, in the order of specs (see
// StepStore.CreateStepsBatch). A parent fence that does not match is
// ErrLeaseLost and nothing is written.
func CreateSteps(ctx context.Context, s StepStore, parent domain.Fence, specs []StepSpec, ops []domain.DataOp, now time.Time) ([]domain.Task, error) {
	res, err := s.CreateStepsBatch(ctx, []CreateStepsRequest{{Parent: parent, Specs: specs, Ops: ops, Now: now}})
	if err != nil {
		return nil, err
	}
	if len(res) != 1 {
		return nil, fmt.Errorf("stent: create steps of %q: the store returned %d results for 1 request", parent.TaskID, len(res))
	}
	if res[0].Err != nil {
		return nil, res[0].Err
	}
	return res[0].Tasks, nil
}

// CompleteTask stores one successful result (see CompleteParams and
// ClaimStore.CompleteTasks). A fence that does not match is ErrLeaseLost
// and nothing is written.
func CompleteTask(ctx context.Context, s ClaimStore, p CompleteParams) error {
	res, err := s.CompleteTasks(ctx, []CompleteParams{p})
	if err != nil {
		return err
	}
	if len(res) != 1 {
		return fmt.Errorf("stent: complete task %q: the store returned %d results for 1 item", p.Fence.TaskID, len(res))
	}
	return res[0].Err
}
