package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// CountExecutionsByState returns the number of executions per state.
func (s *Store) CountExecutionsByState(ctx context.Context) (map[domain.ExecutionState]int64, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	rows, err := s.queryRows(ctx, `SELECT state, COUNT(*) FROM @executions GROUP BY state`)
	if err != nil {
		return nil, s.wrap(err, "count executions")
	}
	defer rows.Close()
	out := map[domain.ExecutionState]int64{}
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, s.wrap(err, "count executions")
		}
		out[domain.ExecutionState(st)] = n
	}
	return out, s.wrap(rows.Err(), "count executions")
}

// CountTasks returns task counts grouped by (state, queue, kind).
func (s *Store) CountTasks(ctx context.Context) ([]ports.TaskCount, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	rows, err := s.queryRows(ctx, `SELECT state, queue, kind, COUNT(*) FROM @tasks GROUP BY state, queue, kind`)
	if err != nil {
		return nil, s.wrap(err, "count tasks")
	}
	defer rows.Close()
	var out []ports.TaskCount
	for rows.Next() {
		var c ports.TaskCount
		var st, kind string
		if err := rows.Scan(&st, &c.Queue, &kind, &c.N); err != nil {
			return nil, s.wrap(err, "count tasks")
		}
		c.State, c.Kind = domain.TaskState(st), domain.TaskKind(kind)
		out = append(out, c)
	}
	return out, s.wrap(rows.Err(), "count tasks")
}

// CountDeadLetters returns the number of dead letters.
func (s *Store) CountDeadLetters(ctx context.Context) (int64, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	var n int64
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM @dead_tasks`).Scan(&n); err != nil {
		return 0, s.wrap(err, "count dead letters")
	}
	return n, nil
}

// ListFinished returns terminal executions finished in [f.Since, f.Until),
// most recently finished first, from the executions_finished index.
func (s *Store) ListFinished(ctx context.Context, f ports.FinishedFilter) ([]ports.FinishedExecution, error) {
	if err := s.valid(f.Validate()); err != nil {
		return nil, err
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	var terminal []string
	for _, st := range domain.ExecutionStates {
		if st.Terminal() {
			terminal = append(terminal, string(st))
		}
	}
	where := []string{"finished_at IS NOT NULL", "finished_at >= ?", s.d.InList("state")}
	args := []any{s.tm(f.Since), s.d.StringList(terminal)}
	if !f.Until.IsZero() {
		where = append(where, "finished_at < ?")
		args = append(args, s.tm(f.Until))
	}
	args = append(args, int64(ports.PageLimit(f.Limit)))
	rows, err := s.queryRows(ctx, `SELECT id, state, queue, created_at, finished_at FROM @executions`+
		whereClause(where)+` ORDER BY finished_at DESC, id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, s.wrap(err, "list finished")
	}
	defer rows.Close()
	var out []ports.FinishedExecution
	for rows.Next() {
		var (
			e                 ports.FinishedExecution
			st                string
			created, finished nullTime
		)
		if err := rows.Scan(&e.ID, &st, &e.Queue, &created, &finished); err != nil {
			return nil, s.wrap(err, "list finished")
		}
		e.State, e.CreatedAt, e.FinishedAt = domain.ExecutionState(st), created.val(), finished.val()
		out = append(out, e)
	}
	return out, s.wrap(rows.Err(), "list finished")
}

// errDryRun rolls back a dry-run Cleanup after counting.
var errDryRun = errors.New("sqlstore: dry run")

