package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// candidate is a claimable row as the claim loop sees it.
type candidate struct {
	id, executionID, parentID string
	kind                      domain.TaskKind
	stepName, queue           string
	maxConcurrent             int
	concurrencyKey, rateKey   string
	rateLimit                 int
	ratePer                   time.Duration
	priority                  int
	createdAt                 time.Time
	leaseExpiresAt            *time.Time
	started                   bool // started_at is set: the task was claimed before
	source                    int  // fresh, reclaim or resume
	// keyLocked and rateLocked: the claim holds the lock of the task's
	// keyed concurrency group and rate group (taken by the candidate read,
	// Dialect.FlowLocks; true when the task needs none).
	keyLocked, rateLocked bool
}

// Candidate sources: the stream a candidate was read from (the source
// column of the candidate queries).
const (
	fresh   = 0 // a due pending task: a new attempt
	reclaim = 1 // a running task whose lease expired: a recovery
	resume  = 2 // a waiting task whose wake-up time came: a resume
)

// byClaimOrder orders candidates in claim order (a cmp function).
func byClaimOrder(a, b candidate) int {
	if a.before(&b) {
		return -1
	}
	return 1
}

// before reports whether c comes before o in claim order (priority desc,
// created_at, id).
func (c *candidate) before(o *candidate) bool {
	if c.priority != o.priority {
		return c.priority > o.priority
	}
	if !c.createdAt.Equal(o.createdAt) {
		return c.createdAt.Before(o.createdAt)
	}
	return c.id < o.id
}

const candidateColumns = `id, execution_id, parent_task_id, kind, step_name, max_concurrent, priority, created_at, lease_expires_at,
 started_at, concurrency_key, rate_key, rate_limit, rate_per, queue`

func scanCandidates(rows *sql.Rows) ([]candidate, error) {
	defer rows.Close()
	var out []candidate
	for rows.Next() {
		var (
			c              candidate
			parent         sql.NullString
			kind           string
			maxC, pri      int64
			created, lease nullTime
			started        nullTime
			source         int64
			rateN, ratePer int64
		)
		if err := rows.Scan(&c.id, &c.executionID, &parent, &kind, &c.stepName, &maxC, &pri, &created, &lease, &started,
			&c.concurrencyKey, &c.rateKey, &rateN, &ratePer, &c.queue, &source, &c.keyLocked, &c.rateLocked); err != nil {
			return nil, err
		}
		c.rateLimit, c.ratePer = int(rateN), time.Duration(ratePer)*time.Microsecond
		c.started = started.Valid
		c.parentID, c.kind, c.maxConcurrent, c.priority = parent.String, domain.TaskKind(kind), int(maxC), int(pri)
		c.createdAt, c.leaseExpiresAt, c.source = created.val(), lease.ptr(), int(source)
		out = append(out, c)
	}
	return out, rows.Err()
}

