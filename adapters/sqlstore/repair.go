package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// lockedExecution reads an execution, locked for the rest of the
// transaction (PostgreSQL row lock; SQLite has one writer).
func (s *Store) lockedExecution(t *txn, id string) (domain.Execution, error) {
	e, err := scanExecution(t.queryRow(`SELECT `+executionColumns+` FROM @executions WHERE id = ?`+s.d.ForUpdate(), id))
	if errors.Is(err, sql.ErrNoRows) {
		return e, s.notFound("execution", id)
	}
	return e, err
}

// splitExecution reads every task of e and splits them at step n
// (domain.SplitAtStep).
func (s *Store) splitExecution(t *txn, e domain.Execution, n int) (domain.StepSplit, error) {
	rows, err := t.query(`SELECT `+taskColumns+` FROM @tasks WHERE execution_id = ?`, e.ID)
	if err != nil {
		return domain.StepSplit{}, err
	}
	defer rows.Close()
	var tasks []domain.Task
	for rows.Next() {
		task, err := scanTask(rows)
		if err != nil {
			return domain.StepSplit{}, err
		}
		tasks = append(tasks, task)
	}
	if err := rows.Err(); err != nil {
		return domain.StepSplit{}, err
	}
	sp, err := domain.SplitAtStep(e.ID, e.RootTaskID, tasks, n)
	if err != nil {
		return sp, s.errorf("%w", err)
	}
	return sp, nil
}

// ForkExecution copies an execution up to a step into a new one, in one
// transaction (see ports.RepairStore).
func (s *Store) ForkExecution(ctx context.Context, p ports.ForkParams) (domain.Execution, error) {
	if err := s.valid(p.Validate()); err != nil {
		return domain.Execution{}, err
	}
	now := domain.NormalizeTime(p.Now)
	var (
		out      domain.Execution
		inserted int
	)
	err := s.write(ctx, "fork execution", func(t *txn) error {
		src, err := s.lockedExecution(t, p.SourceID)
		if err != nil {
			return err
		}
		sp, err := s.splitExecution(t, src, p.FromStep)
		if err != nil {
			return err
		}
		deadline := src.RepairDeadline(now)
		copies := domain.ForkSteps(sp.Keep, sp.Root.ID, p.NewID, p.NewRootID, deadline)

		e := src
		e.ID, e.RootTaskID = p.NewID, p.NewRootID
		if p.Input != nil {
			e.Input = p.Input
		}
		e.State, e.Result, e.Error, e.IdempotencyKey = domain.ExecutionPending, nil, nil, ""
		e.ScheduledFor, e.Deadline = nil, deadline
		e.CreatedAt, e.UpdatedAt, e.StartedAt, e.FinishedAt = now, now, nil, nil
		n, err := t.execN(`INSERT INTO @executions (`+executionInsertColumns+`) VALUES (`+executionInsertPlaceholders+`)
 ON CONFLICT DO NOTHING`, s.executionArgs(&e)...)
		if err != nil {
			return err
		}
		if n == 0 {
			return s.errorf("fork of %q: execution %q already exists: %w", src.ID, p.NewID, domain.ErrConflict)
		}
		if _, err := t.exec(`UPDATE @executions SET forked_from = ? WHERE id = ?`, src.ID, e.ID); err != nil {
			return err
		}

		root := sp.Root
		root.ID, root.ExecutionID, root.Input = e.RootTaskID, e.ID, e.Input
		root.Generation, root.CreatedAt, root.StartedAt = 0, now, nil
		if len(copies) > 0 { // the root has run: its first claim re-attaches to the copies
			root.CreatedAt, root.StartedAt = sp.Root.CreatedAt, sp.Root.StartedAt
			if root.StartedAt == nil {
				root.StartedAt = &now
			}
		}
		resetRootTask(&root, now, deadline)
		root.ScheduledFor = nil
		for i := range copies {
			copies[i].UpdatedAt = now
		}
		if err := s.insertTasks(t, append([]domain.Task{root}, copies...)); err != nil {
			if s.d.UniqueViolation(err) {
				return s.errorf("fork of %q: a task id of the fork is already used (root %q): %w", src.ID, root.ID, domain.ErrConflict)
			}
			return err
		}
		if err := s.forkMailbox(t, src.ID, e.ID, sp.Keep, copies); err != nil {
			return err
		}
		for _, table := range []string{"@execution_counters", "@execution_state"} {
			if _, err := t.exec(`INSERT INTO `+table+` (execution_id, key, value)
 SELECT ?, key, value FROM `+table+` WHERE execution_id = ?`, e.ID, src.ID); err != nil {
				return err
			}
		}
		inserted = 2 + len(copies)
		out, err = scanExecution(t.queryRow(`SELECT `+executionColumns+` FROM @executions WHERE id = ?`, e.ID))
		return err
	})
	if err != nil {
		return domain.Execution{}, err
	}
	s.noteInserted(inserted)
	return out, nil
}