// Cleanup deletes old terminal executions with all their rows, old dead
// letters, expired cache entries, consumed or orphaned signals and the
// registry rows of workers that stopped or died long ago. A dry
// run performs the same deletes in a transaction it rolls back, so its
// counts are exactly what a real run would remove.
func (s *Store) Cleanup(ctx context.Context, p ports.CleanupParams) (ports.CleanupResult, error) {
	var res ports.CleanupResult
	err := s.write(ctx, "cleanup", func(t *txn) error {
		res = ports.CleanupResult{}
		if err := s.cleanupTx(t, p, &res); err != nil {
			return err
		}
		if p.DryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	if err != nil {
		return ports.CleanupResult{}, err
	}
	return res, nil
}

func (s *Store) cleanupTx(t *txn, p ports.CleanupParams, res *ports.CleanupResult) error {
	if !p.ExecutionsBefore.IsZero() {
		old := `SELECT id FROM @executions WHERE ` + inStates("state", terminalExecutionStates) + `
 AND finished_at IS NOT NULL AND finished_at < ?`
		before := s.tm(p.ExecutionsBefore)
		for _, step := range []struct {
			query string
			count *int64
		}{
			{`DELETE FROM @dead_tasks WHERE execution_id IN (` + old + `)`, &res.DeadLetters},
			{`DELETE FROM @signals WHERE execution_id IN (` + old + `)`, &res.Signals},
			{`DELETE FROM @execution_counters WHERE execution_id IN (` + old + `)`, nil},
			{`DELETE FROM @execution_state WHERE execution_id IN (` + old + `)`, nil},
			{`DELETE FROM @tasks WHERE execution_id IN (` + old + `)`, &res.Tasks},
			{`DELETE FROM @executions WHERE id IN (` + old + `)`, &res.Executions},
		} {
			n, err := t.execN(step.query, before)
			if err != nil {
				return err
			}
			if step.count != nil {
				*step.count += n
			}
		}
	}
	if !p.DeadLettersBefore.IsZero() {
		n, err := t.execN(`DELETE FROM @dead_tasks WHERE moved_at < ?`, s.tm(p.DeadLettersBefore))
		if err != nil {
			return err
		}
		res.DeadLetters += n
	}
	if !p.SignalsBefore.IsZero() {
		n, err := t.execN(`DELETE FROM @signals AS sg WHERE sg.created_at < ? AND (sg.consumed_by IS NOT NULL
 OR NOT EXISTS (SELECT 1 FROM @executions e WHERE e.id = sg.execution_id))`, s.tm(p.SignalsBefore))
		if err != nil {
			return err
		}
		res.Signals += n
	}
	if !p.Now.IsZero() {
		n, err := t.execN(`DELETE FROM @cache WHERE expires_at IS NOT NULL AND expires_at <= ?`, s.tm(p.Now))
		if err != nil {
			return err
		}
		res.CacheEntries += n
	}
	if !p.WorkersBefore.IsZero() {
		n, err := s.deleteOldWorkers(t, p.WorkersBefore)
		if err != nil {
			return err
		}
		res.Workers += n
	}
	return nil
}

// functionOptions is the stored options column of a catalogue entry.
type functionOptions struct {
	Queue         string             `json:"queue"`
	Tags          []string           `json:"tags,omitempty"`
	Priority      int                `json:"priority"`
	MaxConcurrent int                `json:"max_concurrent"`
	RetryPolicy   domain.RetryPolicy `json:"retry_policy"`
	Idempotent    bool               `json:"idempotent,omitempty"`
	Cached        bool               `json:"cached,omitempty"`
}

// UpsertFunctions records catalogue entries (insert or replace by name).
func (s *Store) UpsertFunctions(ctx context.Context, fns []domain.FunctionInfo, now time.Time) error {
	if err := s.valid(ports.ValidateFunctions(fns)); err != nil {
		return err
	}
	if len(fns) == 0 {
		return s.check()
	}
	return s.write(ctx, "upsert functions", func(t *txn) error {
		for _, f := range fns {
			opts, err := json.Marshal(functionOptions{
				Queue: f.Queue, Tags: f.Tags, Priority: f.Priority, MaxConcurrent: f.MaxConcurrent,
				RetryPolicy: f.RetryPolicy, Idempotent: f.Idempotent, Cached: f.Cached,
			})
			if err != nil {
				return fmt.Errorf("encode function %q: %w", f.Name, err)
			}
			if _, err := t.exec(`INSERT INTO @functions (name, options, version, last_seen_at) VALUES (?, ?, ?, ?)
 ON CONFLICT (name) DO UPDATE SET options = excluded.options, version = excluded.version, last_seen_at = excluded.last_seen_at`,
				f.Name, string(opts), f.Version, s.tm(now)); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListFunctions returns the catalogue ordered by name.
func (s *Store) ListFunctions(ctx context.Context) ([]domain.FunctionInfo, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	rows, err := s.queryRows(ctx, `SELECT name, options, version, last_seen_at FROM @functions ORDER BY name`)
	if err != nil {
		return nil, s.wrap(err, "list functions")
	}
	defer rows.Close()
	var out []domain.FunctionInfo
	for rows.Next() {
		var (
			f    domain.FunctionInfo
			opts []byte
			seen nullTime
		)
		if err := rows.Scan(&f.Name, &opts, &f.Version, &seen); err != nil {
			return nil, s.wrap(err, "list functions")
		}
		var o functionOptions
		if err := json.Unmarshal(opts, &o); err != nil {
			return nil, s.errorf("list functions: decode %q: %w", f.Name, err)
		}
		f.Queue, f.Tags, f.Priority, f.MaxConcurrent = o.Queue, o.Tags, o.Priority, o.MaxConcurrent
		f.RetryPolicy, f.Idempotent, f.Cached, f.LastSeenAt = o.RetryPolicy, o.Idempotent, o.Cached, seen.val()
		if len(f.Tags) == 0 {
			f.Tags = nil
		} else {
			f.Tags = slices.Clip(f.Tags)
		}
		out = append(out, f)
	}
	return out, s.wrap(rows.Err(), "list functions")
}
