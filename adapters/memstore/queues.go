package memstore

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// queueRow is a queue's pause state.
type queueRow struct {
	paused   bool
	pausedAt *time.Time
}

// SetQueuePaused pauses or resumes a queue (see ports.QueueStore).
func (s *Store) SetQueuePaused(ctx context.Context, name string, paused bool, now time.Time) (bool, error) {
	if err := valid(ports.ValidateQueueName(name)); err != nil {
		return false, err
	}
	if err := s.lock(ctx); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	q := s.queues[name]
	if q == nil {
		q = &queueRow{}
		s.queues[name] = q
	}
	if q.paused == paused {
		return false, nil
	}
	q.paused, q.pausedAt = paused, nil
	if paused {
		q.pausedAt = timePtr(normTime(now))
	}
	return true, nil
}

// pausedQueue reports whether a task's queue is paused; the caller holds
// the lock.
func (s *Store) pausedQueue(queue string) bool {
	q := s.queues[queue]
	return q != nil && q.paused
}

// ListQueues lists the queues with a row or live runnable work, by name.
func (s *Store) ListQueues(ctx context.Context) ([]domain.QueueInfo, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	byName := map[string]*domain.QueueInfo{}
	get := func(name string) *domain.QueueInfo {
		q, ok := byName[name]
		if !ok {
			q = &domain.QueueInfo{Name: name}
			byName[name] = q
		}
		return q
	}
	for _, t := range s.tasks {
		if !t.Kind.Claimable() {
			continue
		}
		switch t.State {
		case domain.TaskPending:
			q := get(t.Queue)
			q.Pending++
			if q.OldestPendingAt == nil || t.CreatedAt.Before(*q.OldestPendingAt) {
				q.OldestPendingAt = timePtr(t.CreatedAt)
			}
		case domain.TaskRunning:
			get(t.Queue).Running++
		}
	}
	for name, r := range s.queues {
		q := get(name)
		q.Paused = r.paused
		if r.paused {
			q.PausedAt = timePtr(*r.pausedAt)
		}
	}
	out := make([]domain.QueueInfo, 0, len(byName))
	for _, q := range byName {
		out = append(out, *q)
	}
	slices.SortFunc(out, func(a, b domain.QueueInfo) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}
