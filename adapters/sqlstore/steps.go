package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// parentRow is what step writes need of the fenced parent.
type parentRow struct {
	id          string
	executionID string
	generation  int
	deadline    *time.Time
}

// lockParent checks the parent's fence and locks its row; ErrLeaseLost
// when it does not match a running claim.
func (s *Store) lockParent(t *txn, f domain.Fence) (parentRow, error) {
	p := parentRow{id: f.TaskID}
	var gen int64
	var deadline nullTime
	err := t.queryRow(`SELECT execution_id, generation, deadline FROM @tasks
 WHERE id = ? AND state = 'running' AND worker_id = ? AND claim_token = ?`+s.d.ForUpdate(),
		f.TaskID, f.WorkerID, f.Token).Scan(&p.executionID, &gen, &deadline)
	if errors.Is(err, sql.ErrNoRows) {
		return p, s.errLeaseLost(f)
	}
	p.generation, p.deadline = int(gen), deadline.ptr()
	return p, err
}

// CreateStepsBatch makes sure a record exists for every spec of every
// request, each fenced on its parent, in one transaction (see
// ports.StepStore).
func (s *Store) CreateStepsBatch(ctx context.Context, reqs []ports.CreateStepsRequest) ([]ports.CreateStepsResult, error) {
	for i := range reqs {
		if err := s.valid(reqs[i].Validate()); err != nil {
			return nil, err
		}
	}
	var (
		out      []ports.CreateStepsResult
		inserted int
	)
	err := s.write(ctx, "create steps", func(t *txn) error {
		var err error
		out, inserted, err = s.createStepsBatchTx(t, reqs)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.noteInserted(inserted)
	return out, nil
}

func (s *Store) createStepsTx(t *txn, f domain.Fence, specs []ports.StepSpec, ops []domain.DataOp, now time.Time) ([]domain.Task, int, error) {
	p, err := s.lockParent(t, f)
	if err != nil {
		return nil, 0, err
	}
	ids := make([]string, len(specs))
	for i := range specs {
		ids[i] = specs[i].ID
	}
	existing, err := s.tasksByID(t, ids)
	if err != nil {
		return nil, 0, err
	}
	for _, ex := range existing {
		if ex.ExecutionID != p.executionID || ex.ParentTaskID != p.id {
			return nil, 0, s.errorf("create steps: step %q exists under execution %q, parent %q, not under task %q: %w",
				ex.ID, ex.ExecutionID, ex.ParentTaskID, p.id, domain.ErrConflict)
		}
	}
	var fresh []*ports.StepSpec
	for i := range specs {
		if _, ok := existing[specs[i].ID]; !ok {
			fresh = append(fresh, &specs[i])
		}
	}
	keys, err := s.prefetchKeys(t, fresh, now)
	if err != nil {
		return nil, 0, err
	}
	out := make([]domain.Task, len(specs))
	execLocked := false
	var inserts []domain.Task
	for i := range specs {
		sp := &specs[i]
		if ex, ok := existing[sp.ID]; ok {
			if ex.Kind == domain.KindSignal && domain.TaskResolve.Allows(ex.State) {
				if ex, err = s.deliverToExisting(t, ex, &execLocked, now); err != nil {
					return nil, 0, err
				}
				existing[sp.ID] = ex
			}
			out[i] = ex
			continue
		}
		task := newStep(p, sp, now)
		switch sp.Kind {
		case domain.KindActivity:
			if err := s.resolveActivity(t, &task, sp, keys, now); err != nil {
				return nil, 0, err
			}
		case domain.KindSignal:
			msg, ok, err := s.takeSignal(t, p.executionID, strings.TrimPrefix(sp.StepName, "signal:"), sp.ID, &execLocked, now)
			if err != nil {
				return nil, 0, err
			}
			if ok {
				task.State, task.Result, task.FinishedAt = domain.TaskCompleted, msg, &now
			}
		}
		existing[sp.ID] = task
		out[i] = task
		inserts = append(inserts, task)
	}
	if len(inserts) == 0 {
		return out, 0, nil
	}
	if err := s.insertTasks(t, inserts); err != nil {
		return nil, 0, err
	}
	if err := s.applyOps(t, p.executionID, ops); err != nil {
		return nil, 0, err
	}
	return out, len(inserts), nil
}

// keyState is what CreateSteps knows of the cache and idempotency keys of
// the steps it inserts, read in three statements up front.
type keyState struct {
	cache   map[string][]byte // unexpired cache entries
	records map[string][]byte // idempotency records
	holders map[string]keyHolder
	heldNow map[string]string // keys taken by steps of this call -> task id
}

type keyHolder struct {
	id     string
	state  domain.TaskState
	result []byte
}

func (s *Store) prefetchKeys(t *txn, specs []*ports.StepSpec, now time.Time) (*keyState, error) {
	ks := &keyState{cache: map[string][]byte{}, records: map[string][]byte{}, holders: map[string]keyHolder{}, heldNow: map[string]string{}}
	var cacheKeys, idemKeys []string
	for _, sp := range specs {
		if sp.Kind != domain.KindActivity {
			continue
		}
		if sp.CacheKey != "" {
			cacheKeys = append(cacheKeys, sp.CacheKey)
		}
		if sp.IdempotencyKey != "" {
			idemKeys = append(idemKeys, sp.IdempotencyKey)
		}
	}
	if len(cacheKeys) > 0 {
		if err := s.readKeyValues(t, ks.cache, `SELECT key, value FROM @cache WHERE `+s.d.InList("key")+`
 AND (expires_at IS NULL OR expires_at > ?)`, s.d.StringList(cacheKeys), s.tm(now)); err != nil {
			return nil, err
		}
	}
	if len(idemKeys) == 0 {
		return ks, nil
	}
	if err := s.readKeyValues(t, ks.records, `SELECT key, value FROM @idempotency WHERE `+s.d.InList("key"),
		s.d.StringList(idemKeys)); err != nil {
		return nil, err
	}
	// Lock the live holders: a holder finishing concurrently then waits
	// for this transaction, and so sees the links it inserts.
	rows, err := t.query(`SELECT idempotency_key, id, state, result FROM @tasks WHERE `+s.d.InList("idempotency_key")+
		` ORDER BY id`+s.d.ForShare(), s.d.StringList(idemKeys))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var key, state string
		var h keyHolder
		if err := rows.Scan(&key, &h.id, &state, &h.result); err != nil {
			return nil, err
		}
		h.state = domain.TaskState(state)
		ks.holders[key] = h
	}
	return ks, rows.Err()
}

func (s *Store) readKeyValues(t *txn, into map[string][]byte, query string, args ...any) error {
	rows, err := t.query(query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		into[k] = v
	}
	return rows.Err()
}

var taskRowCols = []Column{
	{"r_id", ColText}, {"r_execution_id", ColText}, {"r_parent_task_id", ColText}, {"r_position", ColInt},
	{"r_kind", ColText}, {"r_step_name", ColText}, {"r_state", ColText}, {"r_input", ColBytes}, {"r_result", ColBytes},
	{"r_error", ColText}, {"r_last_error", ColText}, {"r_attempt", ColInt}, {"r_generation", ColInt},
	{"r_parent_generation", ColInt}, {"r_retry_policy", ColText}, {"r_max_concurrent", ColInt}, {"r_tags", ColText},
	{"r_priority", ColInt}, {"r_queue", ColText}, {"r_idempotency_key", ColText}, {"r_link_owner_id", ColText},
	{"r_cache_key", ColText}, {"r_scheduled_for", ColTime}, {"r_worker_id", ColText}, {"r_claim_token", ColText},
	{"r_lease_expires_at", ColTime}, {"r_deadline", ColTime}, {"r_trace_context", ColText}, {"r_created_at", ColTime},
	{"r_updated_at", ColTime}, {"r_started_at", ColTime}, {"r_finished_at", ColTime},
	{"r_concurrency_key", ColText}, {"r_rate_key", ColText}, {"r_rate_limit", ColInt}, {"r_rate_per", ColInt}, {"r_version", ColText},
}

// insertTasks inserts new task rows with one statement.
func (s *Store) insertTasks(t *txn, tasks []domain.Task) error {
	if len(tasks) == 0 {
		return nil
	}
	rows := make([][]any, len(tasks))
	for i := range tasks {
		r, err := taskRowValues(&tasks[i])
		if err != nil {
			return err
		}
		rows[i] = r
	}
	if max := s.d.ValuesRows(len(taskRowCols)); max > 0 {
		return s.insertValues(t, rows, max)
	}
	var sel strings.Builder
	for i, c := range taskRowCols {
		if i > 0 {
			sel.WriteString(", ")
		}
		sel.WriteString("f." + c.Name)
	}
	_, err := t.exec(`INSERT INTO @tasks (`+taskInsertColumns+`) SELECT `+sel.String()+` FROM `+
		s.d.RowSet("f", taskRowCols), s.d.RowSetArgs(taskRowCols, rows)...)
	return err
}

// insertValues inserts task rows with multi-row VALUES statements. Chunks
// are powers of two up to max rows, so a handful of statement texts cover
// every batch size (they stay in the prepared-statement cache).
func (s *Store) insertValues(t *txn, rows [][]any, max int) error {
	chunk := 1
	for chunk*2 <= max {
		chunk *= 2
	}
	for len(rows) > 0 {
		for chunk > len(rows) {
			chunk /= 2
		}
		var q strings.Builder
		q.WriteString(`INSERT INTO @tasks (` + taskInsertColumns + `) VALUES `)
		args := make([]any, 0, chunk*len(taskRowCols))
		for i := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(" + taskInsertPlaceholders + ")")
			for j, c := range taskRowCols {
				v := rows[i][j]
				if tm, ok := v.(time.Time); ok && c.Type == ColTime {
					v = s.d.EncodeTime(tm)
				}
				args = append(args, v)
			}
		}
		if _, err := t.exec(q.String(), args...); err != nil {
			return err
		}
		rows = rows[chunk:]
	}
	return nil
}

