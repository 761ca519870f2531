package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

const deadLetterColumns = `task_id, execution_id, step_name, kind, queue, reason, code, error, snapshot, moved_at`

func scanDeadLetter(r rowScanner) (domain.DeadLetter, error) {
	var (
		d          domain.DeadLetter
		kind       string
		errb, snap []byte
		moved      nullTime
	)
	if err := r.Scan(&d.TaskID, &d.ExecutionID, &d.StepName, &kind, &d.Queue, &d.Reason, &d.Code, &errb, &snap, &moved); err != nil {
		return d, err
	}
	d.Kind, d.MovedAt = domain.TaskKind(kind), moved.val()
	var err error
	if d.Error, err = decodeTaskError(errb); err != nil {
		return d, err
	}
	if d.Snapshot, err = decodeSnapshot(snap); err != nil {
		return d, err
	}
	return d, nil
}

// ListDeadLetters returns entries newest first (moved_at desc, task id desc).
func (s *Store) ListDeadLetters(ctx context.Context, f ports.DeadLetterFilter) ([]domain.DeadLetter, error) {
	if err := s.valid(f.Validate()); err != nil {
		return nil, err
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	limit := ports.PageLimit(f.Limit)
	var (
		where []string
		args  []any
	)
	for _, c := range []struct{ col, v string }{
		{"queue", f.Queue}, {"step_name", f.StepName}, {"execution_id", f.ExecutionID},
	} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	if f.After != nil {
		where = append(where, "(moved_at < ? OR (moved_at = ? AND task_id < ?))")
		args = append(args, s.tm(f.After.At), s.tm(f.After.At), f.After.ID)
	}
	rows, err := s.queryRows(ctx, `SELECT `+deadLetterColumns+` FROM @dead_tasks`+whereClause(where)+
		` ORDER BY moved_at DESC, task_id DESC LIMIT ? OFFSET ?`, append(args, int64(limit), int64(f.Offset))...)
	if err != nil {
		return nil, s.wrap(err, "list dead letters")
	}
	defer rows.Close()
	var out []domain.DeadLetter
	for rows.Next() {
		d, err := scanDeadLetter(rows)
		if err != nil {
			return nil, s.wrap(err, "list dead letters")
		}
		out = append(out, d)
	}
	return out, s.wrap(rows.Err(), "list dead letters")
}

// GetDeadLetter returns the entry of a task, or ErrNotFound.
func (s *Store) GetDeadLetter(ctx context.Context, taskID string) (domain.DeadLetter, error) {
	if err := s.valid(ports.ValidateID("task id", taskID)); err != nil {
		return domain.DeadLetter{}, err
	}
	if err := s.check(); err != nil {
		return domain.DeadLetter{}, err
	}
	d, err := scanDeadLetter(s.queryRow(ctx, `SELECT `+deadLetterColumns+` FROM @dead_tasks WHERE task_id = ?`, taskID))
	if errors.Is(err, sql.ErrNoRows) {
		return d, s.notFound("dead letter", taskID)
	}
	if err != nil {
		return d, s.wrap(err, "get dead letter")
	}
	return d, nil
}

// DiscardDeadLetter deletes only the entry; ErrNotFound if absent.
func (s *Store) DiscardDeadLetter(ctx context.Context, taskID string) error {
	if err := s.valid(ports.ValidateID("task id", taskID)); err != nil {
		return err
	}
	return s.write(ctx, "discard dead letter", func(t *txn) error {
		n, err := t.execN(`DELETE FROM @dead_tasks WHERE task_id = ?`, taskID)
		if err != nil {
			return err
		}
		if n == 0 {
			return s.notFound("dead letter", taskID)
		}
		return nil
	})
}

// ReplayDeadLetter re-queues a dead-lettered task (see ports.DeadLetterStore).
func (s *Store) ReplayDeadLetter(ctx context.Context, p ports.ReplayParams) (domain.Task, error) {
	if err := s.valid(p.Validate()); err != nil {
		return domain.Task{}, err
	}
	now := domain.NormalizeTime(p.Now)
	var out domain.Task
	err := s.write(ctx, "replay dead letter", func(t *txn) error {
		var one int
		err := t.queryRow(`SELECT 1 FROM @dead_tasks WHERE task_id = ?`+s.d.ForUpdate(), p.TaskID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return s.notFound("dead letter", p.TaskID)
		}
		if err != nil {
			return err
		}
		cur, err := scanTask(t.queryRow(`SELECT `+taskColumns+` FROM @tasks WHERE id = ?`+s.d.ForUpdate(), p.TaskID))
		if errors.Is(err, sql.ErrNoRows) {
			return s.notFound("task", p.TaskID)
		}
		if err != nil {
			return err
		}
		var estate string
		err = t.queryRow(`SELECT state FROM @executions WHERE id = ?`+s.d.ForUpdate(), cur.ExecutionID).Scan(&estate)
		if errors.Is(err, sql.ErrNoRows) {
			return s.notFound("execution", cur.ExecutionID)
		}
		if err != nil {
			return err
		}
		st := domain.ExecutionState(estate)
		if cur.IsRoot() {
			if st.Terminal() && st != domain.ExecutionFailed {
				return s.errorf("replay %q: execution %q is %s: %w", p.TaskID, cur.ExecutionID, st, domain.ErrExecutionFinished)
			}
		} else if st.Terminal() {
			return s.errorf("replay %q: execution %q is %s: %w", p.TaskID, cur.ExecutionID, st, domain.ErrExecutionFinished)
		}
		if err := domain.TaskReplay.Check(cur.State); err != nil {
			return s.errorf("replay %q: %w", p.TaskID, err)
		}
		attempt := "0"
		if p.KeepAttempts {
			attempt = "attempt"
		}
		queue := cur.Queue
		if p.Queue != "" {
			queue = p.Queue
		}
		out, err = scanTask(t.queryRow(`UPDATE @tasks SET `+to(domain.TaskReplay)+`, scheduled_for = ?, attempt = `+attempt+`, recoveries = 0,
 generation = generation + 1, error = NULL, result = NULL, `+leaseClear+`, finished_at = NULL,
 queue = ?, updated_at = ? WHERE id = ? RETURNING `+taskColumns, s.tm(now), queue, s.tm(now), p.TaskID))
		if err != nil {
			return err
		}
		if cur.IsRoot() && domain.ExecReplay.Allows(st) {
			if _, err := t.exec(`UPDATE @executions SET `+to(domain.ExecReplay)+`, error = NULL, result = NULL, finished_at = NULL,
 updated_at = ? WHERE id = ? AND `+from("state", domain.ExecReplay), s.tm(now), cur.ExecutionID); err != nil {
				if s.d.UniqueViolation(err) { // a singleton or debounce key another execution holds
					return s.errorf("replay task %q: another execution holds the singleton or debounce key of execution %s: %w",
						p.TaskID, cur.ExecutionID, domain.ErrConflict)
				}
				return err
			}
		}
		_, err = t.exec(`DELETE FROM @dead_tasks WHERE task_id = ?`, p.TaskID)
		return err
	})
	return out, err
}
