package sqlstore

import (
	"database/sql"
	"errors"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// The set-based path of CreateStepsBatch. Requests whose specs need no
// per-request reads (activities without cache or idempotency keys, and
// sleeps) of distinct parents are applied together: one statement locks
// every parent whose fence matches, one reads the records that already
// exist, one inserts every missing record; data operations follow per
// request. The other requests (signals, keyed activities, a parent seen
// twice) then go through createStepsTx one by one, in the same
// transaction, so a batch costs a handful of statements whatever its size.

// simpleRequest reports whether a request can take the set-based path.
func simpleRequest(r *ports.CreateStepsRequest) bool {
	for i := range r.Specs {
		sp := &r.Specs[i]
		switch sp.Kind {
		case domain.KindSleep:
		case domain.KindActivity:
			if sp.CacheKey != "" || sp.IdempotencyKey != "" {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// createStepsBatchTx applies reqs in one transaction; it returns the
// per-request results and the number of records inserted.
func (s *Store) createStepsBatchTx(t *txn, reqs []ports.CreateStepsRequest) ([]ports.CreateStepsResult, int, error) {
	out := make([]ports.CreateStepsResult, len(reqs))
	done := make([]bool, len(reqs))
	var fast []int
	seen := map[string]bool{}
	for i := range reqs {
		if p := reqs[i].Parent.TaskID; simpleRequest(&reqs[i]) && !seen[p] {
			seen[p] = true
			fast = append(fast, i)
		}
	}
	inserted := 0
	if len(fast) > 1 {
		n, err := s.createSimpleSteps(t, reqs, fast, out)
		if err != nil {
			return nil, 0, err
		}
		inserted += n
		for _, i := range fast {
			done[i] = true
		}
	}
	for i, r := range reqs {
		if done[i] {
			continue
		}
		tasks, n, err := s.createStepsTx(t, r.Parent, r.Specs, r.Ops, domain.NormalizeTime(r.Now))
		if err != nil && !errors.Is(err, domain.ErrLeaseLost) {
			return nil, 0, err
		}
		out[i] = ports.CreateStepsResult{Tasks: tasks, Err: err}
		inserted += n
	}
	return out, inserted, nil
}

// createSimpleSteps applies the requests idx of reqs set-based, filling out.
func (s *Store) createSimpleSteps(t *txn, reqs []ports.CreateStepsRequest, idx []int, out []ports.CreateStepsResult) (int, error) {
	fences := make([][]any, len(idx))
	for j, i := range idx {
		f := reqs[i].Parent
		fences[j] = []any{f.TaskID, f.WorkerID, f.Token}
	}
	parents, err := s.lockParents(t, fences)
	if err != nil {
		return 0, err
	}
	var ids []string
	for _, i := range idx {
		if _, ok := parents[reqs[i].Parent.TaskID]; ok {
			for _, sp := range reqs[i].Specs {
				ids = append(ids, sp.ID)
			}
		}
	}
	existing, err := s.tasksByID(t, ids)
	if err != nil {
		return 0, err
	}
	var inserts []domain.Task
	var withOps []int
	for _, i := range idx {
		r := &reqs[i]
		p, ok := parents[r.Parent.TaskID]
		if !ok {
			out[i] = ports.CreateStepsResult{Err: s.errLeaseLost(r.Parent)}
			continue
		}
		now := domain.NormalizeTime(r.Now)
		tasks := make([]domain.Task, len(r.Specs))
		fresh := false
		for k := range r.Specs {
			sp := &r.Specs[k]
			if ex, ok := existing[sp.ID]; ok {
				if ex.ExecutionID != p.executionID || ex.ParentTaskID != p.id {
					return 0, s.errorf("create steps: step %q exists under execution %q, parent %q, not under task %q: %w",
						ex.ID, ex.ExecutionID, ex.ParentTaskID, p.id, domain.ErrConflict)
				}
				tasks[k] = ex
				continue
			}
			task := newStep(p, sp, now)
			if sp.Kind == domain.KindActivity {
				if err := s.resolveActivity(t, &task, sp, nil, now); err != nil {
					return 0, err
				}
			}
			existing[sp.ID] = task
			tasks[k] = task
			inserts = append(inserts, task)
			fresh = true
		}
		out[i] = ports.CreateStepsResult{Tasks: tasks}
		if fresh && len(r.Ops) > 0 {
			withOps = append(withOps, i)
		}
	}
	if len(inserts) > 0 {
		if err := s.insertTasks(t, inserts); err != nil {
			return 0, err
		}
	}
	for _, i := range withOps {
		if err := s.applyOps(t, parents[reqs[i].Parent.TaskID].executionID, reqs[i].Ops); err != nil {
			return 0, err
		}
	}
	return len(inserts), nil
}

// lockParents locks, in one statement, every running parent named by the
// fences and returns those whose worker and claim token match, by task id.
// The statement is driven by the primary key; the fence is compared here.
func (s *Store) lockParents(t *txn, fences [][]any) (map[string]parentRow, error) {
	ids := make([]string, len(fences))
	want := make(map[string][2]string, len(fences))
	for i, f := range fences {
		id := f[0].(string)
		ids[i] = id
		want[id] = [2]string{f[1].(string), f[2].(string)}
	}
	rows, err := t.query(`SELECT id, execution_id, generation, deadline, worker_id, claim_token FROM @tasks
 WHERE `+s.d.InList("id")+` AND `+s.d.Unindexed("state")+` = 'running'`+s.d.ForUpdate(), s.d.StringList(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]parentRow, len(fences))
	for rows.Next() {
		var (
			p             parentRow
			gen           int64
			deadline      nullTime
			worker, token sql.NullString
		)
		if err := rows.Scan(&p.id, &p.executionID, &gen, &deadline, &worker, &token); err != nil {
			return nil, err
		}
		if w := want[p.id]; w[0] != worker.String || w[1] != token.String {
			continue // another claim: a stale fence
		}
		p.generation, p.deadline = int(gen), deadline.ptr()
		out[p.id] = p
	}
	return out, rows.Err()
}