// newStep builds the pending record of a spec under parent p.
func newStep(p parentRow, sp *ports.StepSpec, now time.Time) domain.Task {
	t := domain.Task{
		ID:               sp.ID,
		ExecutionID:      p.executionID,
		ParentTaskID:     p.id,
		Position:         sp.Position,
		Kind:             sp.Kind,
		StepName:         sp.StepName,
		Version:          sp.Version,
		State:            domain.TaskPending,
		Input:            cloneRaw(sp.Input),
		ParentGeneration: p.generation,
		RetryPolicy:      storedPolicy(sp.RetryPolicy),
		MaxConcurrent:    sp.MaxConcurrent,
		ConcurrencyKey:   sp.ConcurrencyKey,
		RateKey:          sp.RateKey,
		RateLimit:        sp.RateLimit,
		RatePer:          sp.RatePer,
		Tags:             slices.Clone(sp.Tags),
		Priority:         sp.Priority,
		Queue:            sp.Queue,
		ScheduledFor:     sp.ScheduledFor,
		Deadline:         p.deadline,
		TraceContext:     maps.Clone(sp.TraceContext),
		CreatedAt:        now,
		UpdatedAt:        now,
	}
	if sp.Kind == domain.KindActivity {
		t.CacheKey = sp.CacheKey
	}
	normalizeTask(&t)
	return t
}

