package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// ListDeadLetters returns entries matching f, newest first (moved_at desc,
// task id desc).
func (s *Store) ListDeadLetters(ctx context.Context, f ports.DeadLetterFilter) ([]domain.DeadLetter, error) {
	if err := valid(f.Validate()); err != nil {
		return nil, err
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var rows []*domain.DeadLetter
	for _, d := range s.deadLetters {
		if f.Queue != "" && d.Queue != f.Queue ||
			f.StepName != "" && d.StepName != f.StepName ||
			f.ExecutionID != "" && d.ExecutionID != f.ExecutionID ||
			!afterKeyset(f.After, d.MovedAt, d.TaskID) {
			continue
		}
		rows = append(rows, d)
	}
	slices.SortFunc(rows, func(a, b *domain.DeadLetter) int {
		return cmp.Or(b.MovedAt.Compare(a.MovedAt), cmp.Compare(b.TaskID, a.TaskID))
	})
	var out []domain.DeadLetter
	for _, d := range page(rows, ports.PageLimit(f.Limit), f.Offset) {
		out = append(out, *cloneDeadLetter(d))
	}
	return out, nil
}

// GetDeadLetter returns the entry of a task, or ErrNotFound.
func (s *Store) GetDeadLetter(ctx context.Context, taskID string) (domain.DeadLetter, error) {
	if err := valid(ports.ValidateID("task id", taskID)); err != nil {
		return domain.DeadLetter{}, err
	}
	if err := s.lock(ctx); err != nil {
		return domain.DeadLetter{}, err
	}
	defer s.mu.Unlock()
	d, ok := s.deadLetters[taskID]
	if !ok {
		return domain.DeadLetter{}, notFound("dead letter of task", taskID)
	}
	return *cloneDeadLetter(d), nil
}

// DiscardDeadLetter deletes only the entry.
func (s *Store) DiscardDeadLetter(ctx context.Context, taskID string) error {
	if err := valid(ports.ValidateID("task id", taskID)); err != nil {
		return err
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.deadLetters[taskID]; !ok {
		return notFound("dead letter of task", taskID)
	}
	delete(s.deadLetters, taskID)
	return nil
}

// ReplayDeadLetter re-queues the dead-lettered task under the same id (see
// ports.DeadLetterStore).
func (s *Store) ReplayDeadLetter(ctx context.Context, p ports.ReplayParams) (domain.Task, error) {
	if err := valid(p.Validate()); err != nil {
		return domain.Task{}, err
	}
	if err := s.lock(ctx); err != nil {
		return domain.Task{}, err
	}
	defer s.mu.Unlock()
	if _, ok := s.deadLetters[p.TaskID]; !ok {
		return domain.Task{}, notFound("dead letter of task", p.TaskID)
	}
	t, ok := s.tasks[p.TaskID]
	if !ok {
		return domain.Task{}, notFound("task", p.TaskID)
	}
	e := s.executions[t.ExecutionID]
	root := t.IsRoot()
	if e.State.Terminal() && !(root && e.State == domain.ExecutionFailed) {
		return domain.Task{}, fmt.Errorf("memstore: replay task %q of execution %q (%s): %w",
			t.ID, e.ID, e.State, domain.ErrExecutionFinished)
	}
	if err := domain.TaskReplay.Check(t.State); err != nil {
		return domain.Task{}, fmt.Errorf("memstore: replay task %q: %w", t.ID, err)
	}
	if root && domain.ExecReplay.Allows(e.State) {
		if holder := s.dispatchKeyHolder(e); holder != "" {
			return domain.Task{}, fmt.Errorf("memstore: replay task %q: execution %s holds the singleton or debounce key of execution %s: %w",
				t.ID, holder, e.ID, domain.ErrConflict)
		}
	}

	now := normTime(p.Now)
	t.State = domain.TaskReplay.To
	t.ScheduledFor = timePtr(now)
	if !p.KeepAttempts {
		t.Attempt = 0
	}
	t.Recoveries = 0 // a replay starts a new recovery budget
	t.Generation++
	t.Result, t.Error = nil, nil
	clearLease(t)
	t.FinishedAt = nil
	if p.Queue != "" {
		t.Queue = p.Queue
	}
	t.UpdatedAt = now
	delete(s.deadLetters, t.ID)
	if root && domain.ExecReplay.Allows(e.State) {
		e.State = domain.ExecReplay.To
		e.Result, e.Error = nil, nil
		e.FinishedAt = nil
		e.UpdatedAt = now
	}
	return *cloneTask(t), nil
}

// dispatchKeyHolder returns another execution that holds e's singleton key (live)
// or debounce key (pending), which a replay of e may not take: "" if none.
func (s *Store) dispatchKeyHolder(e *domain.Execution) string {
	for _, o := range s.executions {
		switch {
		case o.ID == e.ID:
		case e.SingletonKey != "" && o.SingletonKey == e.SingletonKey && !o.State.Terminal():
			return o.ID
		case e.DebounceKey != "" && o.DebounceKey == e.DebounceKey && o.State == domain.ExecutionPending:
			return o.ID
		}
	}
	return ""
}
