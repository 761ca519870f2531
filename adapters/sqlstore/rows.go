package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/stenthq/stent/domain"
)

// taskColumns is the column list every task read selects, in scan order.
const taskColumns = `id, execution_id, parent_task_id, position, kind, step_name, state, input, result,
 error, last_error, attempt, generation, parent_generation, retry_policy, max_concurrent, tags,
 priority, queue, idempotency_key, link_owner_id, cache_key, scheduled_for, worker_id, claim_token,
 lease_expires_at, deadline, trace_context, created_at, updated_at, started_at, finished_at,
 recoveries, wake_at, awaited, concurrency_key, rate_key, rate_limit, rate_per, limited_until, version`

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

func scanTask(r rowScanner) (domain.Task, error) {
	var (
		t                                            domain.Task
		parent, idem, link, cacheKey, worker, token  sql.NullString
		input, result, errb, lastErr, policy, tags   []byte
		trace                                        []byte
		kind, state                                  string
		sched, lease, deadline, created, updated     nullTime
		started, finished, wake, limitedUntil        nullTime
		position, attempt, gen, parentGen, maxC, pri int64
		recoveries, awaited, rateLimit, ratePer      int64
	)
	err := r.Scan(&t.ID, &t.ExecutionID, &parent, &position, &kind, &t.StepName, &state, &input, &result,
		&errb, &lastErr, &attempt, &gen, &parentGen, &policy, &maxC, &tags,
		&pri, &t.Queue, &idem, &link, &cacheKey, &sched, &worker, &token,
		&lease, &deadline, &trace, &created, &updated, &started, &finished,
		&recoveries, &wake, &awaited, &t.ConcurrencyKey, &t.RateKey, &rateLimit, &ratePer, &limitedUntil, &t.Version)
	if err != nil {
		return t, err
	}
	t.ParentTaskID = parent.String
	t.Position = int(position)
	t.Kind = domain.TaskKind(kind)
	t.State = domain.TaskState(state)
	t.Input = rawOrNil(input)
	t.Result = rawOrNil(result)
	t.Attempt = int(attempt)
	t.Recoveries = int(recoveries)
	t.Generation = int(gen)
	t.ParentGeneration = int(parentGen)
	t.MaxConcurrent = int(maxC)
	t.RateLimit = int(rateLimit)
	t.RatePer = time.Duration(ratePer) * time.Microsecond
	t.RateLimitedUntil = limitedUntil.ptr()
	t.Priority = int(pri)
	t.IdempotencyKey = idem.String
	t.LinkOwnerID = link.String
	t.CacheKey = cacheKey.String
	t.ScheduledFor = sched.ptr()
	t.WakeAt = wake.ptr()
	t.Awaited = awaited == 1
	t.WorkerID = worker.String
	t.ClaimToken = token.String
	t.LeaseExpiresAt = lease.ptr()
	t.Deadline = deadline.ptr()
	t.CreatedAt = created.val()
	t.UpdatedAt = updated.val()
	t.StartedAt = started.ptr()
	t.FinishedAt = finished.ptr()
	if t.Error, err = decodeTaskError(errb); err != nil {
		return t, fmt.Errorf("task %q: %w", t.ID, err)
	}
	if t.LastError, err = decodeTaskError(lastErr); err != nil {
		return t, fmt.Errorf("task %q: %w", t.ID, err)
	}
	if len(policy) > 0 {
		if t.RetryPolicy, err = decodePolicy(policy); err != nil {
			return t, fmt.Errorf("task %q: decode retry policy: %w", t.ID, err)
		}
	}
	if t.Tags, err = decodeStrings(tags); err != nil {
		return t, fmt.Errorf("task %q: %w", t.ID, err)
	}
	if t.TraceContext, err = decodeStringMap(trace); err != nil {
		return t, fmt.Errorf("task %q: %w", t.ID, err)
	}
	return t, nil
}

