package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// workerColumns is the column list every worker read selects.
const workerColumns = `id, name, host, pid, process, queues, functions, state, started_at, heartbeat_at, stopped_at,
 versions, version_policy`

func scanWorker(r rowScanner) (domain.WorkerInfo, error) {
	var (
		w                  domain.WorkerInfo
		pid                int64
		queues, functions  []byte
		state              string
		started, heartbeat nullTime
		stopped            nullTime
		versions           []byte
		policy             string
	)
	if err := r.Scan(&w.ID, &w.Name, &w.Host, &pid, &w.Process, &queues, &functions, &state,
		&started, &heartbeat, &stopped, &versions, &policy); err != nil {
		return w, err
	}
	w.PID, w.State = int(pid), domain.WorkerState(state)
	w.StartedAt, w.HeartbeatAt, w.StoppedAt = started.val(), heartbeat.val(), stopped.ptr()
	var err error
	if w.Queues, err = decodeStrings(queues); err != nil {
		return w, fmt.Errorf("worker %q: queues: %w", w.ID, err)
	}
	if w.Functions, err = decodeStrings(functions); err != nil {
		return w, fmt.Errorf("worker %q: functions: %w", w.ID, err)
	}
	if w.Versions, err = decodeStringMap(versions); err != nil {
		return w, fmt.Errorf("worker %q: versions: %w", w.ID, err)
	}
	if w.VersionPolicy, err = domain.ParseVersionPolicy(policy); err != nil {
		return w, fmt.Errorf("worker %q: %w", w.ID, err)
	}
	return w, nil
}

