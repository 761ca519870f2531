package memstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// CreateExecution inserts exec and its root task, both pending (see
// ports.ExecutionStore).
func (s *Store) CreateExecution(ctx context.Context, exec domain.Execution, root domain.Task) (string, bool, error) {
	if err := validateNewExecution(exec, root); err != nil {
		return "", false, err
	}
	if err := s.lock(ctx); err != nil {
		return "", false, err
	}
	defer s.mu.Unlock()
	if err := s.rootIDFree(exec, root); err != nil {
		return "", false, err
	}
	return s.createExecutionLocked(exec, root)
}

// CreateExecutions creates many executions under one lock (see
// ports.ExecutionStore): a reused root task id fails the whole batch
// before anything is written.
func (s *Store) CreateExecutions(ctx context.Context, items []ports.NewExecution) ([]ports.CreatedExecution, error) {
	for _, it := range items {
		if err := validateNewExecution(it.Execution, it.Root); err != nil {
			return nil, err
		}
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	roots := map[string]string{}
	for _, it := range items {
		if err := s.rootIDFree(it.Execution, it.Root); err != nil {
			return nil, err
		}
		if other, dup := roots[it.Root.ID]; dup && other != it.Execution.ID {
			return nil, fmt.Errorf("memstore: task %q is the root of two executions in one batch: %w", it.Root.ID, domain.ErrConflict)
		}
		roots[it.Root.ID] = it.Execution.ID
	}
	out := make([]ports.CreatedExecution, len(items))
	for i, it := range items {
		id, created, err := s.createExecutionLocked(it.Execution, it.Root)
		out[i] = ports.CreatedExecution{ID: id, Created: created, Err: err}
	}
	return out, nil
}

// rootIDFree fails when the root task id is taken by a task that is not
// the root of this very execution (a repeated create is a no-op, not a
// conflict).
func (s *Store) rootIDFree(exec domain.Execution, root domain.Task) error {
	if t, ok := s.tasks[root.ID]; ok && t.ExecutionID != exec.ID {
		return fmt.Errorf("memstore: task %q already exists: %w", root.ID, domain.ErrConflict)
	}
	return nil
}

func (s *Store) createExecutionLocked(exec domain.Execution, root domain.Task) (string, bool, error) {
	if exec.IdempotencyKey != "" {
		for _, e := range s.executions {
			if e.IdempotencyKey == exec.IdempotencyKey {
				return e.ID, false, nil
			}
		}
	}
	if old, ok := s.executions[exec.ID]; ok {
		if old.RootFunction != exec.RootFunction {
			return "", false, fmt.Errorf("memstore: execution %q already exists running %q, not %q: %w",
				exec.ID, old.RootFunction, exec.RootFunction, domain.ErrConflict)
		}
		return exec.ID, false, nil
	}
	if _, ok := s.tasks[root.ID]; ok {
		return "", false, fmt.Errorf("memstore: task %q already exists: %w", root.ID, domain.ErrConflict)
	}

	e := cloneExecution(&exec)
	e.State = domain.ExecutionPending
	e.Result, e.Error = nil, nil
	e.UpdatedAt = e.CreatedAt
	e.StartedAt, e.FinishedAt = nil, nil

	t := cloneTask(&root)
	t.State = domain.TaskPending
	t.Result, t.Error, t.LastError = nil, nil, nil
	t.Attempt, t.Generation, t.ParentGeneration = 0, 0, 0
	t.WorkerID, t.ClaimToken, t.LeaseExpiresAt = "", "", nil
	t.IdempotencyKey, t.LinkOwnerID = "", ""
	t.Deadline = normTimePtr(e.Deadline)
	t.ScheduledFor = normTimePtr(e.ScheduledFor)
	t.CreatedAt, t.UpdatedAt = e.CreatedAt, e.CreatedAt
	t.StartedAt, t.FinishedAt = nil, nil

	s.executions[e.ID] = e
	s.tasks[t.ID] = t
	return e.ID, true, nil
}

func validateNewExecution(exec domain.Execution, root domain.Task) error {
	switch {
	case exec.ID == "":
		return invalid("execution id is empty; an id is required")
	case exec.RootFunction == "":
		return invalid("execution %q: root function is empty", exec.ID)
	case root.ID == "":
		return invalid("execution %q: root task id is empty; an id is required", exec.ID)
	case root.ID != exec.RootTaskID:
		return invalid("execution %q: root task id %q differs from RootTaskID %q", exec.ID, root.ID, exec.RootTaskID)
	case root.ExecutionID != exec.ID:
		return invalid("root task %q: execution id %q differs from the execution's %q", root.ID, root.ExecutionID, exec.ID)
	case root.ParentTaskID != "":
		return invalid("root task %q has parent %q; a root has none", root.ID, root.ParentTaskID)
	case root.Kind != domain.KindOrchestrator:
		return invalid("root task %q: kind %q; want %q", root.ID, root.Kind, domain.KindOrchestrator)
	case root.Position != 0:
		return invalid("root task %q: position %d; want 0", root.ID, root.Position)
	case root.StepName != exec.RootFunction:
		return invalid("root task %q: step name %q differs from the root function %q", root.ID, root.StepName, exec.RootFunction)
	}
	return nil
}

// GetExecution returns one execution, or ErrNotFound.
func (s *Store) GetExecution(ctx context.Context, id string) (domain.Execution, error) {
	if err := requireID("execution id", id); err != nil {
		return domain.Execution{}, err
	}
	if err := s.lock(ctx); err != nil {
		return domain.Execution{}, err
	}
	defer s.mu.Unlock()
	e, ok := s.executions[id]
	if !ok {
		return domain.Execution{}, notFound("execution", id)
	}
	return *cloneExecution(e), nil
}

// ListExecutions returns executions matching f, newest first.
func (s *Store) ListExecutions(ctx context.Context, f ports.ExecutionFilter) ([]domain.Execution, error) {
	limit, err := checkPage(f.Limit, f.Offset)
	if err != nil {
		return nil, err
	}
	for _, st := range f.States {
		if _, err := domain.ParseExecutionState(string(st)); err != nil {
			return nil, fmt.Errorf("memstore: %w", err)
		}
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()

	var rows []*domain.Execution
	for _, e := range s.executions {
		if len(f.States) > 0 && !slices.Contains(f.States, e.State) ||
			f.Function != "" && e.RootFunction != f.Function ||
			f.Queue != "" && e.Queue != f.Queue {
			continue
		}
		rows = append(rows, e)
	}
	slices.SortFunc(rows, func(a, b *domain.Execution) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
	})
	var out []domain.Execution
	for _, e := range page(rows, limit, f.Offset) {
		out = append(out, *cloneExecution(e))
	}
	return out, nil
}

// ListProgress returns one entry per task of the execution, ordered by
// created_at, position, id.
func (s *Store) ListProgress(ctx context.Context, executionID string) ([]domain.ProgressEntry, error) {
	if err := requireID("execution id", executionID); err != nil {
		return nil, err
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if _, ok := s.executions[executionID]; !ok {
		return nil, notFound("execution", executionID)
	}
	tasks := s.tasksOf(executionID)
	slices.SortFunc(tasks, byCreation)
	var out []domain.ProgressEntry
	for _, t := range tasks {
		c := cloneTask(t)
		out = append(out, domain.ProgressEntry{
			TaskID:     c.ID,
			ParentID:   c.ParentTaskID,
			Position:   c.Position,
			Kind:       c.Kind,
			Step:       c.StepName,
			State:      c.State,
			Attempt:    c.Attempt,
			Recoveries: c.Recoveries,
			CreatedAt:  c.CreatedAt,
			StartedAt:  c.StartedAt,
			FinishedAt: c.FinishedAt,
			Error:      c.Error,
			// Sleeps and delayed tasks show when they are due.
			ScheduledFor: c.ScheduledFor,
			WakeAt:       c.WakeAt,
			Awaited:      c.Awaited,
		})
	}
	return out, nil
}

// byCreation orders tasks by created_at, position, id.
func byCreation(a, b *domain.Task) int {
	return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.Position, b.Position), cmp.Compare(a.ID, b.ID))
}