// executionColumns is the column list every execution read selects.
const executionColumns = `id, root_function, root_task_id, state, input, result, error, idempotency_key,
 tags, priority, queue, scheduled_for, deadline, created_at, updated_at, started_at, finished_at, version, singleton_key, debounce_key, forked_from`

func scanExecution(r rowScanner) (domain.Execution, error) {
	var (
		e                                     domain.Execution
		state                                 string
		input, result, errb, tags             []byte
		idem, singleton, debounce, forkedFrom sql.NullString
		pri                                   int64
		sched, deadline, created, updated     nullTime
		started, finished                     nullTime
	)
	err := r.Scan(&e.ID, &e.RootFunction, &e.RootTaskID, &state, &input, &result, &errb, &idem,
		&tags, &pri, &e.Queue, &sched, &deadline, &created, &updated, &started, &finished, &e.Version, &singleton, &debounce, &forkedFrom)
	if err != nil {
		return e, err
	}
	e.State = domain.ExecutionState(state)
	e.Input = rawOrNil(input)
	e.Result = rawOrNil(result)
	e.IdempotencyKey = idem.String
	e.SingletonKey, e.DebounceKey = singleton.String, debounce.String
	e.ForkedFrom = forkedFrom.String
	e.Priority = int(pri)
	e.ScheduledFor = sched.ptr()
	e.Deadline = deadline.ptr()
	e.CreatedAt = created.val()
	e.UpdatedAt = updated.val()
	e.StartedAt = started.ptr()
	e.FinishedAt = finished.ptr()
	if e.Error, err = decodeTaskError(errb); err != nil {
		return e, fmt.Errorf("execution %q: %w", e.ID, err)
	}
	if e.Tags, err = decodeStrings(tags); err != nil {
		return e, fmt.Errorf("execution %q: %w", e.ID, err)
	}
	return e, nil
}

// taskInsertColumns lists the columns of a full task insert.
const taskInsertColumns = `id, execution_id, parent_task_id, position, kind, step_name, state, input, result,
 error, last_error, attempt, generation, parent_generation, retry_policy, max_concurrent, tags,
 priority, queue, idempotency_key, link_owner_id, cache_key, scheduled_for, worker_id, claim_token,
 lease_expires_at, deadline, trace_context, created_at, updated_at, started_at, finished_at,
 concurrency_key, rate_key, rate_limit, rate_per, version`

const taskInsertPlaceholders = `?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?`

// taskArgs returns the insert arguments of t in taskInsertColumns order.
func (s *Store) taskArgs(t *domain.Task) ([]any, error) {
	policy, err := policyJSON(t.RetryPolicy)
	if err != nil {
		return nil, fmt.Errorf("task %q: encode retry policy: %w", t.ID, err)
	}
	return []any{
		t.ID, t.ExecutionID, stringOrNil(t.ParentTaskID), int64(t.Position), string(t.Kind), t.StepName,
		string(t.State), payload(t.Input), payload(t.Result),
		mustJSONText(t.Error), mustJSONText(t.LastError), int64(t.Attempt), int64(t.Generation),
		int64(t.ParentGeneration), policy, int64(t.MaxConcurrent), mustJSONText(t.Tags),
		int64(t.Priority), t.Queue, stringOrNil(t.IdempotencyKey), stringOrNil(t.LinkOwnerID),
		stringOrNil(t.CacheKey), s.tmp(t.ScheduledFor), stringOrNil(t.WorkerID), stringOrNil(t.ClaimToken),
		s.tmp(t.LeaseExpiresAt), s.tmp(t.Deadline), mustJSONText(t.TraceContext),
		s.tm(t.CreatedAt), s.tm(t.UpdatedAt), s.tmp(t.StartedAt), s.tmp(t.FinishedAt),
		t.ConcurrencyKey, t.RateKey, int64(t.RateLimit), int64(t.RatePer / time.Microsecond), t.Version,
	}, nil
}