// RegisterWorker inserts or replaces a worker's registry row, live, with
// StartedAt = HeartbeatAt = now.
func (s *Store) RegisterWorker(ctx context.Context, w domain.WorkerInfo, now time.Time) error {
	if err := s.valid(ports.ValidateWorker(w)); err != nil {
		return err
	}
	policy, _ := domain.ParseVersionPolicy(string(w.VersionPolicy)) // checked by ValidateWorker
	if len(w.Versions) == 0 {
		w.Versions = nil
	}
	return s.write(ctx, "register worker", func(t *txn) error {
		_, err := t.exec(`INSERT INTO @workers (`+workerColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, 'live', ?, ?, NULL, ?, ?)
 ON CONFLICT (id) DO UPDATE SET name = excluded.name, host = excluded.host, pid = excluded.pid,
 process = excluded.process, queues = excluded.queues, functions = excluded.functions, state = excluded.state,
 started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, stopped_at = NULL,
 versions = excluded.versions, version_policy = excluded.version_policy`,
			w.ID, w.Name, w.Host, int64(w.PID), w.Process, mustJSONText(w.Queues), mustJSONText(w.Functions),
			s.tm(now), s.tm(now), mustJSONText(w.Versions), string(policy))
		return err
	})
}

// TouchWorker records a heartbeat; a worker declared dead becomes live
// again.
func (s *Store) TouchWorker(ctx context.Context, id string, now time.Time) error {
	return s.updateWorker(ctx, "touch worker", id,
		`UPDATE @workers SET heartbeat_at = ?, state = 'live', stopped_at = NULL WHERE id = ?`, s.tm(now), id)
}

// StopWorker marks a worker stopped.
func (s *Store) StopWorker(ctx context.Context, id string, now time.Time) error {
	return s.updateWorker(ctx, "stop worker", id,
		`UPDATE @workers SET state = 'stopped', stopped_at = ? WHERE id = ?`, s.tm(now), id)
}

// updateWorker runs a one-row update of the worker id; ErrNotFound when
// there is no such worker.
func (s *Store) updateWorker(ctx context.Context, op, id, query string, args ...any) error {
	if err := s.valid(ports.ValidateID("worker id", id)); err != nil {
		return err
	}
	return s.write(ctx, op, func(t *txn) error {
		n, err := t.execN(query, args...)
		if err != nil {
			return err
		}
		if n == 0 {
			return s.notFound("worker", id)
		}
		return nil
	})
}

// ExpireWorkers declares the selected live workers dead and, in the same
// transaction, ends the leases of their running tasks with one statement
// (lease_expires_at = now and a new claim token), so they are reclaimed at
// once and the dead workers' later writes are rejected.
func (s *Store) ExpireWorkers(ctx context.Context, p ports.ExpireWorkersParams) ([]ports.ExpiredWorker, error) {
	if err := s.valid(p.Validate()); err != nil {
		return nil, err
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	var sel []string
	var selArgs []any
	if len(p.IDs) > 0 {
		sel = append(sel, s.d.InList("id"))
		selArgs = append(selArgs, s.d.StringList(p.IDs))
	}
	if !p.StaleBefore.IsZero() {
		sel = append(sel, "heartbeat_at < ?")
		selArgs = append(selArgs, s.tm(p.StaleBefore))
	}
	if len(sel) == 0 {
		return nil, nil
	}
	now := domain.NormalizeTime(p.Now)
	query := `UPDATE @workers SET state = 'dead', stopped_at = ? WHERE state = 'live' AND (` + strings.Join(sel, " OR ") + `)`
	args := append([]any{s.tm(now)}, selArgs...)
	if p.Except != "" {
		query += ` AND id <> ?`
		args = append(args, p.Except)
	}
	if p.ExceptProcess != "" {
		query += ` AND process <> ?`
		args = append(args, p.ExceptProcess)
	}
	var out []ports.ExpiredWorker
	err := s.write(ctx, "expire workers", func(t *txn) error {
		out = nil
		rows, err := t.query(query+` RETURNING `+workerColumns, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			w, err := scanWorker(rows)
			if err != nil {
				return err
			}
			out = append(out, ports.ExpiredWorker{Worker: w})
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		if len(out) == 0 {
			return nil
		}
		ids := make([]string, len(out))
		for i, e := range out {
			ids[i] = e.Worker.ID
		}
		token := domain.NewID()[:23] + "/"
		rows, err = t.query(`UPDATE @tasks SET lease_expires_at = ?, claim_token = ? || id, updated_at = ?
 WHERE state = 'running' AND `+s.d.InList("worker_id")+` RETURNING worker_id`,
			s.tm(now), token, s.tm(now), s.d.StringList(ids))
		if err != nil {
			return err
		}
		defer rows.Close()
		tasks := make(map[string]int, len(out))
		for rows.Next() {
			var w string
			if err := rows.Scan(&w); err != nil {
				return err
			}
			tasks[w]++
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range out {
			out[i].Tasks = tasks[out[i].Worker.ID]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b ports.ExpiredWorker) int { return cmp.Compare(a.Worker.ID, b.Worker.ID) })
	return out, nil
}

// ListWorkers returns the registry, live workers first, each group by id.
func (s *Store) ListWorkers(ctx context.Context) ([]domain.WorkerInfo, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	rows, err := s.queryRows(ctx, `SELECT `+workerColumns+` FROM @workers`)
	if err != nil {
		return nil, s.wrap(err, "list workers")
	}
	defer rows.Close()
	var out []domain.WorkerInfo
	for rows.Next() {
		w, err := scanWorker(rows)
		if err != nil {
			return nil, s.wrap(err, "list workers")
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(err, "list workers")
	}
	// Sorted here rather than in SQL: byte order whatever the database
	// collation.
	slices.SortFunc(out, func(a, b domain.WorkerInfo) int {
		al, bl := a.State == domain.WorkerLive, b.State == domain.WorkerLive
		switch {
		case al && !bl:
			return -1
		case bl && !al:
			return 1
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// deleteOldWorkers removes the registry rows of stopped or dead workers
// last heard of before the bound (Cleanup).
func (s *Store) deleteOldWorkers(t *txn, before time.Time) (int64, error) {
	return t.execN(`DELETE FROM @workers WHERE state <> 'live' AND heartbeat_at < ?`, s.tm(before))
}
