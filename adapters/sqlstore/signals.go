package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// SendSignal appends a message to the execution's mailbox for name and
// hands the oldest unconsumed message to the oldest pending signal step.
func (s *Store) SendSignal(ctx context.Context, executionID, name string, payloadRaw json.RawMessage, now time.Time) (*domain.Task, error) {
	if err := s.valid(ports.ValidateSignalPayload(executionID, name, payloadRaw)); err != nil {
		return nil, err
	}
	now = domain.NormalizeTime(now)
	var out *domain.Task
	err := s.write(ctx, "send signal", func(t *txn) error {
		out = nil
		var state string
		err := t.queryRow(`SELECT state FROM @executions WHERE id = ?`+s.d.ForUpdate(), executionID).Scan(&state)
		if errors.Is(err, sql.ErrNoRows) {
			return s.notFound("execution", executionID)
		}
		if err != nil {
			return err
		}
		if domain.ExecutionState(state).Terminal() {
			return s.errorf("send signal %q to execution %q (%s): %w", name, executionID, state, domain.ErrExecutionFinished)
		}
		if _, err := t.exec(`INSERT INTO @signals (execution_id, name, seq, payload, created_at)
 SELECT ?, ?, COALESCE(MAX(seq), 0) + 1, ?, ? FROM @signals WHERE execution_id = ? AND name = ?`,
			executionID, name, payload(payloadRaw), s.tm(now), executionID, name); err != nil {
			return err
		}
		var stepID string
		err = t.queryRow(`SELECT id FROM @tasks WHERE execution_id = ? AND step_name = ? AND kind = 'signal' AND `+from("state", domain.TaskResolve)+`
 ORDER BY created_at, id LIMIT 1`, executionID, domain.SignalStepName(name)).Scan(&stepID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		locked := true
		msg, ok, err := s.takeSignal(t, executionID, name, stepID, &locked, now)
		if err != nil || !ok {
			return err
		}
		task, err := scanTask(t.queryRow(`UPDATE @tasks SET `+to(domain.TaskResolve)+`, result = ?, finished_at = ?, updated_at = ?
 WHERE id = ? RETURNING `+taskColumns, payload(msg), s.tm(now), s.tm(now), stepID))
		if err != nil {
			return err
		}
		out = &task
		if task.Awaited && task.ParentTaskID != "" {
			_, err = s.wakeParents(t, []endedStep{{parentID: task.ParentTaskID, now: now}})
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DiscardSignal deletes the pending message seq of the execution's mailbox
// for name in one transaction (see ports.SignalStore).
func (s *Store) DiscardSignal(ctx context.Context, executionID, name string, seq int64) (domain.Signal, error) {
	if err := s.valid(ports.ValidateSignalSeq(executionID, name, seq)); err != nil {
		return domain.Signal{}, err
	}
	var out domain.Signal
	err := s.write(ctx, "discard signal", func(t *txn) error {
		out = domain.Signal{}
		var state string
		err := t.queryRow(`SELECT state FROM @executions WHERE id = ?`+s.d.ForUpdate(), executionID).Scan(&state)
		if errors.Is(err, sql.ErrNoRows) {
			return s.notFound("execution", executionID)
		}
		if err != nil {
			return err
		}
		var (
			pl                []byte
			consumedBy        sql.NullString
			created, consumed nullTime
		)
		err = t.queryRow(`SELECT payload, consumed_by, created_at, consumed_at FROM @signals
 WHERE execution_id = ? AND name = ? AND seq = ?`+s.d.ForUpdate(), executionID, name, seq).Scan(&pl, &consumedBy, &created, &consumed)
		if errors.Is(err, sql.ErrNoRows) {
			return s.errorf("signal %q #%d of execution %q: %w", name, seq, executionID, domain.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if consumedBy.Valid {
			return s.errorf("signal %q #%d of execution %q was consumed by step %s and cannot be discarded: %w",
				name, seq, executionID, consumedBy.String, domain.ErrConflict)
		}
		if _, err := t.exec(`DELETE FROM @signals WHERE execution_id = ? AND name = ? AND seq = ? AND consumed_by IS NULL`,
			executionID, name, seq); err != nil {
			return err
		}
		out = domain.Signal{ExecutionID: executionID, Name: name, Seq: seq, Payload: rawOrNil(pl), CreatedAt: created.val(), ConsumedAt: consumed.ptr()}
		return nil
	})
	if err != nil {
		return domain.Signal{}, err
	}
	return out, nil
}

// ListSignals returns the execution's messages ordered by name, seq.
func (s *Store) ListSignals(ctx context.Context, executionID string) ([]domain.Signal, error) {
	if err := s.valid(ports.ValidateID("execution id", executionID)); err != nil {
		return nil, err
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	rows, err := s.queryRows(ctx, `SELECT execution_id, name, seq, payload, consumed_by, created_at, consumed_at
 FROM @signals WHERE execution_id = ? ORDER BY name, seq`, executionID)
	if err != nil {
		return nil, s.wrap(err, "list signals")
	}
	defer rows.Close()
	var out []domain.Signal
	for rows.Next() {
		var (
			sg                domain.Signal
			pl                []byte
			consumedBy        sql.NullString
			created, consumed nullTime
		)
		if err := rows.Scan(&sg.ExecutionID, &sg.Name, &sg.Seq, &pl, &consumedBy, &created, &consumed); err != nil {
			return nil, s.wrap(err, "list signals")
		}
		sg.Payload, sg.ConsumedBy, sg.CreatedAt, sg.ConsumedAt = rawOrNil(pl), consumedBy.String, created.val(), consumed.ptr()
		out = append(out, sg)
	}
	return out, s.wrap(rows.Err(), "list signals")
}

// GetCacheEntries returns the unexpired cached results of the keys.
func (s *Store) GetCacheEntries(ctx context.Context, keys []string, now time.Time) (map[string]json.RawMessage, error) {
	if err := s.valid(ports.ValidateKeys("cache key", keys)); err != nil {
		return nil, err
	}
	return s.keyValues(ctx, "get cache entries", `SELECT key, value FROM @cache WHERE `+s.d.InList("key")+`
 AND (expires_at IS NULL OR expires_at > ?)`, keys, s.tm(now))
}

// GetIdempotencyRecords returns the recorded results of the keys.
func (s *Store) GetIdempotencyRecords(ctx context.Context, keys []string) (map[string]json.RawMessage, error) {
	if err := s.valid(ports.ValidateKeys("idempotency key", keys)); err != nil {
		return nil, err
	}
	return s.keyValues(ctx, "get idempotency records", `SELECT key, value FROM @idempotency WHERE `+s.d.InList("key"), keys)
}

func (s *Store) keyValues(ctx context.Context, op, query string, keys []string, extra ...any) (map[string]json.RawMessage, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	out := map[string]json.RawMessage{}
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := s.queryRows(ctx, query, append([]any{s.d.StringList(keys)}, extra...)...)
	if err != nil {
		return nil, s.wrap(err, op)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return nil, s.wrap(err, op)
		}
		out[k] = rawOrNil(v)
	}
	return out, s.wrap(rows.Err(), op)
}