// storedPolicy returns p as it reads back from the store (the JSON form
// of domain.RetryPolicy; empty lists nil). Policies without lists (the
// usual case, one per registered function) are remembered, so the JSON
// round trip runs once per distinct policy rather than once per step.
func storedPolicy(p domain.RetryPolicy) domain.RetryPolicy {
	simple := len(p.RetryOn) == 0 && len(p.NonRetryable) == 0
	var key policyKey
	if simple {
		key = policyKey{p.MaxAttempts, p.InitialDelay, p.MaxDelay, p.BackoffFactor, p.Jitter, p.MaxRecoveries}
		if v, ok := storedPolicies.Load(key); ok {
			return v.(domain.RetryPolicy)
		}
	}
	b, err := json.Marshal(p)
	if err != nil {
		return p
	}
	var out domain.RetryPolicy
	if err := json.Unmarshal(b, &out); err != nil {
		return p
	}
	if simple && storedPolicyCount.Add(1) <= 1024 {
		storedPolicies.Store(key, out)
	}
	return out
}

// policyJSON returns the stored JSON text of p, remembered like
// storedPolicy for policies without lists.
func policyJSON(p domain.RetryPolicy) (string, error) {
	simple := len(p.RetryOn) == 0 && len(p.NonRetryable) == 0
	var key policyKey
	if simple {
		key = policyKey{p.MaxAttempts, p.InitialDelay, p.MaxDelay, p.BackoffFactor, p.Jitter, p.MaxRecoveries}
		if v, ok := policyTexts.Load(key); ok {
			return v.(string), nil
		}
	}
	b, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	if simple && storedPolicyCount.Add(1) <= 2048 {
		policyTexts.Store(key, string(b))
	}
	return string(b), nil
}

