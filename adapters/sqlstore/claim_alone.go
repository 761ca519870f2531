package sqlstore

import (
	"context"
	"database/sql"
	"slices"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// The one-statement claim (WritableCTEs dialects). A claim transaction is
// BEGIN, the candidate read, the claiming UPDATE and COMMIT: four round
// trips and a durable commit. When every candidate the first read meets
// is a fresh pending task with no limit (no function or keyed
// concurrency limit, no rate limit) and there is no expired lease or due
// waiting task to take, the transaction chooses exactly the candidates it
// read, without a decision of its own. claimAlone makes that claim as one
// statement outside a transaction, atomic on its own: it reads the same
// three candidate streams, and claims the pending page and starts its
// roots' executions only if no candidate needs the transaction. If one
// does, it writes nothing and reports declined, and the transaction runs
// and decides as before.
//
// Whether the last claims met such candidates is kept in slowClaims: a
// declined claim sets it, so a worker whose tasks carry limits, or which
// is resuming many waiting tasks, does not pay a wasted read on every
// claim; a transaction whose first read met only simple candidates clears
// it again.

// simpleCandidate is the SQL condition of a candidate that the claim
// transaction would take without a decision: fresh, and without a limit.
const simpleCandidate = `source = 0 AND max_concurrent = 0 AND rate_limit = 0`

// isSimple reports whether c is a simpleCandidate.
func (c *candidate) isSimple() bool {
	return c.source == fresh && c.maxConcurrent == 0 && c.rateLimit == 0
}

// claimSet is the SET list of the claiming UPDATE and its arguments after
// those of the statement's WHERE: worker, token prefix, lease end, now,
// now. It serves the three streams, which all end running: a pending task
// spends an attempt, a running one (a reclaim) counts a recovery, a
// waiting one (a resume) neither.
func claimSet() string {
	return to(domain.TaskClaim) + `,
 attempt = CASE WHEN ` + from("state", domain.TaskClaim) + ` THEN attempt + 1 ELSE attempt END,
 recoveries = CASE WHEN ` + from("state", domain.TaskReclaim) + ` THEN recoveries + 1 ELSE recoveries END,
 wake_at = NULL, limited_until = NULL, worker_id = ?, claim_token = ? || id, lease_expires_at = ?, started_at = COALESCE(started_at, ?), updated_at = ?`
}

// useClaimAlone reports whether a claim should try claimAlone first.
func (s *Store) useClaimAlone(p ports.ClaimParams) bool {
	return s.d.WritableCTEs() && !s.slowClaims.Load() && len(s.limits.among(p.Functions)) == 0
}

// claimAlone claims as one statement, if no candidate needs the claim
// transaction (see above); declined reports that it wrote nothing and
// the transaction must decide.
func (s *Store) claimAlone(ctx context.Context, p ports.ClaimParams) (out []ports.ClaimedTask, declined bool, err error) {
	now := domain.NormalizeTime(p.Now)
	until := domain.NormalizeTime(now.Add(p.Lease))
	filter, filterArgs := s.claimFilter(p)
	pq, pargs := s.pendingQuery(p, now, filter, filterArgs, nil, nil, nil, nil, p.Limit)
	wq, wargs := s.resumeQuery(now, filter, filterArgs, nil, nil, nil, p.Limit)
	rq, args := s.reclaimQuery(now, filter, filterArgs, p.Limit)
	args = append(append(args, wargs...), pargs...)
	token := domain.NewID()[:23] + "/"
	args = append(args, s.tm(now), s.tm(now), p.WorkerID, token, s.tm(until), s.tm(now), s.tm(now))
	q := `WITH cand AS (SELECT * FROM (` + rq + `) AS r
 UNION ALL SELECT * FROM (` + wq + `) AS w UNION ALL SELECT * FROM (` + pq + `) AS p),
fast AS (SELECT NOT EXISTS (SELECT 1 FROM cand WHERE NOT (` + simpleCandidate + `)) AS ok),
started AS (UPDATE @executions SET ` + to(domain.ExecStart) + `, started_at = ?, updated_at = ?
 WHERE id IN (SELECT execution_id FROM cand WHERE kind = 'orchestrator' AND COALESCE(parent_task_id, '') = '')
 AND ` + from(s.d.Unindexed("state"), domain.ExecStart) + ` AND (SELECT ok FROM fast)),
claimed AS (UPDATE @tasks SET ` + claimSet() + `
 WHERE id IN (SELECT id FROM cand) AND (SELECT ok FROM fast) RETURNING ` + taskColumns + `)
SELECT claimed.*, cand.started_at IS NULL, false FROM claimed JOIN cand ON cand.id = claimed.id
UNION ALL SELECT ` + taskColumns + `, false, true FROM @tasks
 WHERE NOT (SELECT ok FROM fast) AND id = (SELECT id FROM cand LIMIT 1)`
	err = s.retrying(ctx, func() error {
		out, declined = nil, false
		rows, err := s.w.QueryContext(ctx, s.q(q), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var first, no bool
			task, err := scanTask(extraColumns{rows, []any{&first, &no}})
			if err != nil {
				return err
			}
			if no {
				declined = true
				continue
			}
			out = append(out, ports.ClaimedTask{Task: task, FirstClaim: first})
		}
		return rows.Err()
	})
	if err != nil {
		return nil, false, s.wrap(err, "claim tasks")
	}
	if declined {
		s.slowClaims.Store(true)
		return nil, true, nil
	}
	if len(out) > 0 {
		s.wrote()
	}
	sortClaimed(out)
	return out, false, nil
}

// sortClaimed puts claimed tasks in claim order (priority desc,
// created_at, id), the order the claim transaction returns.
func sortClaimed(out []ports.ClaimedTask) {
	slices.SortFunc(out, func(a, b ports.ClaimedTask) int {
		ca := candidate{id: a.Task.ID, priority: a.Task.Priority, createdAt: a.Task.CreatedAt}
		cb := candidate{id: b.Task.ID, priority: b.Task.Priority, createdAt: b.Task.CreatedAt}
		return byClaimOrder(ca, cb)
	})
}

// noteFirstRead clears slowClaims when a claim transaction's first read
// met only simple candidates: the next claim tries claimAlone again.
func (s *Store) noteFirstRead(reclaims, resumes, page []candidate) {
	if !s.d.WritableCTEs() || !s.slowClaims.Load() || len(reclaims)+len(resumes) > 0 || len(page) == 0 {
		return
	}
	for i := range page {
		if !page[i].isSimple() {
			return
		}
	}
	s.slowClaims.Store(false)
}

// extraColumns scans a row's leading columns with the wrapped scanner's
// caller and its trailing ones into extra.
type extraColumns struct {
	r     *sql.Rows
	extra []any
}

func (e extraColumns) Scan(dest ...any) error { return e.r.Scan(append(dest, e.extra...)...) }
