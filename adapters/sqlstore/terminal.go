package sqlstore

import (
	"database/sql"
	"errors"
	"sort"
	"time"

	"github.com/stenthq/stent/domain"
)

// leaseClear is the SET fragment that drops a task's claim.
const leaseClear = `worker_id = NULL, claim_token = NULL, lease_expires_at = NULL`

// cancelLiveTasks cancels every live task of the executions (state
// cancelled, lease cleared, finished_at = now) and hands over or releases
// the idempotency keys the cancelled tasks held (store-semantics §8, §9).
func (s *Store) cancelLiveTasks(t *txn, execIDs []string, now time.Time) error {
	if len(execIDs) == 0 {
		return nil
	}
	rows := make([][]any, len(execIDs))
	for i, id := range execIDs {
		rows[i] = []any{id, domain.NormalizeTime(now)}
	}
	return s.cancelLiveTasksAt(t, rows)
}

var cancelCols = []Column{{"x_id", ColText}, {"x_now", ColTime}}

// cancelLiveTasksAt is cancelLiveTasks with a time per execution, in one
// statement: rows are (execution id string, now time.Time).
func (s *Store) cancelLiveTasksAt(t *txn, execs [][]any) error {
	if len(execs) == 0 {
		return nil
	}
	// The execution ids drive the update through the (execution_id)
	// index; each row takes its execution's time from the same row set.
	// (An UPDATE ... FROM join lets SQLite scan every task per row.)
	args := s.d.RowSetArgs(cancelCols, execs)
	at := `(SELECT f.x_now FROM ` + s.d.RowSet("f", cancelCols) + ` WHERE f.x_id = @tasks.execution_id)`
	all := append(append(append([]any{}, args...), args...), args...)
	rows, err := t.query(`UPDATE @tasks SET `+to(domain.TaskCancel)+`, `+leaseClear+`, finished_at = `+at+`, updated_at = `+at+`
 WHERE execution_id IN (SELECT f.x_id FROM `+s.d.RowSet("f", cancelCols)+`) AND `+from("state", domain.TaskCancel)+`
 RETURNING id, idempotency_key, created_at, position, execution_id`, all...)
	if err != nil {
		return err
	}
	type holder struct {
		id, key, exec string
		created       nullTime
		position      int64
	}
	var holders []holder
	for rows.Next() {
		var h holder
		var key sql.NullString
		if err := rows.Scan(&h.id, &key, &h.created, &h.position, &h.exec); err != nil {
			rows.Close()
			return err
		}
		if key.Valid && key.String != "" {
			h.key = key.String
			holders = append(holders, h)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	sort.Slice(holders, func(i, j int) bool {
		a, b := holders[i], holders[j]
		if !a.created.T.Equal(b.created.T) {
			return a.created.T.Before(b.created.T)
		}
		if a.position != b.position {
			return a.position < b.position
		}
		return a.id < b.id
	})
	if len(holders) == 0 {
		return nil
	}
	nowOf := make(map[string]time.Time, len(execs))
	for _, e := range execs {
		nowOf[e[0].(string)] = e[1].(time.Time)
	}
	for _, h := range holders {
		if err := s.handOverKey(t, h.id, h.key, nowOf[h.exec]); err != nil {
			return err
		}
	}
	return nil
}

// handOverKey passes the idempotency key of a cancelled holder to the
// oldest pending link of a live execution (which becomes a pending activity
// due now, holding the key; the other links follow it), or releases it.
func (s *Store) handOverKey(t *txn, holderID, key string, now time.Time) error {
	if _, err := t.exec(`UPDATE @tasks SET idempotency_key = NULL WHERE id = ?`, holderID); err != nil {
		return err
	}
	var next string
	err := t.queryRow(`SELECT l.id FROM @tasks l JOIN @executions e ON e.id = l.execution_id
 WHERE l.link_owner_id = ? AND l.state = 'pending' AND l.kind = 'link' AND `+inStates("e.state", liveExecutionStates)+`
 ORDER BY l.created_at, l.id LIMIT 1`, holderID).Scan(&next)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // released
	}
	if err != nil {
		return err
	}
	if _, err := t.exec(`UPDATE @tasks SET kind = 'activity', idempotency_key = ?, link_owner_id = NULL, state = 'pending',
 scheduled_for = ?, attempt = 0, updated_at = ? WHERE id = ?`, key, s.tm(now), s.tm(now), next); err != nil {
		return err
	}
	_, err = t.exec(`UPDATE @tasks SET link_owner_id = ?, updated_at = ? WHERE link_owner_id = ? AND state = 'pending'`,
		next, s.tm(now), holderID)
	return err
}