// policyKey is every scalar field of a domain.RetryPolicy: two policies
// with the same key store the same JSON.
type policyKey struct {
	attempts         int
	initial, maxWait time.Duration
	factor, jitter   float64
	recoveries       int
}

var (
	storedPolicies    sync.Map // policyKey -> domain.RetryPolicy
	policyTexts       sync.Map // policyKey -> stored JSON text
	storedPolicyCount atomic.Int64
)

func cloneRaw(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return slices.Clone(b)
}

// resolveActivity decides how a new activity record starts: a cache or
// idempotency hit (completed), a link to the live holder of its key, the
// new holder of its key, and optionally claimed inline.
func (s *Store) resolveActivity(t *txn, task *domain.Task, sp *ports.StepSpec, ks *keyState, now time.Time) error {
	if sp.CacheKey != "" {
		if v, ok := ks.cache[sp.CacheKey]; ok {
			task.State, task.Result, task.FinishedAt = domain.TaskCompleted, rawOrNil(v), &now
			return nil
		}
	}
	if key := sp.IdempotencyKey; key != "" {
		done, err := s.resolveKey(t, task, key, ks, now)
		if err != nil || done {
			return err
		}
	}
	if c := sp.Completed; c != nil {
		started := domain.NormalizeTime(c.StartedAt)
		task.State, task.Result, task.Attempt = domain.TaskCompleted, cloneRaw(c.Result), 1
		task.StartedAt, task.FinishedAt = &started, &now
		return nil
	}
	if sp.Claim != nil {
		task.State = domain.TaskRunning
		task.Attempt = 1
		task.WorkerID = sp.Claim.WorkerID
		task.ClaimToken = sp.Claim.Token
		task.LeaseExpiresAt = normPtr(&sp.Claim.LeaseExpiresAt)
		task.StartedAt = &now
	}
	return nil
}

// resolveKey applies an idempotency key to a new activity: the recorded
// result completes it (done); a live holder, or a step of this call that
// took the key, makes it a link (done); otherwise it holds the key.
func (s *Store) resolveKey(t *txn, task *domain.Task, key string, ks *keyState, now time.Time) (bool, error) {
	if v, ok := ks.records[key]; ok {
		task.State, task.Result, task.FinishedAt = domain.TaskCompleted, rawOrNil(v), &now
		return true, nil
	}
	if holder, ok := ks.heldNow[key]; ok {
		task.Kind, task.LinkOwnerID = domain.KindLink, holder
		return true, nil
	}
	if h, ok := ks.holders[key]; ok {
		switch h.state {
		case domain.TaskPending, domain.TaskRunning, domain.TaskWaiting:
			task.Kind, task.LinkOwnerID = domain.KindLink, h.id
			return true, nil
		case domain.TaskCompleted:
			// Finished while we waited for its lock: its result is the record.
			task.State, task.Result, task.FinishedAt = domain.TaskCompleted, rawOrNil(h.result), &now
			return true, nil
		default:
			// A finished holder that still has the key: release it.
			if _, err := t.exec(`UPDATE @tasks SET idempotency_key = NULL WHERE id = ?`, h.id); err != nil {
				return false, err
			}
			delete(ks.holders, key)
		}
	}
	task.IdempotencyKey = key
	ks.heldNow[key] = task.ID
	return false, nil
}

