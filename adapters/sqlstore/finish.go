package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

var completeCols = []Column{
	{"c_id", ColText}, {"c_worker", ColText}, {"c_token", ColText}, {"c_result", ColBytes}, {"c_now", ColTime},
}

// rootHasSteps is 1 for a root task with a child row (read through the
// parent-position index, which holds child rows only), else 0: the
// completion then cancels the execution's other live tasks.
const rootHasSteps = `CASE WHEN parent_task_id IS NULL AND kind = 'orchestrator' AND EXISTS
 (SELECT 1 FROM @tasks c WHERE c.parent_task_id = @tasks.id) THEN 1 ELSE 0 END`

// rootHasLiveTasks is rootHasSteps where one writer serialises all writes
// (SQLite): 1 only when the execution also has another live task. No
// other transaction can add one before the completion commits, so a root
// whose steps have all ended (the common end of a workflow) skips the
// cancelling UPDATE, which found nothing to cancel. Where writers run
// concurrently, a step's child committed after this read would be missed,
// so there the UPDATE always runs, reading after the execution row is
// locked.
var rootHasLiveTasks = `CASE WHEN parent_task_id IS NULL AND kind = 'orchestrator' AND EXISTS
 (SELECT 1 FROM @tasks c WHERE c.parent_task_id = @tasks.id) AND EXISTS
 (SELECT 1 FROM @tasks c WHERE c.execution_id = @tasks.execution_id AND c.id <> @tasks.id AND ` + inStates("c.state", liveTaskStates) + `)
 THEN 1 ELSE 0 END`

// rootCancels is the completion's rootHasSteps or rootHasLiveTasks.
func (s *Store) rootCancels() string {
	if s.d.SerialWrites() {
		return rootHasLiveTasks
	}
	return rootHasSteps
}

// completed is a task the batch completed, with what its side effects need.
type completed struct {
	item                      int
	id, executionID, parentID string
	kind                      domain.TaskKind
	cacheKey, idemKey         string
	awaited                   bool
	// hasSteps: a root task with at least one child row. Every other task
	// of an execution descends from its root, so a root without children
	// leaves no live task to cancel when it completes.
	hasSteps bool
}

