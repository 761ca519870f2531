package ports_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// batchStore answers the batch writes with canned results and records the
// batches it was given.
type batchStore struct {
	ports.Store
	execs    []ports.CreatedExecution
	steps    []ports.CreateStepsResult
	complete []ports.CompleteResult
	err      error
	batches  []int
}

func (s *batchStore) CreateExecutions(_ context.Context, items []ports.NewExecution) ([]ports.CreatedExecution, error) {
	s.batches = append(s.batches, len(items))
	return s.execs, s.err
}

func (s *batchStore) CreateStepsBatch(_ context.Context, reqs []ports.CreateStepsRequest) ([]ports.CreateStepsResult, error) {
	s.batches = append(s.batches, len(reqs))
	return s.steps, s.err
}

func (s *batchStore) CompleteTasks(_ context.Context, ps []ports.CompleteParams) ([]ports.CompleteResult, error) {
	s.batches = append(s.batches, len(ps))
	return s.complete, s.err
}

func TestSingleItemHelpersWriteABatchOfOneAndUnwrapItsResult(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	fence := domain.Fence{TaskID: "t", WorkerID: "w", Token: "k"}
	now := time.Unix(0, 0)

	s := &batchStore{
		execs:    []ports.CreatedExecution{{ID: "other", Created: false}},
		steps:    []ports.CreateStepsResult{{Tasks: []domain.Task{{ID: "s1"}}}},
		complete: []ports.CompleteResult{{}},
	}
	id, created, err := ports.CreateExecution(ctx, s, domain.Execution{ID: "e"}, domain.Task{ID: "r"})
	if err != nil || id != "other" || created {
		t.Errorf("CreateExecution = %q, %v, %v; want the item's id and flag", id, created, err)
	}
	tasks, err := ports.CreateSteps(ctx, s, fence, nil, nil, now)
	if err != nil || len(tasks) != 1 || tasks[0].ID != "s1" {
		t.Errorf("CreateSteps = %v, %v; want the request's records", tasks, err)
	}
	if err := ports.CompleteTask(ctx, s, ports.CompleteParams{Fence: fence}); err != nil {
		t.Errorf("CompleteTask = %v", err)
	}
	if len(s.batches) != 3 || s.batches[0] != 1 || s.batches[1] != 1 || s.batches[2] != 1 {
		t.Errorf("batches %v; want three batches of one", s.batches)
	}

	// The item's error is the helper's error.
	s = &batchStore{
		execs:    []ports.CreatedExecution{{Err: domain.ErrConflict}},
		steps:    []ports.CreateStepsResult{{Err: domain.ErrLeaseLost}},
		complete: []ports.CompleteResult{{Err: domain.ErrLeaseLost}},
	}
	if _, _, err := ports.CreateExecution(ctx, s, domain.Execution{ID: "e"}, domain.Task{ID: "r"}); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("CreateExecution of a conflicting item = %v; want ErrConflict", err)
	}
	if _, err := ports.CreateSteps(ctx, s, fence, nil, nil, now); !errors.Is(err, domain.ErrLeaseLost) {
		t.Errorf("CreateSteps of a stale parent = %v; want ErrLeaseLost", err)
	}
	if err := ports.CompleteTask(ctx, s, ports.CompleteParams{Fence: fence}); !errors.Is(err, domain.ErrLeaseLost) {
		t.Errorf("CompleteTask of a stale fence = %v; want ErrLeaseLost", err)
	}

	// The batch's error is the helper's error; a store that answers a
	// batch of one with another number of results is an error too.
	s = &batchStore{err: domain.ErrUnavailable}
	if _, _, err := ports.CreateExecution(ctx, s, domain.Execution{ID: "e"}, domain.Task{ID: "r"}); !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("CreateExecution = %v; want ErrUnavailable", err)
	}
	if _, err := ports.CreateSteps(ctx, s, fence, nil, nil, now); !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("CreateSteps = %v; want ErrUnavailable", err)
	}
	if err := ports.CompleteTask(ctx, s, ports.CompleteParams{Fence: fence}); !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("CompleteTask = %v; want ErrUnavailable", err)
	}
	s = &batchStore{}
	if _, _, err := ports.CreateExecution(ctx, s, domain.Execution{ID: "e"}, domain.Task{ID: "r"}); err == nil {
		t.Error("CreateExecution accepted no result for one item")
	}
	if _, err := ports.CreateSteps(ctx, s, fence, nil, nil, now); err == nil {
		t.Error("CreateSteps accepted no result for one request")
	}
	if err := ports.CompleteTask(ctx, s, ports.CompleteParams{Fence: fence}); err == nil {
		t.Error("CompleteTask accepted no result for one item")
	}
}
