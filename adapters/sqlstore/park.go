package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Suspension (parking) and wake-ups.
//
// A parked task is waiting: it holds no lease, and the steps it waits for
// carry awaited = 1. Whoever ends the last live awaited step of a waiting
// parent sets the parent's wake_at, which makes it claimable (the claim's
// resume stream). Two kinds of transaction meet on a parent:
//
//   - ParkTask (P) first updates the awaited flags of the parent's steps,
//     writing every live awaited step even when its flag is already 1, so
//     it holds their row locks; then it moves the fenced parent to waiting
//     (locking the parent row); then, in a new statement, it counts the live
//     awaited steps and rolls everything back when there is none.
//   - A step's end (E: CompleteTasks with its link completions, FailTask
//     with its failed links, SendSignal's delivery) first updates the step
//     (locking it) and reads back its awaited flag; if it is 1, E locks the
//     parent row (SELECT ... FOR UPDATE, parents in sorted id order) and
//     then, in a new statement, wakes the parent if it is waiting and no
//     live awaited step of it remains.
//
// Why this is race-free under READ COMMITTED: every statement takes a new
// snapshot, and the row locks order the transactions. If P locked an
// awaited step first, E's update of that step waits for P to commit and
// then sees the parent waiting (E locks the parent only after its step
// update, and its wake check is a statement that starts after that lock, so
// it sees P's commit). If E updated the step first, P's flag update waits
// for E's commit and re-reads the row: the step has ended, so P does not
// await it, and P's count (a later statement) does not find it live; E, on
// its side, found the parent still running and did not wake it. Two steps
// of one parent ending in concurrent transactions both lock the parent
// after their step updates: the second to get the lock sees the first's
// commit in its check, so the last one to end always sees no live awaited
// step left. SQLite runs one write transaction at a time and needs none of
// these locks (its Dialect.ForUpdate is empty).

// errNotParked rolls back a ParkTask whose awaited steps have all ended.
var errNotParked = errors.New("sqlstore: nothing to wait for")

// ParkTask parks a running task until its wake condition holds (see
// ports.ClaimStore).
func (s *Store) ParkTask(ctx context.Context, p ports.ParkParams) (bool, error) {
	if err := s.valid(p.Validate()); err != nil {
		return false, err
	}
	err := s.write(ctx, "park task", func(t *txn) error { return s.parkTx(t, p) })
	if errors.Is(err, errNotParked) {
		return false, nil
	}
	return err == nil, err
}

