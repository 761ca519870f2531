package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// CreateExecutions inserts executions with their roots in one
// transaction (see ports.ExecutionStore).
func (s *Store) CreateExecutions(ctx context.Context, items []ports.NewExecution) ([]ports.CreatedExecution, error) {
	for i := range items {
		if err := s.valid(items[i].Validate()); err != nil {
			return nil, err
		}
		prepareCreate(&items[i].Execution, &items[i].Root)
	}
	if len(items) == 1 { // a dispatch: two single-row inserts
		return s.createExecution(ctx, items[0].Execution, items[0].Root)
	}
	if slices.ContainsFunc(items, func(it ports.NewExecution) bool {
		return it.Execution.SingletonKey != "" || it.Execution.DebounceKey != ""
	}) {
		return s.createKeyed(ctx, items)
	}
	var out []ports.CreatedExecution
	inserted := 0
	err := s.write(ctx, "create executions", func(t *txn) error {
		out, inserted = make([]ports.CreatedExecution, len(items)), 0
		// One multi-row insert for every execution; the ones it skipped
		// (a reused id or key) are resolved one by one, as CreateExecution
		// would.
		fresh, err := s.insertExecutions(t, items)
		if err != nil {
			return err
		}
		var roots []domain.Task
		for i := range items {
			exec := items[i].Execution
			if fresh[exec.ID] {
				delete(fresh, exec.ID) // a repeated id in the batch is not fresh twice
				roots = append(roots, items[i].Root)
				out[i] = ports.CreatedExecution{ID: exec.ID, Created: true, Outcome: domain.DispatchCreated}
				continue
			}
			existing, outcome, found, err := s.existingByIDOrKey(t, exec)
			switch {
			case errors.Is(err, domain.ErrConflict):
				out[i] = ports.CreatedExecution{Err: err}
			case err != nil:
				return err
			case !found:
				return s.errorf("create execution %q: %w", exec.ID, domain.ErrConflict)
			default:
				out[i] = ports.CreatedExecution{ID: existing, Outcome: outcome}
			}
		}
		if err := s.insertTasks(t, roots); err != nil {
			if s.d.UniqueViolation(err) {
				return s.errorf("create executions: a root task id is already used: %w", domain.ErrConflict)
			}
			return err
		}
		inserted = 2 * len(roots)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.noteInserted(inserted)
	return out, nil
}

// createKeyed creates a batch with singleton or debounce keys item by
// item in one transaction, so each item sees the ones before it.
func (s *Store) createKeyed(ctx context.Context, items []ports.NewExecution) ([]ports.CreatedExecution, error) {
	var out []ports.CreatedExecution
	inserted := 0
	err := s.write(ctx, "create executions", func(t *txn) error {
		out, inserted = make([]ports.CreatedExecution, len(items)), 0
		for i, it := range items {
			id, outcome, itemErr, err := s.createExecutionTx(t, it.Execution, it.Root)
			if err != nil {
				return err
			}
			out[i] = ports.CreatedExecution{ID: id, Created: outcome == domain.DispatchCreated, Outcome: outcome, Err: itemErr}
			if out[i].Created {
				inserted += 2
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.noteInserted(inserted)
	return out, nil
}

// createExecution inserts one prepared execution and its root.
func (s *Store) createExecution(ctx context.Context, exec domain.Execution, root domain.Task) ([]ports.CreatedExecution, error) {
	if s.d.WritableCTEs() && exec.SingletonKey == "" && exec.DebounceKey == "" {
		// The common dispatch is one statement, so it needs no
		// transaction of its own: one round trip instead of three
		// (BEGIN, the insert, COMMIT). A taken id or key inserts nothing
		// and is resolved in a transaction below.
		created, err := s.insertAlone(ctx, &exec, &root)
		if err != nil {
			return nil, err
		}
		if created {
			s.noteInserted(2)
			return []ports.CreatedExecution{{ID: exec.ID, Created: true, Outcome: domain.DispatchCreated}}, nil
		}
	}
	var out ports.CreatedExecution
	err := s.write(ctx, "create execution", func(t *txn) error {
		var err error
		out.ID, out.Outcome, out.Err, err = s.createExecutionTx(t, exec, root)
		out.Created = out.Outcome == domain.DispatchCreated
		return err
	})
	if err != nil {
		return nil, err
	}
	if out.Created {
		s.noteInserted(2)
	}
	return []ports.CreatedExecution{out}, nil
}

// insertExecutions inserts the executions of items with multi-row VALUES
// statements (power-of-two chunks, so few statement texts), skipping any
// whose id or idempotency key is taken, and returns the ids it inserted.
func (s *Store) insertExecutions(t *txn, items []ports.NewExecution) (map[string]bool, error) {
	fresh := make(map[string]bool, len(items))
	const cols = 20
	chunk := 1
	for chunk*2 <= min(512, 30000/cols) {
		chunk *= 2
	}
	for rest := items; len(rest) > 0; {
		for chunk > len(rest) {
			chunk /= 2
		}
		var q strings.Builder
		q.WriteString(`INSERT INTO @executions (` + executionInsertColumns + `) VALUES `)
		args := make([]any, 0, chunk*cols)
		for i := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(" + executionInsertPlaceholders + ")")
			args = append(args, s.executionArgs(&rest[i].Execution)...)
		}
		q.WriteString(` ON CONFLICT DO NOTHING RETURNING id`)
		rows, err := t.query(q.String(), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			fresh[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		rest = rest[chunk:]
	}
	return fresh, nil
}

// createExecutionTx inserts one prepared execution and its root, or
// resolves it to an existing one: a reused id or idempotency key
// (existing), the live holder of its singleton key (joined), the pending
// holder of its debounce key, updated (debounced). itemErr is ErrConflict
// for an id or key held by another function's execution (nothing written
// for it); err is anything that fails the whole transaction.
func (s *Store) createExecutionTx(t *txn, exec domain.Execution, root domain.Task) (id string, outcome domain.DispatchOutcome, itemErr, err error) {
	keyed := exec.SingletonKey != "" || exec.DebounceKey != ""
	for try := 0; ; try++ {
		if exec.DebounceKey != "" {
			id, outcome, done, err := s.debounceTx(t, exec)
			if errors.Is(err, domain.ErrConflict) {
				return "", "", err, nil
			}
			if err != nil || done {
				return id, outcome, nil, err
			}
		}
		// Insert first: a reused id or key is the rare case, looked up only
		// when the insert does nothing.
		created, err := s.insertExecutionAndRoot(t, &exec, &root)
		if err != nil {
			return "", "", nil, err
		}
		if created {
			return exec.ID, domain.DispatchCreated, nil, nil
		}
		// The id, the idempotency key or a live key is taken.
		existing, outcome, found, err := s.existingExecution(t, exec)
		switch {
		case errors.Is(err, domain.ErrConflict):
			return "", "", err, nil
		case err != nil:
			return "", "", nil, err
		case keyed && try < 5 && (!found || outcome == domain.DispatchDebounced):
			// The key's holder ended between the insert and the read,
			// or a pending holder appeared: decide again.
			continue
		case !found:
			return "", "", nil, s.errorf("create execution %q: %w", exec.ID, domain.ErrConflict)
		}
		return existing, outcome, nil, nil
	}
}

// insertExecutionAndRoot inserts exec and then root, unless exec's id,
// idempotency key or live key is taken (created false, nothing written).
// Where the dialect allows, both inserts are one statement (one round
// trip): the root's insert reads the execution insert's returned row.
func (s *Store) insertExecutionAndRoot(t *txn, exec *domain.Execution, root *domain.Task) (created bool, err error) {
	args, err := s.taskArgs(root)
	if err != nil {
		return false, err
	}
	var n int64
	if s.d.WritableCTEs() {
		n, err = t.execN(insertExecutionWithRoot, append(s.executionArgs(exec), args...)...)
	} else {
		n, err = t.execN(`INSERT INTO @executions (`+executionInsertColumns+`) VALUES (`+executionInsertPlaceholders+`)
 ON CONFLICT DO NOTHING`, s.executionArgs(exec)...)
		if err == nil && n == 1 {
			_, err = t.exec(`INSERT INTO @tasks (`+taskInsertColumns+`) VALUES (`+taskInsertPlaceholders+`)`, args...)
		}
	}
	switch {
	case err != nil && s.d.UniqueViolation(err):
		return false, s.errorf("create execution %q: root task id %q is already used: %w", exec.ID, root.ID, domain.ErrConflict)
	case err != nil:
		return false, err
	}
	return n == 1, nil
}

// insertExecutionWithRoot inserts an execution and, when it was inserted,
// its root task (WritableCTEs dialects); the arguments are the
// execution's and then the task's.
const insertExecutionWithRoot = `WITH e AS (INSERT INTO @executions (` + executionInsertColumns + `) VALUES (` + executionInsertPlaceholders + `)
 ON CONFLICT DO NOTHING RETURNING id) INSERT INTO @tasks (` + taskInsertColumns + `) SELECT ` + taskInsertPlaceholders + ` FROM e`

// insertAlone runs insertExecutionWithRoot outside a transaction (it is
// one statement, atomic on its own), retried like a transaction after a
// transient conflict. created is false when exec's id, idempotency key or
// live key is taken (nothing written).
func (s *Store) insertAlone(ctx context.Context, exec *domain.Execution, root *domain.Task) (created bool, err error) {
	const op = "create execution"
	if err := s.writable(op); err != nil {
		return false, err
	}
	args, err := s.taskArgs(root)
	if err != nil {
		return false, err
	}
	args = append(s.executionArgs(exec), args...)
	var n int64
	err = s.retrying(ctx, func() error {
		res, err := s.w.ExecContext(ctx, s.q(insertExecutionWithRoot), args...)
		if err == nil {
			n, err = res.RowsAffected()
		}
		return err
	})
	switch {
	case err != nil && s.d.UniqueViolation(err):
		return false, s.errorf("%s %q: root task id %q is already used: %w", op, exec.ID, root.ID, domain.ErrConflict)
	case err != nil:
		return false, s.wrap(err, op)
	}
	if n > 0 {
		s.wrote()
	}
	return n == 1, nil
}

// debounceTx applies a debounced dispatch to the pending holder of its
// key, if there is one whose root has not started: the holder's input,
// start time and deadline (and its root's) become exec's. done is false
// when there is no such holder (then exec is to be inserted). A used
// idempotency key or id comes first, as for any create. The root is
// updated before the execution, in the claim's lock order.
func (s *Store) debounceTx(t *txn, exec domain.Execution) (id string, outcome domain.DispatchOutcome, done bool, err error) {
	if existing, outcome, found, err := s.existingByIDOrKey(t, exec); err != nil || found {
		return existing, outcome, found, err
	}
	var holder, rootID, fn string
	err = t.queryRow(`SELECT id, root_task_id, root_function FROM @executions WHERE debounce_key = ? AND state = 'pending'`,
		exec.DebounceKey).Scan(&holder, &rootID, &fn)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, err
	}
	if fn != exec.RootFunction {
		return "", "", false, s.keyHeldByOther("debounce", exec, holder, fn)
	}
	now := s.tm(exec.CreatedAt)
	n, err := t.execN(`UPDATE @tasks SET input = ?, scheduled_for = ?, deadline = ?, updated_at = ?
 WHERE id = ? AND `+s.d.Unindexed("state")+` = 'pending' AND started_at IS NULL`,
		payload(exec.Input), s.tmp(exec.ScheduledFor), s.tmp(exec.Deadline), now, rootID)
	if err != nil || n == 0 { // n == 0: a worker claimed the root meanwhile
		return "", "", false, err
	}
	if _, err := t.exec(`UPDATE @executions SET input = ?, scheduled_for = ?, deadline = ?, updated_at = ? WHERE id = ?`,
		payload(exec.Input), s.tmp(exec.ScheduledFor), s.tmp(exec.Deadline), now, holder); err != nil {
		return "", "", false, err
	}
	return holder, domain.DispatchDebounced, true, nil
}

// existingExecution finds the execution that makes a create a no-op: the
// holder of exec's idempotency key, or exec.ID itself (ErrConflict when it
// runs another function), or the live holder of its singleton key
// (joined), or the pending holder of its debounce key (debounced: the
// caller applies the debounce).
func (s *Store) existingExecution(t *txn, exec domain.Execution) (string, domain.DispatchOutcome, bool, error) {
	if id, outcome, found, err := s.existingByIDOrKey(t, exec); err != nil || found {
		return id, outcome, found, err
	}
	for _, k := range []struct {
		col, key, states string
		outcome          domain.DispatchOutcome
	}{
		{"singleton_key", exec.SingletonKey, "state IN ('pending', 'running')", domain.DispatchJoined},
		{"debounce_key", exec.DebounceKey, "state = 'pending'", domain.DispatchDebounced},
	} {
		if k.key == "" {
			continue
		}
		var id, fn string
		err := t.queryRow(`SELECT id, root_function FROM @executions WHERE `+k.col+` = ? AND `+k.states, k.key).Scan(&id, &fn)
		if err == nil && fn != exec.RootFunction {
			return "", "", false, s.keyHeldByOther(strings.TrimSuffix(k.col, "_key"), exec, id, fn)
		}
		if err == nil {
			return id, k.outcome, true, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return "", "", false, err
		}
	}
	return "", "", false, nil
}

// keyHeldByOther is the item error of a singleton or debounce key held by
// an execution of another function.
func (s *Store) keyHeldByOther(kind string, exec domain.Execution, holder, fn string) error {
	key := exec.SingletonKey
	if kind == "debounce" {
		key = exec.DebounceKey
	}
	return s.errorf("create execution %q: %s key %q is held by execution %s of %q, not %q: %w",
		exec.ID, kind, key, holder, fn, exec.RootFunction, domain.ErrConflict)
}

// existingByIDOrKey finds the holder of exec's idempotency key, or exec.ID
// itself (ErrConflict when it runs another function).
func (s *Store) existingByIDOrKey(t *txn, exec domain.Execution) (string, domain.DispatchOutcome, bool, error) {
	if exec.IdempotencyKey != "" {
		var id string
		err := t.queryRow(`SELECT id FROM @executions WHERE idempotency_key = ?`, exec.IdempotencyKey).Scan(&id)
		if err == nil {
			return id, domain.DispatchExisting, true, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return "", "", false, err
		}
	}
	var fn string
	err := t.queryRow(`SELECT root_function FROM @executions WHERE id = ?`, exec.ID).Scan(&fn)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", "", false, nil
	case err != nil:
		return "", "", false, err
	case fn != exec.RootFunction:
		return "", "", false, s.errorf("create execution %q: the id is used by an execution of %q, not %q: %w",
			exec.ID, fn, exec.RootFunction, domain.ErrConflict)
	}
	return exec.ID, domain.DispatchExisting, true, nil
}

// prepareCreate sets what the store decides of a validated new execution
// and its root: states, cleared outcomes, copied routing, normalised times.
func prepareCreate(exec *domain.Execution, root *domain.Task) {
	exec.State = domain.ExecutionPending
	exec.CreatedAt = domain.NormalizeTime(exec.CreatedAt)
	exec.UpdatedAt = exec.CreatedAt
	exec.ScheduledFor = normPtr(exec.ScheduledFor)
	exec.Deadline = normPtr(exec.Deadline)
	exec.StartedAt, exec.FinishedAt, exec.Result, exec.Error = nil, nil, nil, nil

	root.ExecutionID = exec.ID
	root.StepName = exec.RootFunction
	root.Kind = domain.KindOrchestrator
	root.State = domain.TaskPending
	root.Attempt, root.Generation, root.ParentGeneration, root.Recoveries = 0, 0, 0, 0
	root.WakeAt, root.Awaited = nil, false
	root.IdempotencyKey = ""
	root.Deadline = exec.Deadline
	root.ScheduledFor = exec.ScheduledFor
	root.CreatedAt, root.UpdatedAt = exec.CreatedAt, exec.CreatedAt
	root.Result, root.Error, root.LastError = nil, nil, nil
	root.WorkerID, root.ClaimToken, root.LeaseExpiresAt = "", "", nil
	root.StartedAt, root.FinishedAt, root.LinkOwnerID = nil, nil, ""
	normalizeTask(root)
}

const executionInsertColumns = `id, root_function, root_task_id, state, input, result, error, idempotency_key,
 tags, priority, queue, scheduled_for, deadline, created_at, updated_at, started_at, finished_at, version, singleton_key, debounce_key`

const executionInsertPlaceholders = `?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?`

func (s *Store) executionArgs(e *domain.Execution) []any {
	return []any{
		e.ID, e.RootFunction, e.RootTaskID, string(e.State), payload(e.Input), payload(e.Result),
		mustJSONText(e.Error), stringOrNil(e.IdempotencyKey), mustJSONText(e.Tags), int64(e.Priority), e.Queue,
		s.tmp(e.ScheduledFor), s.tmp(e.Deadline), s.tm(e.CreatedAt), s.tm(e.UpdatedAt),
		s.tmp(e.StartedAt), s.tmp(e.FinishedAt), e.Version, stringOrNil(e.SingletonKey), stringOrNil(e.DebounceKey),
	}
}

// GetExecution returns one execution, or ErrNotFound.
func (s *Store) GetExecution(ctx context.Context, id string) (domain.Execution, error) {
	if err := s.valid(ports.ValidateID("execution id", id)); err != nil {
		return domain.Execution{}, err
	}
	if err := s.check(); err != nil {
		return domain.Execution{}, err
	}
	e, err := scanExecution(s.queryRow(ctx, `SELECT `+executionColumns+` FROM @executions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Execution{}, s.notFound("execution", id)
	}
	if err != nil {
		return domain.Execution{}, s.wrap(err, "get execution")
	}
	return e, nil
}

// ListExecutions returns executions matching f, newest first.
func (s *Store) ListExecutions(ctx context.Context, f ports.ExecutionFilter) ([]domain.Execution, error) {
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
	if f.Function != "" {
		where = append(where, "root_function = ?")
		args = append(args, f.Function)
	}
	if f.Queue != "" {
		where = append(where, "queue = ?")
		args = append(args, f.Queue)
	}
	if f.After != nil {
		where = append(where, "(created_at < ? OR (created_at = ? AND id < ?))")
		args = append(args, s.tm(f.After.At), s.tm(f.After.At), f.After.ID)
	}
	if f.Version != "" {
		where = append(where, "version = ?")
		args = append(args, f.Version)
	}
	for _, tag := range f.Tags {
		where = append(where, s.d.TagsOverlap("tags"))
		args = append(args, s.d.StringList([]string{tag}))
	}
	if f.IDPrefix != "" {
		// substr counts characters in both databases.
		where = append(where, "substr(id, 1, ?) = ?")
		args = append(args, int64(utf8.RuneCountInString(f.IDPrefix)), f.IDPrefix)
	}
	if !f.CreatedFrom.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, s.tm(f.CreatedFrom))
	}
	if !f.CreatedBefore.IsZero() {
		where = append(where, "created_at < ?")
		args = append(args, s.tm(f.CreatedBefore))
	}
	if f.Text != "" {
		like := ports.LikeContains(ports.FoldASCII(f.Text))
		where = append(where, "("+s.d.TextContains("input", true)+" OR "+s.d.TextContains("result", true)+
			" OR "+s.d.TextContains("error", false)+")")
		args = append(args, like, like, like)
	}
	query := `SELECT ` + executionColumns + ` FROM @executions` + whereClause(where) +
		` ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`
	args = append(args, int64(ports.PageLimit(f.Limit)), int64(f.Offset))
	rows, err := s.queryRows(ctx, query, args...)
	if err != nil {
		return nil, s.wrap(err, "list executions")
	}
	defer rows.Close()
	var out []domain.Execution
	for rows.Next() {
		e, err := scanExecution(rows)
		if err != nil {
			return nil, s.wrap(err, "list executions")
		}
		out = append(out, e)
	}
	return out, s.wrap(rows.Err(), "list executions")
}

func whereClause(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// ListProgress returns the execution's step timeline derived from its tasks.
func (s *Store) ListProgress(ctx context.Context, executionID string) ([]domain.ProgressEntry, error) {
	if err := s.valid(ports.ValidateID("execution id", executionID)); err != nil {
		return nil, err
	}
	var out []domain.ProgressEntry
	err := s.read(ctx, "list progress", func(t *txn) error {
		if err := s.mustExist(t, executionID); err != nil {
			return err
		}
		rows, err := t.query(`SELECT id, parent_task_id, position, kind, step_name, state, attempt, created_at,
 started_at, finished_at, error, recoveries, scheduled_for, wake_at, awaited, limited_until, version, queue,
 max_concurrent, concurrency_key
 FROM @tasks WHERE execution_id = ? ORDER BY created_at, position, id`, executionID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				p                            domain.ProgressEntry
				parent                       sql.NullString
				kind, state                  string
				pos, attempt, recov, awaited int64
				created, started, finished   nullTime
				sched, wake, limited         nullTime
				errb                         []byte
				maxConc                      int64
			)
			if err := rows.Scan(&p.TaskID, &parent, &pos, &kind, &p.Step, &state, &attempt, &created,
				&started, &finished, &errb, &recov, &sched, &wake, &awaited, &limited, &p.Version, &p.Queue,
				&maxConc, &p.ConcurrencyKey); err != nil {
				return err
			}
			p.MaxConcurrent = int(maxConc)
			p.ParentID, p.Position, p.Kind, p.State, p.Attempt = parent.String, int(pos), domain.TaskKind(kind), domain.TaskState(state), int(attempt)
			p.CreatedAt, p.StartedAt, p.FinishedAt = created.val(), started.ptr(), finished.ptr()
			p.Recoveries, p.ScheduledFor, p.WakeAt, p.Awaited = int(recov), sched.ptr(), wake.ptr(), awaited == 1
			p.RateLimitedUntil = limited.ptr()
			if p.Error, err = decodeTaskError(errb); err != nil {
				return err
			}
			out = append(out, p)
		}
		return rows.Err()
	})
	return out, err
}

// mustExist returns ErrNotFound unless the execution exists.
func (s *Store) mustExist(t *txn, executionID string) error {
	var one int
	err := t.queryRow(`SELECT 1 FROM @executions WHERE id = ?`, executionID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return s.notFound("execution", executionID)
	}
	return err
}

// GetExecutionData returns the execution's counters and custom state.
func (s *Store) GetExecutionData(ctx context.Context, executionID string) (domain.ExecutionData, error) {
	if err := s.valid(ports.ValidateID("execution id", executionID)); err != nil {
		return domain.ExecutionData{}, err
	}
	data := domain.ExecutionData{Counters: map[string]float64{}, State: map[string]json.RawMessage{}}
	err := s.read(ctx, "get execution data", func(t *txn) error {
		if err := s.mustExist(t, executionID); err != nil {
			return err
		}
		rows, err := t.query(`SELECT key, value FROM @execution_counters WHERE execution_id = ?`, executionID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k string
			var v float64
			if err := rows.Scan(&k, &v); err != nil {
				rows.Close()
				return err
			}
			data.Counters[k] = v
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = t.query(`SELECT key, value FROM @execution_state WHERE execution_id = ?`, executionID)
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
			data.State[k] = rawOrNil(v)
		}
		return rows.Err()
	})
	if err != nil {
		return domain.ExecutionData{}, err
	}
	return data, nil
}

// CancelExecution cancels a live execution and its live tasks.
func (s *Store) CancelExecution(ctx context.Context, id string, now time.Time) (domain.Execution, bool, error) {
	return s.endExecution(ctx, "cancel execution", id, now, domain.ExecCancel,
		domain.SentinelError(domain.ErrCancelled, "execution cancelled"))
}

// TimeoutExecution times out a live execution whose deadline is <= now.
func (s *Store) TimeoutExecution(ctx context.Context, id string, now time.Time) (domain.Execution, bool, error) {
	return s.endExecution(ctx, "timeout execution", id, now, domain.ExecTimeout,
		domain.SentinelError(domain.ErrTimedOut, "execution timed out"))
}

func (s *Store) endExecution(ctx context.Context, op, id string, now time.Time, tr domain.ExecutionTransition,
	cause *domain.TaskError) (domain.Execution, bool, error) {
	if err := s.valid(ports.ValidateID("execution id", id)); err != nil {
		return domain.Execution{}, false, err
	}
	var (
		exec    domain.Execution
		changed bool
	)
	err := s.write(ctx, op, func(t *txn) error {
		var err error
		exec, changed, err = s.endExecutionTx(t, id, now, tr, cause)
		return err
	})
	return exec, changed, err
}

// endExecutionTx moves a live execution along tr, a cancel or a timeout
// (only when due), and cancels its live tasks.
func (s *Store) endExecutionTx(t *txn, id string, now time.Time, tr domain.ExecutionTransition,
	cause *domain.TaskError) (domain.Execution, bool, error) {
	now = domain.NormalizeTime(now)
	cond := ""
	args := []any{mustJSONText(cause), s.tm(now), s.tm(now), id}
	if tr.Op == domain.ExecTimeout.Op {
		cond = " AND deadline IS NOT NULL AND deadline <= ?"
		args = append(args, s.tm(now))
	}
	exec, err := scanExecution(t.queryRow(`UPDATE @executions SET `+to(tr)+`, error = ?, finished_at = ?, updated_at = ?
 WHERE id = ? AND `+from("state", tr)+cond+` RETURNING `+executionColumns, args...))
	if err == nil {
		if err := s.cancelLiveTasks(t, []string{id}, now); err != nil {
			return exec, false, err
		}
		return exec, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return exec, false, err
	}
	exec, err = scanExecution(t.queryRow(`SELECT `+executionColumns+` FROM @executions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return exec, false, s.notFound("execution", id)
	}
	return exec, false, err
}

// ExpireOverdue times out up to limit live executions past their deadline.
func (s *Store) ExpireOverdue(ctx context.Context, now time.Time, limit int) ([]string, error) {
	if err := s.valid(ports.ValidateSweepLimit(limit)); err != nil {
		return nil, err
	}
	var ids []string
	err := s.write(ctx, "expire overdue", func(t *txn) error {
		ids = nil
		rows, err := t.query(`SELECT id FROM @executions WHERE `+from("state", domain.ExecTimeout)+` AND deadline IS NOT NULL
 AND deadline <= ? ORDER BY deadline, id LIMIT ?`+s.d.ForUpdateSkipLocked(), s.tm(now), int64(limit))
		if err != nil {
			return err
		}
		var cands []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			cands = append(cands, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range cands {
			_, changed, err := s.endExecutionTx(t, id, now, domain.ExecTimeout,
				domain.SentinelError(domain.ErrTimedOut, "execution timed out"))
			if err != nil {
				return err
			}
			if changed {
				ids = append(ids, id)
			}
		}
		return nil
	})
	return ids, err
}