// lockExecution locks the execution row once per transaction (signal
// delivery must not race SendSignal).
func (s *Store) lockExecution(t *txn, execID string, locked *bool) error {
	if *locked {
		return nil
	}
	var one int
	err := t.queryRow(`SELECT 1 FROM @executions WHERE id = ?`+s.d.ForUpdate(), execID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return s.notFound("execution", execID)
	}
	if err != nil {
		return err
	}
	*locked = true
	return nil
}

// takeSignal marks the oldest unconsumed message of name consumed by
// taskID and returns its payload.
func (s *Store) takeSignal(t *txn, execID, name, taskID string, locked *bool, now time.Time) ([]byte, bool, error) {
	if err := s.lockExecution(t, execID, locked); err != nil {
		return nil, false, err
	}
	var seq int64
	var pl []byte
	err := t.queryRow(`SELECT seq, payload FROM @signals WHERE execution_id = ? AND name = ? AND consumed_by IS NULL
 ORDER BY seq LIMIT 1`, execID, name).Scan(&seq, &pl)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if _, err := t.exec(`UPDATE @signals SET consumed_by = ?, consumed_at = ? WHERE execution_id = ? AND name = ? AND seq = ?`,
		taskID, s.tm(now), execID, name, seq); err != nil {
		return nil, false, err
	}
	return rawOrNil(pl), true, nil
}

// deliverToExisting completes an existing pending signal record with a
// buffered message, if there is one.
func (s *Store) deliverToExisting(t *txn, task domain.Task, locked *bool, now time.Time) (domain.Task, error) {
	msg, ok, err := s.takeSignal(t, task.ExecutionID, strings.TrimPrefix(task.StepName, "signal:"), task.ID, locked, now)
	if err != nil || !ok {
		return task, err
	}
	return scanTask(t.queryRow(`UPDATE @tasks SET `+to(domain.TaskResolve)+`, result = ?, finished_at = ?, updated_at = ?
 WHERE id = ? RETURNING `+taskColumns, payload(msg), s.tm(now), s.tm(now), task.ID))
}

