package memstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// CreateExecutions creates executions, each with its root task, both
// pending, under one lock (see ports.ExecutionStore): a reused root task id
// fails the whole batch before anything is written.
func (s *Store) CreateExecutions(ctx context.Context, items []ports.NewExecution) ([]ports.CreatedExecution, error) {
	for _, it := range items {
		if err := valid(it.Validate()); err != nil {
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
		id, outcome, err := s.createExecutionLocked(it.Execution, it.Root)
		out[i] = ports.CreatedExecution{ID: id, Created: outcome == domain.DispatchCreated, Outcome: outcome, Err: err}
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

func (s *Store) createExecutionLocked(exec domain.Execution, root domain.Task) (string, domain.DispatchOutcome, error) {
	if exec.IdempotencyKey != "" {
		for _, e := range s.executions {
			if e.IdempotencyKey == exec.IdempotencyKey {
				return e.ID, domain.DispatchExisting, nil
			}
		}
	}
	if old, ok := s.executions[exec.ID]; ok {
		if old.RootFunction != exec.RootFunction {
			return "", "", fmt.Errorf("memstore: execution %q already exists running %q, not %q: %w",
				exec.ID, old.RootFunction, exec.RootFunction, domain.ErrConflict)
		}
		return exec.ID, domain.DispatchExisting, nil
	}
	for _, e := range s.executions {
		switch {
		case exec.SingletonKey != "" && e.SingletonKey == exec.SingletonKey && !e.State.Terminal():
			if e.RootFunction != exec.RootFunction {
				return "", "", fmt.Errorf("memstore: singleton key %q is held by execution %s of %q, not %q: %w",
					exec.SingletonKey, e.ID, e.RootFunction, exec.RootFunction, domain.ErrConflict)
			}
			return e.ID, domain.DispatchJoined, nil
		case exec.DebounceKey != "" && e.DebounceKey == exec.DebounceKey && e.State == domain.ExecutionPending:
			if e.RootFunction != exec.RootFunction {
				return "", "", fmt.Errorf("memstore: debounce key %q is held by execution %s of %q, not %q: %w",
					exec.DebounceKey, e.ID, e.RootFunction, exec.RootFunction, domain.ErrConflict)
			}
			if r := s.tasks[e.RootTaskID]; r != nil && r.State == domain.TaskPending && r.StartedAt == nil {
				e.Input, r.Input = cloneRaw(exec.Input), cloneRaw(exec.Input)
				e.ScheduledFor, r.ScheduledFor = normTimePtr(exec.ScheduledFor), normTimePtr(exec.ScheduledFor)
				e.Deadline, r.Deadline = normTimePtr(exec.Deadline), normTimePtr(exec.Deadline)
				e.UpdatedAt, r.UpdatedAt = normTime(exec.CreatedAt), normTime(exec.CreatedAt)
				return e.ID, domain.DispatchDebounced, nil
			}
		}
	}
	if _, ok := s.tasks[root.ID]; ok {
		return "", "", fmt.Errorf("memstore: task %q already exists: %w", root.ID, domain.ErrConflict)
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
	return e.ID, domain.DispatchCreated, nil
}

// GetExecution returns one execution, or ErrNotFound.
func (s *Store) GetExecution(ctx context.Context, id string) (domain.Execution, error) {
	if err := valid(ports.ValidateID("execution id", id)); err != nil {
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
	if err := valid(f.Validate()); err != nil {
		return nil, err
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()

	var rows []*domain.Execution
	for _, e := range s.executions {
		if len(f.States) > 0 && !slices.Contains(f.States, e.State) ||
			f.Function != "" && e.RootFunction != f.Function ||
			f.Queue != "" && e.Queue != f.Queue ||
			f.Version != "" && e.Version != f.Version ||
			!hasTags(e.Tags, f.Tags) ||
			!strings.HasPrefix(e.ID, f.IDPrefix) ||
			!f.CreatedFrom.IsZero() && e.CreatedAt.Before(domain.NormalizeTime(f.CreatedFrom)) ||
			!f.CreatedBefore.IsZero() && !e.CreatedAt.Before(domain.NormalizeTime(f.CreatedBefore)) ||
			f.Text != "" && !executionHasText(e, f.Text) ||
			!afterKeyset(f.After, e.CreatedAt, e.ID) {
			continue
		}
		rows = append(rows, e)
	}
	slices.SortFunc(rows, func(a, b *domain.Execution) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
	})
	var out []domain.Execution
	for _, e := range page(rows, ports.PageLimit(f.Limit), f.Offset) {
		out = append(out, *cloneExecution(e))
	}
	return out, nil
}

// hasTags reports whether tags holds every one of want.
func hasTags(tags, want []string) bool {
	for _, w := range want {
		if !slices.Contains(tags, w) {
			return false
		}
	}
	return true
}

// executionHasText reports whether the execution's input, result or error
// JSON text (as the SQL stores keep it) contains text (ports.ContainsText).
func executionHasText(e *domain.Execution, text string) bool {
	if ports.ContainsText(string(e.Input), text) || ports.ContainsText(string(e.Result), text) {
		return true
	}
	if e.Error == nil {
		return false
	}
	b, err := json.Marshal(e.Error)
	return err == nil && ports.ContainsText(string(b), text)
}

// ListProgress returns one entry per task of the execution, ordered by
// created_at, position, id.
func (s *Store) ListProgress(ctx context.Context, executionID string) ([]domain.ProgressEntry, error) {
	if err := valid(ports.ValidateID("execution id", executionID)); err != nil {
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
			Version:    c.Version,
			Queue:      c.Queue,
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
			// Tasks held back by a rate limit show until when.
			RateLimitedUntil: c.RateLimitedUntil,
			MaxConcurrent:    c.MaxConcurrent,
			ConcurrencyKey:   c.ConcurrencyKey,
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
	if err := valid(ports.ValidateID("execution id", executionID)); err != nil {
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