// ClaimTasks claims up to p.Limit eligible tasks in one transaction (see
// ports.ClaimStore and store-semantics §5, §6). Every filter runs in SQL:
// one statement reads the expired leases (lease index), the due waiting
// tasks (wake index, in wake order) and the first page of pending tasks
// (claim index, in claim order, a page being the free slots); functions
// that reached their limit are excluded inside the pending and waiting
// reads, and further pending pages follow only when limits turned
// candidates down. The three streams are merged in claim order and the
// chosen rows claimed with one UPDATE (plus, for resumes, one completing
// their due sleeps). A resume is held back by its function's limit like a
// fresh claim; a reclaim is not. Before reading candidates, the limited
// functions the worker serves are locked (PostgreSQL:
// pg_advisory_xact_lock in sorted order) and their running tasks counted;
// a limited task of a function not yet known to be limited restarts the
// transaction with its lock. Where the dialect has writable CTEs, a claim
// whose candidates need no decision (fresh tasks without limits) is one
// statement instead (claimAlone, claim_alone.go).
func (s *Store) ClaimTasks(ctx context.Context, p ports.ClaimParams) ([]ports.ClaimedTask, error) {
	if err := s.valid(p.Validate()); err != nil {
		return nil, err
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	if len(p.Functions) == 0 {
		return nil, nil
	}
	if s.useClaimAlone(p) {
		if err := s.writable("claim tasks"); err != nil {
			return nil, err
		}
		out, declined, err := s.claimAlone(ctx, p)
		if err != nil || !declined {
			return out, err
		}
	}
	var out []ports.ClaimedTask
	err := s.write(ctx, "claim tasks", func(t *txn) error {
		var err error
		out, err = s.claimTx(t, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// claimFilter is the WHERE fragment shared by the candidate queries and
// NextWake: functions, queues, tags, and no task of a paused queue.
func (s *Store) claimFilter(p ports.ClaimParams) (string, []any) {
	var b strings.Builder
	args := []any{s.d.StringList(p.Functions)}
	b.WriteString(" AND " + s.d.InList("step_name") + pausedExclusion)
	if !p.AnyVersion {
		vf, vargs := s.versionFilter(p)
		b.WriteString(vf)
		args = append(args, vargs...)
	}
	if len(p.Queues) > 0 {
		b.WriteString(" AND (queue = '' OR " + s.d.InList("queue") + ")")
		args = append(args, s.d.StringList(p.Queues))
	}
	if len(p.Tags) > 0 {
		b.WriteString(" AND (tags IS NULL OR " + s.d.TagsOverlap("tags") + ")")
		args = append(args, s.d.StringList(p.Tags))
	}
	return b.String(), args
}

var versionCols = []Column{{"fv_name", ColText}, {"fv_version", ColText}}

// versionFilter is the strict version rule of a claim: a task's version
// is the one the worker registers its function at ("" when unversioned).
// A worker without versioned functions needs only version = ”; otherwise
// the (function, version) pairs are a row set the task must match.
func (s *Store) versionFilter(p ports.ClaimParams) (string, []any) {
	var rowsIn [][]any
	versioned := false
	for _, fn := range p.Functions {
		v := p.Versions[fn]
		versioned = versioned || v != ""
		rowsIn = append(rowsIn, []any{fn, v})
	}
	if !versioned {
		return " AND version = ''", nil
	}
	return ` AND EXISTS (SELECT 1 FROM ` + s.d.RowSet("fv", versionCols) + `
 WHERE fv.fv_name = step_name AND fv.fv_version = version)`, s.d.RowSetArgs(versionCols, rowsIn)
}

var limitCols = []Column{{"lim_name", ColText}, {"lim_used", ColInt}}

// errRetryClaim restarts a claim transaction that met a limited function
// it had not locked; the function is a limit hint from then on.
var errRetryClaim = errors.New("sqlstore: claim met an unlocked limited function; retrying")

// limitHints remembers the functions seen with a limit (MaxConcurrent >
// 0). A claim locks and counts the hinted functions it serves before it
// reads candidates; meeting a limited task of an unhinted function adds
// the hint and restarts the claim, so a limit is never checked unlocked
// and the common unlimited claim costs no extra statement.
type limitHints struct {
	mu    sync.RWMutex
	names map[string]struct{}
}

func (h *limitHints) among(fns []string) []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []string
	for _, f := range fns {
		if _, ok := h.names[f]; ok {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func (h *limitHints) add(names ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.names == nil {
		h.names = map[string]struct{}{}
	}
	for _, n := range names {
		h.names[n] = struct{}{}
	}
}

func (s *Store) claimTx(t *txn, p ports.ClaimParams) ([]ports.ClaimedTask, error) {
	now := domain.NormalizeTime(p.Now)
	until := domain.NormalizeTime(now.Add(p.Lease))
	filter, filterArgs := s.claimFilter(p)

	limited, running, err := s.lockLimited(t, s.limits.among(p.Functions))
	if err != nil {
		return nil, err
	}
	chosenPer := map[string]int{}
	used := func(name string) int { return running[name] + chosenPer[name] }
	flow := newFlowLimits(s, t, now)

	// The first read takes expired leases and due waiting tasks (never
	// more than Limit of each are needed) and the first page of pending
	// tasks in one statement.
	reclaims, resumes, page, err := s.firstCandidates(t, p, now, filter, filterArgs, limited, used, flow)
	if err != nil {
		return nil, err
	}
	s.noteFirstRead(reclaims, resumes, page)
	if missing := append(unlockedLimits(resumes, limited), unlockedLimits(page, limited)...); len(missing) > 0 {
		s.limits.add(missing...)
		return nil, errRetryClaim
	}
	if err := flow.prefetch(append(append([]candidate{}, resumes...), page...)); err != nil {
		return nil, err
	}
	var (
		chosen     []candidate
		pi, ri, wi int
		cursor     *candidate
		exhausted  = len(page) < p.Limit
	)
	if len(page) > 0 {
		cursor = &page[len(page)-1]
	}
	for len(chosen) < p.Limit {
		if pi == len(page) && !exhausted {
			page, err = s.pendingPage(t, p, now, filter, filterArgs, limited, used, flow, cursor, p.Limit-len(chosen))
			if err != nil {
				return nil, err
			}
			if missing := unlockedLimits(page, limited); len(missing) > 0 {
				s.limits.add(missing...)
				return nil, errRetryClaim
			}
			if err := flow.prefetch(page); err != nil {
				return nil, err
			}
			pi = 0
			exhausted = len(page) < p.Limit-len(chosen)
			if len(page) > 0 {
				cursor = &page[len(page)-1]
			}
		}
		// The next candidate in claim order among the three streams.
		var c *candidate
		next := func(stream []candidate, i *int) {
			if *i < len(stream) && (c == nil || stream[*i].before(c)) {
				c = &stream[*i]
			}
		}
		next(reclaims, &ri)
		next(resumes, &wi)
		next(page, &pi)
		switch {
		case c == nil:
			return s.finishClaim(t, p, flow, chosen, now, until)
		case c.source == reclaim:
			ri++
			chosen = append(chosen, *c) // a reclaim replaces itself in the running count
			continue
		case c.source == resume:
			wi++
		default:
			pi++
		}
		fnLimited := c.maxConcurrent > 0 && c.concurrencyKey == ""
		if fnLimited && used(c.stepName) >= c.maxConcurrent {
			continue
		}
		if ok, err := flow.admit(c); err != nil {
			return nil, err
		} else if !ok {
			continue
		}
		if fnLimited {
			chosenPer[c.stepName]++
		}
		chosen = append(chosen, *c)
	}
	return s.finishClaim(t, p, flow, chosen, now, until)
}

// finishClaim applies the chosen claims and writes the flow limits'
// bookkeeping (rate starts, held-back tasks) in the same transaction.
func (s *Store) finishClaim(t *txn, p ports.ClaimParams, flow *flowLimits, chosen []candidate, now, until time.Time) ([]ports.ClaimedTask, error) {
	out, err := s.applyClaims(t, p, chosen, now, until)
	if err != nil {
		return nil, err
	}
	if err := flow.flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// unlockedLimits returns the functions of limited candidates whose claim
// lock the transaction does not hold.
func unlockedLimits(page []candidate, locked map[string]struct{}) []string {
	var out []string
	for _, c := range page {
		if _, ok := locked[c.stepName]; c.maxConcurrent > 0 && c.concurrencyKey == "" && !ok {
			out = append(out, c.stepName)
		}
	}
	return out
}

// lockLimited takes the claim locks of the limited functions (sorted) and
// then counts their running tasks.
func (s *Store) lockLimited(t *txn, names []string) (map[string]struct{}, map[string]int, error) {
	limited := make(map[string]struct{}, len(names))
	running := map[string]int{}
	if len(names) == 0 {
		return limited, running, nil
	}
	for _, n := range names {
		limited[n] = struct{}{}
	}
	if err := s.d.LockFunctions(t.ctx, t.tx, names); err != nil {
		return nil, nil, err
	}
	rows, err := t.query(`SELECT step_name, COUNT(*) FROM @tasks WHERE `+s.d.InList("step_name")+`
 AND state = 'running' AND kind IN ('orchestrator', 'activity') AND concurrency_key = '' GROUP BY step_name`, s.d.StringList(names))
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		var c int64
		if err := rows.Scan(&n, &c); err != nil {
			return nil, nil, err
		}
		running[n] = int(c)
	}
	return limited, running, rows.Err()
}

// reclaimQuery selects up to n expired leases in claim order.
func (s *Store) reclaimQuery(now time.Time, filter string, filterArgs []any, n int) (string, []any) {
	lim, limArgs := s.limit(n)
	return `SELECT ` + candidateColumns + `, 1 AS source FROM @tasks WHERE ` + from("state", domain.TaskReclaim) + `
 AND kind IN ('orchestrator', 'activity') AND lease_expires_at <= ?` + filter + `
 ORDER BY priority DESC, created_at, id` + lim + s.d.ForUpdateSkipLocked(), append(append([]any{s.tm(now)}, filterArgs...), limArgs...)
}

// limit is the LIMIT clause of a candidate read and its argument. Where
// the dialect asks (Dialect.LiteralLimits), n is written into the
// statement rather than bound: PostgreSQL plans a statement whose LIMIT
// is a parameter as if it read a tenth of the matching rows, so the
// cached generic plan of a claim never looked cheaper than a fresh custom
// one, and every claim was planned again, about 1 ms of a job's claim
// (features/089). A worker's claims use few distinct limits (its free
// slots), so few statements.
func (s *Store) limit(n int) (string, []any) {
	if s.d.LiteralLimits() {
		return ` LIMIT ` + strconv.Itoa(n), nil
	}
	return ` LIMIT ?`, []any{int64(n)}
}

// resumeQuery selects due waiting tasks in wake order, excluding limited
// tasks whose function has no slot left.
func (s *Store) resumeQuery(now time.Time, filter string, filterArgs []any,
	limited map[string]struct{}, used func(string) int, flow *flowLimits, n int) (string, []any) {
	lim, limArgs := s.limitExclusion(limited, used, flow)
	limit, limitArgs := s.limit(n)
	q := `SELECT ` + candidateColumns + `, 2 AS source FROM @tasks` + s.d.IndexedBy("tasks_wake") + ` WHERE ` + from("state", domain.TaskResume) + `
 AND wake_at <= ? AND kind IN ('orchestrator', 'activity')` + filter + lim + `
 ORDER BY wake_at` + limit + s.d.ForUpdateSkipLocked()
	args := append(append(append([]any{s.tm(now)}, filterArgs...), limArgs...), limitArgs...)
	return q, args
}

// firstCandidates reads the expired leases, the due waiting tasks and the
// first pending page in one statement.
func (s *Store) firstCandidates(t *txn, p ports.ClaimParams, now time.Time, filter string, filterArgs []any,
	limited map[string]struct{}, used func(string) int, flow *flowLimits) (reclaims, resumes, page []candidate, err error) {
	pq, pargs := s.pendingQuery(p, now, filter, filterArgs, limited, used, flow, nil, p.Limit)
	wq, wargs := s.resumeQuery(now, filter, filterArgs, limited, used, flow, p.Limit)
	rq, args := s.reclaimQuery(now, filter, filterArgs, p.Limit)
	args = append(append(args, wargs...), pargs...)
	rows, err := t.query(`SELECT x.*, `+s.d.FlowLocks("x")+` FROM (SELECT * FROM (`+rq+`) AS r
 UNION ALL SELECT * FROM (`+wq+`) AS w UNION ALL SELECT * FROM (`+pq+`) AS p) AS x`, args...)
	if err != nil {
		return nil, nil, nil, err
	}
	all, err := scanCandidates(rows)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, c := range all {
		switch c.source {
		case reclaim:
			reclaims = append(reclaims, c)
		case resume:
			resumes = append(resumes, c)
		default:
			page = append(page, c)
		}
	}
	slices.SortFunc(reclaims, byClaimOrder)
	slices.SortFunc(resumes, byClaimOrder)
	slices.SortFunc(page, byClaimOrder)
	return reclaims, resumes, page, nil
}

// limitExclusion is the condition that drops limited tasks whose function
// or keyed concurrency group has no slot left, and its arguments.
func (s *Store) limitExclusion(limited map[string]struct{}, used func(string) int, flow *flowLimits) (string, []any) {
	var keyed string
	var keyedArgs []any
	if full := flow.fullKeys(); len(full) > 0 {
		keyed = ` AND (concurrency_key = '' OR NOT ` + s.d.InList("concurrency_key") + `)`
		keyedArgs = []any{s.d.StringList(full)}
	}
	if len(limited) == 0 {
		return keyed, keyedArgs
	}
	rowsIn := make([][]any, 0, len(limited))
	for name := range limited {
		rowsIn = append(rowsIn, []any{name, int64(used(name))})
	}
	return ` AND (max_concurrent = 0 OR concurrency_key <> '' OR NOT EXISTS (SELECT 1 FROM ` + s.d.RowSet("lim", limitCols) + `
 WHERE lim.lim_name = step_name AND max_concurrent <= lim.lim_used))` + keyed, append(s.d.RowSetArgs(limitCols, rowsIn), keyedArgs...)
}

// pendingQuery builds the read of the next page of due pending candidates
// after cursor, excluding limited tasks whose function has no slot left.
func (s *Store) pendingQuery(p ports.ClaimParams, now time.Time, filter string, filterArgs []any,
	limited map[string]struct{}, used func(string) int, flow *flowLimits, cursor *candidate, n int) (string, []any) {
	var b strings.Builder
	args := []any{s.tm(now), s.tm(now)}
	b.WriteString(`SELECT ` + candidateColumns + `, 0 AS source FROM @tasks` + s.d.IndexedBy("tasks_claim") + ` WHERE ` + from("state", domain.TaskClaim) + `
 AND kind IN ('orchestrator', 'activity') AND (scheduled_for IS NULL OR scheduled_for <= ?)
 AND (limited_until IS NULL OR limited_until <= ?)`)
	b.WriteString(filter)
	args = append(args, filterArgs...)
	lim, limArgs := s.limitExclusion(limited, used, flow)
	b.WriteString(lim)
	args = append(args, limArgs...)
	if cursor != nil {
		b.WriteString(` AND (priority < ? OR (priority = ? AND (created_at > ? OR (created_at = ? AND id > ?))))`)
		ca := s.tm(cursor.createdAt)
		args = append(args, int64(cursor.priority), int64(cursor.priority), ca, ca, cursor.id)
	}
	limit, limitArgs := s.limit(n)
	b.WriteString(` ORDER BY priority DESC, created_at, id` + limit + s.d.ForUpdateSkipLocked())
	args = append(args, limitArgs...)
	return b.String(), args
}

// pendingPage reads the next page of pending candidates.
func (s *Store) pendingPage(t *txn, p ports.ClaimParams, now time.Time, filter string, filterArgs []any,
	limited map[string]struct{}, used func(string) int, flow *flowLimits, cursor *candidate, n int) ([]candidate, error) {
	q, args := s.pendingQuery(p, now, filter, filterArgs, limited, used, flow, cursor, n)
	rows, err := t.query(`SELECT x.*, `+s.d.FlowLocks("x")+` FROM (`+q+`) AS x`, args...)
	if err != nil {
		return nil, err
	}
	page, err := scanCandidates(rows)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(page, byClaimOrder)
	return page, nil
}

var lostCols = []Column{{"lost_id", ColText}, {"lost_error", ColText}}

// applyClaims moves the chosen candidates to running in one statement,
// completes the due sleeps of resumed tasks and starts the executions of
// freshly claimed roots. Each claim token is this call's random token plus
// the task id: fresh for every claim and different for every task, without
// a per-row parameter. The claiming UPDATE tells the streams apart by the
// state it reads: a pending task spends an attempt, a running one (a
// reclaim) counts a recovery, a waiting one (a resume) neither. A claim is
// a task's first when its candidate row had no started_at (the rows are
// locked from the read to the update).
func (s *Store) applyClaims(t *txn, p ports.ClaimParams, chosen []candidate, now, until time.Time) ([]ports.ClaimedTask, error) {
	if len(chosen) == 0 {
		return nil, nil
	}
	ids := make([]string, len(chosen))
	var roots, resumed []string
	var lost [][]any
	for i, c := range chosen {
		ids[i] = c.id
		if c.source == resume {
			resumed = append(resumed, c.id)
		}
		if c.source == reclaim {
			at := "unknown time"
			if c.leaseExpiresAt != nil {
				at = c.leaseExpiresAt.Format(time.RFC3339Nano)
			}
			lost = append(lost, []any{c.id, mustJSONText(domain.SentinelError(domain.ErrLeaseLost, "lease expired at "+at+"; reclaimed"))})
		}
		if c.source == fresh && c.kind == domain.KindOrchestrator && c.parentID == "" {
			roots = append(roots, c.executionID) // a reclaimed or resumed root's execution already runs
		}
	}
	if len(lost) > 0 {
		if _, err := t.exec(`UPDATE @tasks SET last_error = f.lost_error FROM `+s.d.RowSet("f", lostCols)+
			` WHERE id = f.lost_id`, s.d.RowSetArgs(lostCols, lost)...); err != nil {
			return nil, err
		}
	}
	token := domain.NewID()[:23] + "/"
	// The executions of freshly claimed roots start with their claim; where
	// the dialect allows, in the same statement (one round trip fewer).
	// The claimed task rows are locked since the candidate read, so the
	// lock order (task, then execution) holds either way.
	startRoots := `UPDATE @executions SET ` + to(domain.ExecStart) + `, started_at = ?, updated_at = ?
 WHERE ` + s.d.InList("id") + ` AND ` + from(s.d.Unindexed("state"), domain.ExecStart)
	startArgs := []any{s.tm(now), s.tm(now), s.d.StringList(roots)}
	var with string
	var args []any
	if len(roots) > 0 && s.d.WritableCTEs() {
		with, args = `WITH started AS (`+startRoots+`) `, startArgs
	}
	// One statement for the three claim operations (claimSet).
	rows, err := t.query(with+`UPDATE @tasks SET `+claimSet()+`
 WHERE `+s.d.InList("id")+` RETURNING `+taskColumns,
		append(args, p.WorkerID, token, s.tm(until), s.tm(now), s.tm(now), s.d.StringList(ids))...)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]domain.Task, len(chosen))
	for rows.Next() {
		task, err := scanTask(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		byID[task.ID] = task
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]ports.ClaimedTask, 0, len(chosen))
	for _, c := range chosen {
		if task, ok := byID[c.id]; ok {
			out = append(out, ports.ClaimedTask{Task: task, FirstClaim: !c.started})
		}
	}
	if len(resumed) > 0 {
		if _, err := t.exec(`UPDATE @tasks SET `+to(domain.TaskResolve)+`, result = NULL, finished_at = ?, updated_at = ?
 WHERE `+s.d.InList("parent_task_id")+` AND kind = 'sleep' AND `+from(s.d.Unindexed("state"), domain.TaskResolve)+`
 AND (scheduled_for IS NULL OR scheduled_for <= ?)`,
			s.tm(now), s.tm(now), s.d.StringList(resumed), s.tm(now)); err != nil {
			return nil, err
		}
	}
	if len(roots) > 0 && with == "" {
		if _, err := t.exec(startRoots, startArgs...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

var renewCols = []Column{{"renew_id", ColText}, {"renew_worker", ColText}, {"renew_token", ColText}}

// RenewLeases extends every held lease to now+lease and reports each
// fence's task and execution states.
func (s *Store) RenewLeases(ctx context.Context, fences []domain.Fence, now time.Time, lease time.Duration) ([]ports.LeaseStatus, error) {
	if err := s.valid(ports.ValidateRenewal(fences, lease)); err != nil {
		return nil, err
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	if len(fences) == 0 {
		return []ports.LeaseStatus{}, nil
	}
	until := domain.NormalizeTime(now.Add(lease))
	var out []ports.LeaseStatus
	err := s.write(ctx, "renew leases", func(t *txn) error {
		rowsIn := make([][]any, len(fences))
		ids := make([]string, len(fences))
		for i, f := range fences {
			rowsIn[i] = []any{f.TaskID, f.WorkerID, f.Token}
			ids[i] = f.TaskID
		}
		args := append([]any{s.tm(until), s.tm(now)}, s.d.RowSetArgs(renewCols, rowsIn)...)
		// Where rows are locked, the renewal skips those another
		// transaction holds (this worker's own completion, typically)
		// instead of waiting for them: it then never waits for a row
		// lock, so it cannot deadlock with a batch completion that locks
		// the same rows in another order. A skipped task keeps its lease;
		// the next renewal extends it.
		skipBusy := ""
		if lock := s.d.ForUpdateSkipLocked(); lock != "" {
			skipBusy = ` AND id IN (SELECT id FROM @tasks WHERE ` + s.d.InList("id") + lock + `)`
			args = append(args, s.d.StringList(ids))
		}
		if _, err := t.exec(`UPDATE @tasks SET lease_expires_at = ?, updated_at = ? FROM `+s.d.RowSet("f", renewCols)+`
 WHERE id = f.renew_id AND `+s.d.Unindexed("state")+` = 'running' AND worker_id = f.renew_worker AND claim_token = f.renew_token`+skipBusy, args...); err != nil {
			return err
		}
		rows, err := t.query(`SELECT t.id, t.state, t.worker_id, t.claim_token, t.lease_expires_at, e.state
 FROM @tasks t LEFT JOIN @executions e ON e.id = t.execution_id WHERE `+s.d.InList("t.id"), s.d.StringList(ids))
		if err != nil {
			return err
		}
		defer rows.Close()
		type cur struct {
			state, exec, worker, token string
			lease                      nullTime
		}
		byID := map[string]cur{}
		for rows.Next() {
			var (
				id, state             string
				worker, token, estate sql.NullString
				c                     cur
			)
			if err := rows.Scan(&id, &state, &worker, &token, &c.lease, &estate); err != nil {
				return err
			}
			c.state, c.exec, c.worker, c.token = state, estate.String, worker.String, token.String
			byID[id] = c
		}
		if err := rows.Err(); err != nil {
			return err
		}
		out = make([]ports.LeaseStatus, len(fences))
		for i, f := range fences {
			c, ok := byID[f.TaskID]
			if !ok {
				continue
			}
			st := ports.LeaseStatus{TaskState: domain.TaskState(c.state), ExecState: domain.ExecutionState(c.exec)}
			if c.state == string(domain.TaskRunning) && c.worker == f.WorkerID && c.token == f.Token {
				st.Held, st.LeaseExpiresAt = true, c.lease.val()
			}
			out[i] = st
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