// tasksOf returns the stored tasks of an execution, in no order.
func (s *Store) tasksOf(executionID string) []*domain.Task {
	var out []*domain.Task
	for _, t := range s.tasks {
		if t.ExecutionID == executionID {
			out = append(out, t)
		}
	}
	return out
}

// GetExecutionData returns the execution's counters and custom state.
func (s *Store) GetExecutionData(ctx context.Context, executionID string) (domain.ExecutionData, error) {
	if err := requireID("execution id", executionID); err != nil {
		return domain.ExecutionData{}, err
	}
	if err := s.lock(ctx); err != nil {
		return domain.ExecutionData{}, err
	}
	defer s.mu.Unlock()
	if _, ok := s.executions[executionID]; !ok {
		return domain.ExecutionData{}, notFound("execution", executionID)
	}
	out := domain.ExecutionData{Counters: map[string]float64{}, State: map[string]json.RawMessage{}}
	if d, ok := s.data[executionID]; ok {
		maps.Copy(out.Counters, d.Counters)
		for k, v := range d.State {
			out.State[k] = cloneRaw(v)
		}
	}
	return out, nil
}

// GetTask returns one task, or ErrNotFound.
func (s *Store) GetTask(ctx context.Context, id string) (domain.Task, error) {
	if err := requireID("task id", id); err != nil {
		return domain.Task{}, err
	}
	if err := s.lock(ctx); err != nil {
		return domain.Task{}, err
	}
	defer s.mu.Unlock()
	t, ok := s.tasks[id]
	if !ok {
		return domain.Task{}, notFound("task", id)
	}
	return *cloneTask(t), nil
}

// GetTasks returns the tasks with these ids that exist, in the order of ids.
func (s *Store) GetTasks(ctx context.Context, ids []string) ([]domain.Task, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []domain.Task
	for _, id := range ids {
		if t, ok := s.tasks[id]; ok {
			out = append(out, *cloneTask(t))
		}
	}
	return out, nil
}

// ListTasks returns tasks matching f, newest first.
func (s *Store) ListTasks(ctx context.Context, f ports.TaskFilter) ([]domain.Task, error) {
	limit, err := checkPage(f.Limit, f.Offset)
	if err != nil {
		return nil, err
	}
	for _, st := range f.States {
		if _, err := domain.ParseTaskState(string(st)); err != nil {
			return nil, fmt.Errorf("memstore: %w", err)
		}
	}
	for _, k := range f.Kinds {
		if _, err := domain.ParseTaskKind(string(k)); err != nil {
			return nil, fmt.Errorf("memstore: %w", err)
		}
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()

	var rows []*domain.Task
	for _, t := range s.tasks {
		if f.ExecutionID != "" && t.ExecutionID != f.ExecutionID ||
			f.ParentTaskID != "" && t.ParentTaskID != f.ParentTaskID ||
			f.Queue != "" && t.Queue != f.Queue ||
			f.StepName != "" && t.StepName != f.StepName ||
			len(f.Kinds) > 0 && !slices.Contains(f.Kinds, t.Kind) ||
			len(f.States) > 0 && !slices.Contains(f.States, t.State) {
			continue
		}
		rows = append(rows, t)
	}
	slices.SortFunc(rows, func(a, b *domain.Task) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
	})
	return taskList(page(rows, limit, f.Offset)), nil
}