// CompleteTasks applies a batch of completions in one transaction: one
// fenced UPDATE for the whole batch, then set-based statements for the
// cache entries, idempotency records, link completions, root executions and
// the cancellation of their other live tasks; data ops per item. Parked
// parents whose last awaited step the batch ended are woken (see
// wakeParents).
func (s *Store) CompleteTasks(ctx context.Context, ps []ports.CompleteParams) ([]ports.CompleteResult, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	for i := range ps {
		if err := s.valid(ps[i].Validate()); err != nil {
			return nil, err
		}
	}
	if len(ps) == 0 {
		return []ports.CompleteResult{}, nil
	}
	if len(ps) == 1 && ps[0].Lone && len(ps[0].Ops) == 0 && s.d.WritableCTEs() {
		done, err := s.completeLoneRoot(ctx, ps[0])
		if err != nil {
			return nil, err
		}
		if done {
			return []ports.CompleteResult{{}}, nil
		}
	}
	var out []ports.CompleteResult
	err := s.write(ctx, "complete tasks", func(t *txn) error {
		var err error
		out, err = s.completeTx(t, ps)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// completeLoneRootSQL completes a root task whose completion has no side
// effect but its execution's: no steps (so no leftover to cancel), no
// cache or idempotency key, no data ops. Both rows change in one
// statement, and it returns whether the task did. Anything else (a lost
// lease, a task that needs more) leaves both rows alone.
var completeLoneRootSQL = `WITH done AS (UPDATE @tasks SET ` + to(domain.TaskComplete) + `, result = ?, finished_at = ?, updated_at = ?, ` + leaseClear + `
 WHERE id = ? AND ` + from("state", domain.TaskComplete) + ` AND worker_id = ? AND claim_token = ?
 AND parent_task_id IS NULL AND kind = 'orchestrator' AND COALESCE(cache_key, '') = '' AND COALESCE(idempotency_key, '') = ''
 AND NOT EXISTS (SELECT 1 FROM @tasks c WHERE c.parent_task_id = ?)
 RETURNING execution_id, result, finished_at),
 ended AS (UPDATE @executions AS x SET ` + to(domain.ExecComplete) + `, result = done.result, finished_at = done.finished_at,
 updated_at = done.finished_at FROM done WHERE x.id = done.execution_id AND ` + from("x.state", domain.ExecComplete) + ` RETURNING x.id)
 SELECT COUNT(*) FROM done`

// completeLoneRoot is the completion of one root task on its own, the
// common end of a single-step execution (a job), as one statement outside
// a transaction: one round trip instead of four. done is false when the
// task was not completed by it (the transactional path then decides:
// lease lost, or a completion with more to write).
func (s *Store) completeLoneRoot(ctx context.Context, p ports.CompleteParams) (done bool, err error) {
	const op = "complete tasks"
	if err := s.writable(op); err != nil {
		return false, err
	}
	now := s.tm(domain.NormalizeTime(p.Now))
	var n int64
	err = s.retrying(ctx, func() error {
		return s.w.QueryRowContext(ctx, s.q(completeLoneRootSQL), payloadBytes(p.Result), now, now,
			p.Fence.TaskID, p.Fence.WorkerID, p.Fence.Token, p.Fence.TaskID).Scan(&n)
	})
	if err != nil {
		return false, s.wrap(err, op)
	}
	if n > 0 {
		s.wrote()
	}
	return n == 1, nil
}

func (s *Store) completeTx(t *txn, ps []ports.CompleteParams) ([]ports.CompleteResult, error) {
	out := make([]ports.CompleteResult, len(ps))
	rowsIn := make([][]any, 0, len(ps))
	first := make(map[string]int, len(ps)) // task id -> item; later duplicates lose
	for i, p := range ps {
		if _, dup := first[p.Fence.TaskID]; dup {
			out[i].Err = s.errLeaseLost(p.Fence)
			continue
		}
		first[p.Fence.TaskID] = i
		rowsIn = append(rowsIn, []any{p.Fence.TaskID, p.Fence.WorkerID, p.Fence.Token,
			payloadBytes(p.Result), domain.NormalizeTime(p.Now)})
	}
	rows, err := t.query(`UPDATE @tasks SET `+to(domain.TaskComplete)+`, result = f.c_result, finished_at = f.c_now,
 updated_at = f.c_now, `+leaseClear+` FROM `+s.d.RowSet("f", completeCols)+`
 WHERE id = f.c_id AND `+from(s.d.Unindexed("state"), domain.TaskComplete)+` AND worker_id = f.c_worker AND claim_token = f.c_token
 RETURNING id, execution_id, parent_task_id, kind, cache_key, idempotency_key, awaited, `+s.rootCancels(), s.d.RowSetArgs(completeCols, rowsIn)...)
	if err != nil {
		return nil, err
	}
	var done []completed
	for rows.Next() {
		var (
			c                         completed
			parent, cacheKey, idemKey sql.NullString
			kind                      string
			awaited, hasSteps         int64
		)
		if err := rows.Scan(&c.id, &c.executionID, &parent, &kind, &cacheKey, &idemKey, &awaited, &hasSteps); err != nil {
			rows.Close()
			return nil, err
		}
		c.parentID, c.kind, c.cacheKey, c.idemKey = parent.String, domain.TaskKind(kind), cacheKey.String, idemKey.String
		c.awaited, c.hasSteps = awaited == 1, hasSteps == 1
		c.item = first[c.id]
		done = append(done, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	ok := make(map[int]bool, len(done))
	for _, c := range done {
		ok[c.item] = true
	}
	for i, p := range ps {
		if out[i].Err == nil && !ok[i] {
			out[i].Err = s.errLeaseLost(p.Fence)
		}
	}
	if len(done) == 0 {
		return out, nil
	}
	sort.Slice(done, func(i, j int) bool { return done[i].item < done[j].item })
	for _, c := range done {
		if ops := ps[c.item].Ops; len(ops) > 0 {
			if err := s.applyOps(t, c.executionID, ops); err != nil {
				return nil, err
			}
		}
	}
	if err := s.completeEffects(t, ps, done, out); err != nil {
		return nil, err
	}
	return out, nil
}

var (
	cacheCols = []Column{{"k_key", ColText}, {"k_value", ColBytes}, {"k_expires", ColTime}, {"k_now", ColTime}}
	idemCols  = []Column{{"k_key", ColText}, {"k_value", ColBytes}, {"k_now", ColTime}}
	ownerCols = []Column{{"o_id", ColText}, {"o_result", ColBytes}, {"o_now", ColTime}}
)

// completeEffects writes what the completed tasks cause: cache entries,
// idempotency records and link completions, the wake-up of parked parents
// (reported in out), and for roots the execution's completion and the
// cancellation of its other live tasks.
func (s *Store) completeEffects(t *txn, ps []ports.CompleteParams, done []completed, out []ports.CompleteResult) error {
	var cacheRows, idemRows, ownerRows, rootRows [][]any
	withSteps := map[string]bool{} // executions whose root has children
	cacheSeen, idemSeen := map[string]int{}, map[string]int{}
	var stepsEnded []endedStep // awaited steps the batch ended
	for _, c := range done {
		p := ps[c.item]
		res, now := payloadBytes(p.Result), domain.NormalizeTime(p.Now)
		if c.awaited && c.parentID != "" {
			stepsEnded = append(stepsEnded, endedStep{parentID: c.parentID, item: c.item, now: now})
		}
		if c.cacheKey != "" {
			var exp any
			if p.CacheExpiresAt != nil {
				exp = domain.NormalizeTime(*p.CacheExpiresAt)
			}
			row := []any{c.cacheKey, res, exp, now}
			if j, seen := cacheSeen[c.cacheKey]; seen {
				cacheRows[j] = row // one upsert per key and statement
			} else {
				cacheSeen[c.cacheKey] = len(cacheRows)
				cacheRows = append(cacheRows, row)
			}
		}
		if c.idemKey != "" && c.kind != domain.KindLink {
			row := []any{c.idemKey, res, now}
			if j, seen := idemSeen[c.idemKey]; seen {
				idemRows[j] = row
			} else {
				idemSeen[c.idemKey] = len(idemRows)
				idemRows = append(idemRows, row)
			}
			ownerRows = append(ownerRows, []any{c.id, res, now})
		}
		if c.kind == domain.KindOrchestrator && c.parentID == "" {
			rootRows = append(rootRows, []any{c.executionID, res, now})
			if c.hasSteps {
				withSteps[c.executionID] = true
			}
		}
	}
	if len(cacheRows) > 0 {
		if _, err := t.exec(`INSERT INTO @cache (key, value, expires_at, created_at)
 SELECT f.k_key, f.k_value, f.k_expires, f.k_now FROM `+s.d.RowSet("f", cacheCols)+` WHERE true
 ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, created_at = excluded.created_at`,
			s.d.RowSetArgs(cacheCols, cacheRows)...); err != nil {
			return err
		}
	}
	if len(idemRows) > 0 {
		if _, err := t.exec(`INSERT INTO @idempotency (key, value, created_at)
 SELECT f.k_key, f.k_value, f.k_now FROM `+s.d.RowSet("f", idemCols)+` WHERE true
 ON CONFLICT (key) DO UPDATE SET value = excluded.value, created_at = excluded.created_at`,
			s.d.RowSetArgs(idemCols, idemRows)...); err != nil {
			return err
		}
	}
	if len(ownerRows) > 0 {
		item := make(map[string]int, len(ownerRows))
		for _, c := range done {
			item[c.id] = c.item
		}
		links, err := s.endedAwaited(t.query(`UPDATE @tasks SET `+to(domain.TaskResolve)+`, result = f.o_result, finished_at = f.o_now, updated_at = f.o_now
 FROM `+s.d.RowSet("f", ownerCols)+` WHERE link_owner_id = f.o_id AND `+from(s.d.Unindexed("state"), domain.TaskResolve)+`
 RETURNING link_owner_id, parent_task_id, awaited`, s.d.RowSetArgs(ownerCols, ownerRows)...))
		if err != nil {
			return err
		}
		for _, l := range links {
			l.item = item[l.ownerID]
			l.now = domain.NormalizeTime(ps[l.item].Now)
			stepsEnded = append(stepsEnded, l)
		}
	}
	if len(stepsEnded) > 0 {
		woken, err := s.wakeParents(t, stepsEnded)
		if err != nil {
			return err
		}
		for _, w := range woken {
			out[w.item].Woken = append(out[w.item].Woken, w.task)
		}
	}
	if len(rootRows) == 0 {
		return nil
	}
	rows, err := t.query(`UPDATE @executions SET `+to(domain.ExecComplete)+`, result = f.o_result, finished_at = f.o_now,
 updated_at = f.o_now FROM `+s.d.RowSet("f", ownerCols)+` WHERE id = f.o_id AND `+from(s.d.Unindexed("state"), domain.ExecComplete)+`
 RETURNING id, finished_at`, s.d.RowSetArgs(ownerCols, rootRows)...)
	if err != nil {
		return err
	}
	var ended [][]any
	for rows.Next() {
		var id string
		var at nullTime
		if err := rows.Scan(&id, &at); err != nil {
			rows.Close()
			return err
		}
		if withSteps[id] {
			ended = append(ended, []any{id, at.val()})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	return s.cancelLiveTasksAt(t, ended)
}

// FailTask fails a claimed task terminally (see ports.FailParams).
func (s *Store) FailTask(ctx context.Context, p ports.FailParams) error {
	if err := s.valid(p.Validate()); err != nil {
		return err
	}
	now := domain.NormalizeTime(p.Now)
	return s.write(ctx, "fail task", func(t *txn) error {
		errText := mustJSONText(p.Error)
		task, err := scanTask(t.queryRow(`UPDATE @tasks SET `+to(domain.TaskFail)+`, error = ?, finished_at = ?, updated_at = ?,
 idempotency_key = NULL, `+leaseClear+` WHERE `+fencedCond(domain.TaskFail)+` RETURNING `+taskColumns,
			append([]any{errText, s.tm(now), s.tm(now)}, fenceArgs(p.Fence)...)...))
		if errors.Is(err, sql.ErrNoRows) {
			return s.errLeaseLost(p.Fence)
		}
		if err != nil {
			return err
		}
		if err := s.putDeadLetter(t, task, p.Reason, p.Error, now); err != nil {
			return err
		}
		var ended []endedStep
		if task.Awaited && task.ParentTaskID != "" {
			ended = append(ended, endedStep{parentID: task.ParentTaskID, now: now})
		}
		if task.Kind != domain.KindLink {
			links, err := s.endedAwaited(t.query(`UPDATE @tasks SET `+to(domain.TaskFailLink)+`, error = ?, finished_at = ?, updated_at = ?
 WHERE link_owner_id = ? AND `+from("state", domain.TaskFailLink)+` RETURNING link_owner_id, parent_task_id, awaited`,
				errText, s.tm(now), s.tm(now), task.ID))
			if err != nil {
				return err
			}
			for _, l := range links {
				l.now = now
				ended = append(ended, l)
			}
		}
		if _, err := s.wakeParents(t, ended); err != nil {
			return err
		}
		if !task.IsRoot() {
			return nil
		}
		n, err := t.execN(`UPDATE @executions SET `+to(domain.ExecFail)+`, error = ?, finished_at = ?, updated_at = ?
 WHERE id = ? AND `+from("state", domain.ExecFail), errText, s.tm(now), s.tm(now), task.ExecutionID)
		if err != nil || n == 0 {
			return err
		}
		return s.cancelLiveTasks(t, []string{task.ExecutionID}, now)
	})
}

// snapshotJSON stores a task snapshot with its payloads as strings, so they
// come back byte for byte (json.Marshal would compact a RawMessage).
type snapshotJSON struct {
	domain.Task
	Input  *string `json:"input,omitempty"`
	Result *string `json:"result,omitempty"`
}

func encodeSnapshot(t domain.Task) (string, error) {
	snap := snapshotJSON{Task: t}
	if len(t.Input) > 0 {
		in := string(t.Input)
		snap.Input = &in
	}
	if len(t.Result) > 0 {
		r := string(t.Result)
		snap.Result = &r
	}
	b, err := json.Marshal(snap)
	if err != nil {
		return "", fmt.Errorf("encode dead-letter snapshot of %q: %w", t.ID, err)
	}
	return string(b), nil
}

func decodeSnapshot(b []byte) (domain.Task, error) {
	var snap snapshotJSON
	if err := json.Unmarshal(b, &snap); err != nil {
		return domain.Task{}, fmt.Errorf("decode dead-letter snapshot: %w", err)
	}
	t := snap.Task
	t.Input, t.Result = nil, nil
	if snap.Input != nil {
		t.Input = json.RawMessage(*snap.Input)
	}
	if snap.Result != nil {
		t.Result = json.RawMessage(*snap.Result)
	}
	normalizeTask(&t)
	return t, nil
}

// putDeadLetter writes (or replaces) the dead letter of a failed task.
func (s *Store) putDeadLetter(t *txn, task domain.Task, reason string, cause *domain.TaskError, now time.Time) error {
	snap, err := encodeSnapshot(task)
	if err != nil {
		return err
	}
	code := ""
	if cause != nil {
		code = cause.Code
	}
	_, err = t.exec(`INSERT INTO @dead_tasks (task_id, execution_id, step_name, kind, queue, reason, code, error, snapshot, moved_at)
 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
 ON CONFLICT (task_id) DO UPDATE SET execution_id = excluded.execution_id, step_name = excluded.step_name,
 kind = excluded.kind, queue = excluded.queue, reason = excluded.reason, code = excluded.code, error = excluded.error,
 snapshot = excluded.snapshot, moved_at = excluded.moved_at`,
		task.ID, task.ExecutionID, task.StepName, string(task.Kind), task.Queue, reason, code, mustJSONText(cause), snap, s.tm(now))
	return err
}

// RetryTask puts a claimed task back to pending for another attempt.
func (s *Store) RetryTask(ctx context.Context, p ports.RetryParams) error {
	if err := s.valid(p.Validate()); err != nil {
		return err
	}
	return s.write(ctx, "retry task", func(t *txn) error {
		n, err := t.execN(`UPDATE @tasks SET `+to(domain.TaskRetry)+`, scheduled_for = ?, `+leaseClear+`,
 generation = generation + 1, last_error = ?, updated_at = ? WHERE `+fencedCond(domain.TaskRetry),
			append([]any{s.tm(p.RunAt), mustJSONText(p.Error), s.tm(p.Now)}, fenceArgs(p.Fence)...)...)
		if err != nil {
			return err
		}
		if n == 0 {
			return s.errLeaseLost(p.Fence)
		}
		return nil
	})
}

// ReleaseTask gives a claimed task back: pending, due now, lease cleared,
// attempt - 1 when restoreAttempt.
func (s *Store) ReleaseTask(ctx context.Context, fence domain.Fence, now time.Time, restoreAttempt bool) error {
	if err := s.valid(ports.ValidateFence(fence)); err != nil {
		return err
	}
	dec := int64(0)
	if restoreAttempt {
		dec = 1
	}
	return s.write(ctx, "release task", func(t *txn) error {
		n, err := t.execN(`UPDATE @tasks SET `+to(domain.TaskRelease)+`, scheduled_for = ?, `+leaseClear+`,
 attempt = CASE WHEN attempt >= ? THEN attempt - ? ELSE 0 END, updated_at = ? WHERE `+fencedCond(domain.TaskRelease),
			append([]any{s.tm(now), dec, dec, s.tm(now)}, fenceArgs(fence)...)...)
		if err != nil {
			return err
		}
		if n == 0 {
			return s.errLeaseLost(fence)
		}
		return nil
	})
}
