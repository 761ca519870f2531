package sqlstore

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// SetQueuePaused pauses or resumes a queue (see ports.QueueStore): the row
// is created if missing, then locked and changed only when its state
// differs, so concurrent calls agree on which one changed it.
func (s *Store) SetQueuePaused(ctx context.Context, name string, paused bool, now time.Time) (bool, error) {
	if err := s.valid(ports.ValidateQueueName(name)); err != nil {
		return false, err
	}
	if err := s.check(); err != nil {
		return false, err
	}
	now = domain.NormalizeTime(now)
	want := int64(0)
	if paused {
		want = 1
	}
	var changed bool
	err := s.write(ctx, "set queue paused", func(t *txn) error {
		changed = false
		if _, err := t.exec(`INSERT INTO @queues (name, paused, updated_at) VALUES (?, 0, ?) ON CONFLICT (name) DO NOTHING`,
			name, s.tm(now)); err != nil {
			return err
		}
		var cur int64
		if err := t.queryRow(`SELECT paused FROM @queues WHERE name = ?`+s.d.ForUpdate(), name).Scan(&cur); err != nil {
			return err
		}
		if cur == want {
			return nil
		}
		var at any
		if paused {
			at = s.tm(now)
		}
		if _, err := t.exec(`UPDATE @queues SET paused = ?, paused_at = ?, updated_at = ? WHERE name = ?`,
			want, at, s.tm(now), name); err != nil {
			return err
		}
		changed = true
		return nil
	})
	return changed, err
}

// pausedExclusion is the claim filter's condition that drops the tasks of
// paused queues: an anti-join on the queues primary key, inside the
// candidate statements (no extra statement per claim).
const pausedExclusion = ` AND NOT EXISTS (SELECT 1 FROM @queues pq WHERE pq.name = queue AND pq.paused = 1)`

// ListQueues lists the queues with a row or live runnable work, by name.
func (s *Store) ListQueues(ctx context.Context) ([]domain.QueueInfo, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	byName := map[string]*domain.QueueInfo{}
	get := func(name string) *domain.QueueInfo {
		q, ok := byName[name]
		if !ok {
			q = &domain.QueueInfo{Name: name}
			byName[name] = q
		}
		return q
	}
	err := s.read(ctx, "list queues", func(t *txn) error {
		clear(byName)
		// The live-states term repeats the predicate of tasks_counts (schema
		// v10) word for word: SQLite uses a partial index only when the
		// query holds its WHERE terms.
		rows, err := t.query(`SELECT queue, state, COUNT(*), MIN(created_at) FROM @tasks
 WHERE state IN ('pending', 'running') AND ` + inStates("state", liveTaskStates) + `
 AND kind IN ('orchestrator', 'activity') GROUP BY queue, state`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				name, state string
				n           int64
				oldest      nullTime
			)
			if err := rows.Scan(&name, &state, &n, &oldest); err != nil {
				rows.Close()
				return err
			}
			q := get(name)
			if state == string(domain.TaskPending) {
				q.Pending, q.OldestPendingAt = n, oldest.ptr()
			} else {
				q.Running = n
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = t.query(`SELECT name, paused, paused_at FROM @queues`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				name   string
				paused int64
				at     nullTime
			)
			if err := rows.Scan(&name, &paused, &at); err != nil {
				return err
			}
			q := get(name)
			q.Paused = paused == 1
			if q.Paused {
				q.PausedAt = at.ptr()
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	out := make([]domain.QueueInfo, 0, len(byName))
	for _, q := range byName {
		out = append(out, *q)
	}
	slices.SortFunc(out, func(a, b domain.QueueInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