// parkTx parks the task; errNotParked when none of its children is live.
func (s *Store) parkTx(t *txn, p ports.ParkParams) error {
	now := domain.NormalizeTime(p.Now)
	id := p.Fence.TaskID
	// 1. The awaited flags: live listed steps get 1 (written even when
	// already 1, to lock them), every other step that has 1 gets 0.
	if len(p.Children) == 0 {
		if _, err := t.exec(`UPDATE @tasks SET awaited = 0 WHERE parent_task_id = ? AND awaited = 1`, id); err != nil {
			return err
		}
	} else {
		listed := s.d.InList("id") + ` AND ` + inStates("state", liveTaskStates)
		kids := s.d.StringList(p.Children)
		if _, err := t.exec(`UPDATE @tasks SET awaited = CASE WHEN `+listed+` THEN 1 ELSE 0 END
 WHERE parent_task_id = ? AND (awaited = 1 OR (`+listed+`))`, kids, id, kids); err != nil {
			return err
		}
	}
	// 2. The fenced parent becomes waiting (its row is now locked).
	n, err := t.execN(`UPDATE @tasks SET `+to(domain.TaskPark)+`, wake_at = ?, `+leaseClear+`, updated_at = ? WHERE `+fencedCond(domain.TaskPark),
		append([]any{s.tmp(p.WakeAt), s.tm(now)}, fenceArgs(p.Fence)...)...)
	if err != nil {
		return err
	}
	if n == 0 {
		return s.errLeaseLost(p.Fence)
	}
	if len(p.Children) == 0 {
		return nil
	}
	// 3. A new statement: are the children steps of the task, and is one
	// of them still live?
	rows, err := t.query(`SELECT id, parent_task_id, state FROM @tasks WHERE `+s.d.InList("id"), s.d.StringList(p.Children))
	if err != nil {
		return err
	}
	defer rows.Close()
	type kid struct {
		parent string
		live   bool
	}
	found := make(map[string]kid, len(p.Children))
	for rows.Next() {
		var cid, state string
		var parent sql.NullString
		if err := rows.Scan(&cid, &parent, &state); err != nil {
			return err
		}
		found[cid] = kid{parent: parent.String, live: domain.TaskState(state).Live()}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	live := false
	for _, cid := range p.Children {
		k, ok := found[cid]
		if !ok || k.parent != id {
			return s.invalid("park task %q: %q is not one of its steps", id, cid)
		}
		live = live || k.live
	}
	if !live {
		return errNotParked
	}
	return nil
}

// endedStep is an awaited step a write has just ended: its parent may
// wake. item is the CompleteTasks item that ended it.
type endedStep struct {
	parentID string
	ownerID  string // a link's owner (link completions and failures)
	item     int
	now      time.Time
}

// endedAwaited reads the (link_owner_id, parent_task_id, awaited) rows an
// UPDATE ... RETURNING of ended steps returns and keeps the awaited ones.
func (s *Store) endedAwaited(rows *sql.Rows, err error) ([]endedStep, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []endedStep
	for rows.Next() {
		var owner, parent sql.NullString
		var awaited int64
		if err := rows.Scan(&owner, &parent, &awaited); err != nil {
			return nil, err
		}
		if awaited == 1 && parent.String != "" {
			out = append(out, endedStep{parentID: parent.String, ownerID: owner.String})
		}
	}
	return out, rows.Err()
}

// wokenParent is a parent a write woke, with the item to report it on.
type wokenParent struct {
	item int
	task ports.WokenTask
}

var wakeCols = []Column{{"w_id", ColText}, {"w_now", ColTime}}

// wakeParents wakes the waiting parents of the ended awaited steps that
// have no live awaited step left (wake_at = the time of the write unless
// it is already earlier), after locking every parent in id order (see the
// protocol above). A parent is reported once, on the last item that ended
// one of its steps.
func (s *Store) wakeParents(t *txn, ended []endedStep) ([]wokenParent, error) {
	if len(ended) == 0 {
		return nil, nil
	}
	last := make(map[string]endedStep, len(ended))
	for _, e := range ended {
		if cur, ok := last[e.parentID]; !ok || e.item >= cur.item {
			last[e.parentID] = e
		}
	}
	ids := make([]string, 0, len(last))
	for id := range last {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if lock := s.d.ForUpdate(); lock != "" {
		rows, err := t.query(`SELECT id FROM @tasks WHERE `+s.d.InList("id")+` ORDER BY id`+lock, s.d.StringList(ids))
		if err != nil {
			return nil, err
		}
		for rows.Next() {
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	rowsIn := make([][]any, len(ids))
	for i, id := range ids {
		rowsIn[i] = []any{id, last[id].now}
	}
	const sooner = `wake_at IS NULL OR wake_at > f.w_now`
	rows, err := t.query(`UPDATE @tasks SET wake_at = CASE WHEN `+sooner+` THEN f.w_now ELSE wake_at END,
 updated_at = CASE WHEN `+sooner+` THEN f.w_now ELSE updated_at END
 FROM `+s.d.RowSet("f", wakeCols)+` WHERE id = f.w_id AND `+s.d.Unindexed("state")+` = 'waiting'
 AND NOT EXISTS (SELECT 1 FROM @tasks c WHERE c.parent_task_id = f.w_id AND c.awaited = 1 AND `+inStates("c.state", liveTaskStates)+`)
 RETURNING id, queue, step_name`, s.d.RowSetArgs(wakeCols, rowsIn)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []wokenParent
	for rows.Next() {
		var w ports.WokenTask
		if err := rows.Scan(&w.ID, &w.Queue, &w.StepName); err != nil {
			return nil, err
		}
		out = append(out, wokenParent{item: last[w.ID].item, task: w})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b wokenParent) int { return cmp.Compare(a.task.ID, b.task.ID) })
	return out, nil
}

// NextWake returns the earliest wake-up time of the waiting tasks p would
// claim once due (function, queue and tag filters), or the earliest
// limited_until of the pending tasks a rate limit holds back, whichever
// comes first. One statement: the first row of each in its order.
func (s *Store) NextWake(ctx context.Context, p ports.ClaimParams) (time.Time, bool, error) {
	if err := s.valid(p.ValidateClaimFilter()); err != nil {
		return time.Time{}, false, err
	}
	if err := s.check(); err != nil {
		return time.Time{}, false, err
	}
	if len(p.Functions) == 0 {
		return time.Time{}, false, nil
	}
	filter, args := s.claimFilter(p)
	rows, err := s.queryRows(ctx, `SELECT at FROM (SELECT wake_at AS at FROM @tasks`+s.d.IndexedBy("tasks_wake")+` WHERE `+from("state", domain.TaskResume)+`
 AND wake_at IS NOT NULL AND kind IN ('orchestrator', 'activity')`+filter+` ORDER BY wake_at LIMIT 1) AS w
 UNION ALL SELECT at FROM (SELECT limited_until AS at FROM @tasks`+s.d.IndexedBy("tasks_held")+` WHERE `+from("state", domain.TaskClaim)+`
 AND limited_until IS NOT NULL AND kind IN ('orchestrator', 'activity')`+filter+` ORDER BY limited_until LIMIT 1) AS l`,
		append(append([]any{}, args...), args...)...)
	if err != nil {
		return time.Time{}, false, s.wrap(err, "next wake")
	}
	defer rows.Close()
	var next time.Time
	found := false
	for rows.Next() {
		var at nullTime
		if err := rows.Scan(&at); err != nil {
			return time.Time{}, false, s.wrap(err, "next wake")
		}
		if at.Valid && (!found || at.val().Before(next)) {
			next, found = at.val(), true
		}
	}
	if err := rows.Err(); err != nil {
		return time.Time{}, false, s.wrap(err, "next wake")
	}
	return next, found, nil
}