// forkMailbox copies the source's messages to the fork: consumed by the
// copy of a kept step, or unconsumed.
func (s *Store) forkMailbox(t *txn, srcID, newID string, kept, copies []domain.Task) error {
	copied := make(map[string]string, len(kept))
	for i, k := range kept {
		copied[k.ID] = copies[i].ID
	}
	rows, err := t.query(`SELECT name, seq, payload, consumed_by, created_at, consumed_at FROM @signals
 WHERE execution_id = ? ORDER BY name, seq`, srcID)
	if err != nil {
		return err
	}
	var msgs []domain.Signal
	for rows.Next() {
		var (
			m                 domain.Signal
			pl                []byte
			by                sql.NullString
			created, consumed nullTime
		)
		if err := rows.Scan(&m.Name, &m.Seq, &pl, &by, &created, &consumed); err != nil {
			rows.Close()
			return err
		}
		m.Payload, m.CreatedAt = rawOrNil(pl), created.val()
		if id, ok := copied[by.String]; ok && by.Valid {
			m.ConsumedBy, m.ConsumedAt = id, consumed.ptr()
		}
		msgs = append(msgs, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range msgs {
		if _, err := t.exec(`INSERT INTO @signals (execution_id, name, seq, payload, consumed_by, created_at, consumed_at)
 VALUES (?, ?, ?, ?, ?, ?, ?)`, newID, m.Name, m.Seq, payload(m.Payload), stringOrNil(m.ConsumedBy),
			s.tm(m.CreatedAt), s.tmp(m.ConsumedAt)); err != nil {
			return err
		}
	}
	return nil
}

// ResetExecution re-runs an ended execution from a step, in one
// transaction (see ports.RepairStore).
func (s *Store) ResetExecution(ctx context.Context, p ports.ResetParams) (domain.Execution, error) {
	if err := s.valid(p.Validate()); err != nil {
		return domain.Execution{}, err
	}
	now := domain.NormalizeTime(p.Now)
	var out domain.Execution
	err := s.write(ctx, "reset execution", func(t *txn) error {
		e, err := s.lockedExecution(t, p.ID)
		if err != nil {
			return err
		}
		if err := domain.CheckResettable(e.ID, e.State); err != nil {
			return s.errorf("%w", err)
		}
		sp, err := s.splitExecution(t, e, p.FromStep)
		if err != nil {
			return err
		}
		dropped := make([]string, len(sp.Drop))
		for i, d := range sp.Drop {
			dropped[i] = d.ID
		}
		if len(dropped) > 0 {
			list := s.d.StringList(dropped)
			if _, err := t.exec(`UPDATE @signals SET consumed_by = NULL, consumed_at = NULL
 WHERE execution_id = ? AND `+s.d.InList("consumed_by"), e.ID, list); err != nil {
				return err
			}
			if _, err := t.exec(`DELETE FROM @dead_tasks WHERE `+s.d.InList("task_id"), list); err != nil {
				return err
			}
			if _, err := t.exec(`DELETE FROM @tasks WHERE `+s.d.InList("id"), list); err != nil {
				return err
			}
		}
		if _, err := t.exec(`DELETE FROM @dead_tasks WHERE task_id = ?`, e.RootTaskID); err != nil {
			return err
		}
		deadline := e.RepairDeadline(now)
		root := sp.Root
		resetRootTask(&root, now, deadline)
		if _, err := t.exec(`UPDATE @tasks SET state = ?, attempt = 0, recoveries = 0, result = NULL, error = NULL,
 last_error = NULL, `+leaseClear+`, wake_at = NULL, awaited = 0, idempotency_key = NULL, link_owner_id = NULL,
 scheduled_for = ?, deadline = ?, finished_at = NULL, updated_at = ? WHERE id = ?`,
			string(root.State), s.tm(now), s.tmp(deadline), s.tm(now), root.ID); err != nil {
			return err
		}
		out, err = scanExecution(t.queryRow(`UPDATE @executions SET `+to(domain.ExecReset)+`, result = NULL, error = NULL,
 finished_at = NULL, deadline = ?, updated_at = ? WHERE id = ? AND `+from("state", domain.ExecReset)+` RETURNING `+executionColumns,
			s.tmp(deadline), s.tm(now), e.ID))
		return err
	})
	if err != nil {
		return domain.Execution{}, err
	}
	return out, nil
}

// resetRootTask makes a root pending and due now for a fresh run (the
// fields memstore's resetRoot sets; the SQL reset writes them directly).
func resetRootTask(t *domain.Task, now time.Time, deadline *time.Time) {
	t.State = domain.TaskPending
	t.Attempt, t.Recoveries = 0, 0
	t.Result, t.Error, t.LastError = nil, nil, nil
	t.WorkerID, t.ClaimToken, t.LeaseExpiresAt = "", "", nil
	t.WakeAt, t.Awaited = nil, false
	t.IdempotencyKey, t.LinkOwnerID = "", ""
	t.ScheduledFor = &now
	t.Deadline = deadline
	t.FinishedAt = nil
	t.UpdatedAt = now
}
