package memstore

import (
	"cmp"
	"context"
	"slices"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// GetTask returns one task, or ErrNotFound.
func (s *Store) GetTask(ctx context.Context, id string) (domain.Task, error) {
	if err := valid(ports.ValidateID("task id", id)); err != nil {
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
	if err := valid(ports.ValidateIDs("task id", ids)); err != nil {
		return nil, err
	}
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
	if err := valid(f.Validate()); err != nil {
		return nil, err
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()

	var parents map[string]bool
	if f.ParentTaskIDs != nil {
		parents = make(map[string]bool, len(f.ParentTaskIDs))
		for _, id := range f.ParentTaskIDs {
			if id != "" {
				parents[id] = true
			}
		}
	}
	var rows []*domain.Task
	for _, t := range s.tasks {
		if f.ExecutionID != "" && t.ExecutionID != f.ExecutionID ||
			f.ParentTaskID != "" && t.ParentTaskID != f.ParentTaskID ||
			parents != nil && !parents[t.ParentTaskID] ||
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
	return taskList(page(rows, ports.PageLimit(f.Limit), f.Offset)), nil
}