// taskRowValues returns the RowSet values of t in taskRowCols order.
func taskRowValues(t *domain.Task) ([]any, error) {
	policy, err := policyJSON(t.RetryPolicy)
	if err != nil {
		return nil, fmt.Errorf("task %q: encode retry policy: %w", t.ID, err)
	}
	return []any{
		t.ID, t.ExecutionID, stringOrNil(t.ParentTaskID), int64(t.Position), string(t.Kind), t.StepName,
		string(t.State), payloadBytes(t.Input), payloadBytes(t.Result),
		mustJSONText(t.Error), mustJSONText(t.LastError), int64(t.Attempt), int64(t.Generation),
		int64(t.ParentGeneration), policy, int64(t.MaxConcurrent), mustJSONText(t.Tags),
		int64(t.Priority), t.Queue, stringOrNil(t.IdempotencyKey), stringOrNil(t.LinkOwnerID),
		stringOrNil(t.CacheKey), timeOrNil(t.ScheduledFor), stringOrNil(t.WorkerID), stringOrNil(t.ClaimToken),
		timeOrNil(t.LeaseExpiresAt), timeOrNil(t.Deadline), mustJSONText(t.TraceContext),
		domain.NormalizeTime(t.CreatedAt), domain.NormalizeTime(t.UpdatedAt), timeOrNil(t.StartedAt), timeOrNil(t.FinishedAt),
		t.ConcurrencyKey, t.RateKey, int64(t.RateLimit), int64(t.RatePer / time.Microsecond), t.Version,
	}, nil
}

// timeOrNil is a RowSet time value: nil or the normalised time.
func timeOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return domain.NormalizeTime(*t)
}

// normalizeTask puts t's times in the stored form (UTC, microseconds) and
// empty collections to nil, so a task built in Go equals its read-back.
func normalizeTask(t *domain.Task) {
	t.ScheduledFor = normPtr(t.ScheduledFor)
	t.WakeAt = normPtr(t.WakeAt)
	t.RateLimitedUntil = normPtr(t.RateLimitedUntil)
	t.RatePer = t.RatePer.Truncate(time.Microsecond)
	t.LeaseExpiresAt = normPtr(t.LeaseExpiresAt)
	t.Deadline = normPtr(t.Deadline)
	t.StartedAt = normPtr(t.StartedAt)
	t.FinishedAt = normPtr(t.FinishedAt)
	t.CreatedAt = domain.NormalizeTime(t.CreatedAt)
	t.UpdatedAt = domain.NormalizeTime(t.UpdatedAt)
	if len(t.Tags) == 0 {
		t.Tags = nil
	}
	if len(t.TraceContext) == 0 {
		t.TraceContext = nil
	}
	if len(t.Input) == 0 {
		t.Input = nil
	}
	if len(t.Result) == 0 {
		t.Result = nil
	}
}

// decodedPolicies caches the decoded retry policies by their stored JSON:
// a claim batch reads the same few policies (one per registered function)
// on every row. Only policies without lists are cached (their value shares
// no memory between tasks), and at most maxDecodedPolicies of them.
var decodedPolicies struct {
	mu sync.RWMutex
	m  map[string]domain.RetryPolicy
}

const maxDecodedPolicies = 2048

func decodePolicy(b []byte) (domain.RetryPolicy, error) {
	decodedPolicies.mu.RLock()
	p, ok := decodedPolicies.m[string(b)]
	decodedPolicies.mu.RUnlock()
	if ok {
		return p, nil
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return domain.RetryPolicy{}, err
	}
	if len(p.RetryOn) == 0 && len(p.NonRetryable) == 0 {
		decodedPolicies.mu.Lock()
		if decodedPolicies.m == nil {
			decodedPolicies.m = map[string]domain.RetryPolicy{}
		}
		if len(decodedPolicies.m) < maxDecodedPolicies {
			decodedPolicies.m[string(b)] = p
		}
		decodedPolicies.mu.Unlock()
	}
	return p, nil
}
