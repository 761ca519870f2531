package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// GetTask returns one task, or ErrNotFound.
func (s *Store) GetTask(ctx context.Context, id string) (domain.Task, error) {
	if err := s.valid(ports.ValidateID("task id", id)); err != nil {
		return domain.Task{}, err
	}
	if err := s.check(); err != nil {
		return domain.Task{}, err
	}
	t, err := scanTask(s.queryRow(ctx, `SELECT `+taskColumns+` FROM @tasks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Task{}, s.notFound("task", id)
	}
	if err != nil {
		return domain.Task{}, s.wrap(err, "get task")
	}
	return t, nil
}

// GetTasks returns the existing tasks among ids, in the order of ids.
func (s *Store) GetTasks(ctx context.Context, ids []string) ([]domain.Task, error) {
	if err := s.valid(ports.ValidateIDs("task id", ids)); err != nil {
		return nil, err
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.queryRows(ctx, `SELECT `+taskColumns+` FROM @tasks WHERE `+s.d.InList("id"), s.d.StringList(ids))
	if err != nil {
		return nil, s.wrap(err, "get tasks")
	}
	defer rows.Close()
	byID := make(map[string]domain.Task, len(ids))
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, s.wrap(err, "get tasks")
		}
		byID[t.ID] = t
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(err, "get tasks")
	}
	out := make([]domain.Task, 0, len(byID))
	for _, id := range ids {
		if t, ok := byID[id]; ok {
			out = append(out, t)
		}
	}
	return out, nil
}

// ListTasks returns tasks matching f, newest first.
func (s *Store) ListTasks(ctx context.Context, f ports.TaskFilter) ([]domain.Task, error) {
	if err := s.valid(f.Validate()); err != nil {
		return nil, err
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	var (
		where []string
		args  []any
	)
	if len(f.States) > 0 {
		states := make([]string, len(f.States))
		for i, st := range f.States {
			states[i] = string(st)
		}
		where = append(where, s.d.InList("state"))
		args = append(args, s.d.StringList(states))
	}
	if len(f.Kinds) > 0 {
		kinds := make([]string, len(f.Kinds))
		for i, k := range f.Kinds {
			kinds[i] = string(k)
		}
		where = append(where, s.d.InList("kind"))
		args = append(args, s.d.StringList(kinds))
	}
	for _, c := range []struct{ col, v string }{
		{"execution_id", f.ExecutionID}, {"parent_task_id", f.ParentTaskID}, {"queue", f.Queue}, {"step_name", f.StepName},
	} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	if f.ParentTaskIDs != nil {
		where = append(where, s.d.InList("parent_task_id"))
		args = append(args, s.d.StringList(f.ParentTaskIDs))
	}
	rows, err := s.queryRows(ctx, `SELECT `+taskColumns+` FROM @tasks`+whereClause(where)+
		` ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`, append(args, int64(ports.PageLimit(f.Limit)), int64(f.Offset))...)
	if err != nil {
		return nil, s.wrap(err, "list tasks")
	}
	defer rows.Close()
	var out []domain.Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, s.wrap(err, "list tasks")
		}
		out = append(out, t)
	}
	return out, s.wrap(rows.Err(), "list tasks")
}