// tasksByID reads the tasks with these ids that exist.
func (s *Store) tasksByID(t *txn, ids []string) (map[string]domain.Task, error) {
	out := make(map[string]domain.Task, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := t.query(`SELECT `+taskColumns+` FROM @tasks WHERE `+s.d.InList("id"), s.d.StringList(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		task, err := scanTask(rows)
		if err != nil {
			return nil, err
		}
		out[task.ID] = task
	}
	return out, rows.Err()
}

// ResetStep re-queues an ended record for a newer generation of its parent.
func (s *Store) ResetStep(ctx context.Context, parent domain.Fence, spec ports.StepSpec, now time.Time) (domain.Task, error) {
	if err := s.valid(ports.ValidateFence(parent)); err != nil {
		return domain.Task{}, err
	}
	if err := s.valid(spec.Validate()); err != nil {
		return domain.Task{}, err
	}
	now = domain.NormalizeTime(now)
	var out domain.Task
	err := s.write(ctx, "reset step", func(t *txn) error {
		p, err := s.lockParent(t, parent)
		if err != nil {
			return err
		}
		cur, err := scanTask(t.queryRow(`SELECT `+taskColumns+` FROM @tasks WHERE id = ?`+s.d.ForUpdate(), spec.ID))
		if errors.Is(err, sql.ErrNoRows) {
			return s.notFound("task", spec.ID)
		}
		if err != nil {
			return err
		}
		if cur.ParentTaskID != parent.TaskID {
			return s.invalid("reset step: task %q is not a step of task %q", spec.ID, parent.TaskID)
		}
		if err := domain.TaskReset.Check(cur.State); err != nil {
			return s.errorf("reset step %q: %w", spec.ID, err)
		}
		key, cacheKey := "", ""
		if spec.Kind == domain.KindActivity {
			if key, err = s.resetKey(t, cur, spec.IdempotencyKey); err != nil {
				return err
			}
			cacheKey = spec.CacheKey
		}
		policy, err := jsonText(storedPolicy(spec.RetryPolicy))
		if err != nil {
			return err
		}
		out, err = scanTask(t.queryRow(`UPDATE @tasks SET `+to(domain.TaskReset)+`, kind = ?, step_name = ?, input = ?, retry_policy = ?,
 max_concurrent = ?, tags = ?, priority = ?, queue = ?, idempotency_key = ?, cache_key = ?, trace_context = ?, version = ?,
 concurrency_key = ?, rate_key = ?, rate_limit = ?, rate_per = ?, limited_until = NULL, attempt = 0, recoveries = 0, awaited = 0, generation = generation + 1, parent_generation = ?, result = NULL, error = NULL, last_error = NULL,
 `+leaseClear+`, link_owner_id = NULL, scheduled_for = ?, finished_at = NULL, updated_at = ?
 WHERE id = ? RETURNING `+taskColumns,
			string(spec.Kind), spec.StepName, payload(spec.Input), policy, int64(spec.MaxConcurrent),
			mustJSONText(spec.Tags), int64(spec.Priority), spec.Queue, stringOrNil(key), stringOrNil(cacheKey),
			mustJSONText(spec.TraceContext), spec.Version, spec.ConcurrencyKey, spec.RateKey, int64(spec.RateLimit), int64(spec.RatePer/time.Microsecond),
			int64(p.generation), s.tmp(spec.ScheduledFor), s.tm(now), spec.ID))
		if err != nil {
			return err
		}
		_, err = t.exec(`DELETE FROM @dead_tasks WHERE task_id = ?`, spec.ID)
		return err
	})
	return out, err
}

// resetKey returns the idempotency key a reset record holds: the one it
// already holds, or want when no other task holds it, else none.
func (s *Store) resetKey(t *txn, cur domain.Task, want string) (string, error) {
	if want == "" || cur.IdempotencyKey == want {
		return want, nil
	}
	var holder string
	err := t.queryRow(`SELECT id FROM @tasks WHERE idempotency_key = ?`, want).Scan(&holder)
	if errors.Is(err, sql.ErrNoRows) {
		return want, nil
	}
	return "", err
}

// CompleteSleep completes a due pending sleep of the fenced parent.
func (s *Store) CompleteSleep(ctx context.Context, parent domain.Fence, taskID string, now time.Time) (domain.Task, error) {
	if err := s.valid(ports.ValidateFence(parent)); err != nil {
		return domain.Task{}, err
	}
	if err := s.valid(ports.ValidateID("sleep task id", taskID)); err != nil {
		return domain.Task{}, err
	}
	now = domain.NormalizeTime(now)
	var out domain.Task
	err := s.write(ctx, "complete sleep", func(t *txn) error {
		if _, err := s.lockParent(t, parent); err != nil {
			return err
		}
		cur, err := scanTask(t.queryRow(`SELECT `+taskColumns+` FROM @tasks WHERE id = ?`, taskID))
		if errors.Is(err, sql.ErrNoRows) {
			return s.notFound("task", taskID)
		}
		if err != nil {
			return err
		}
		if !cur.Timed() || cur.ParentTaskID != parent.TaskID {
			return s.invalid("complete sleep: task %q is a %s step of %q, not a sleep or a signal wait with a deadline of task %q",
				taskID, cur.Kind, cur.ParentTaskID, parent.TaskID)
		}
		out = cur
		if !domain.TaskResolve.Allows(cur.State) || !cur.Due(now) {
			return nil
		}
		out, err = scanTask(t.queryRow(`UPDATE @tasks SET `+to(domain.TaskResolve)+`, finished_at = ?, updated_at = ?
 WHERE id = ? RETURNING `+taskColumns, s.tm(now), s.tm(now), taskID))
		return err
	})
	return out, err
}
