package memstore

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// RegisterWorker inserts or replaces a worker's registry row, live.
func (s *Store) RegisterWorker(ctx context.Context, w domain.WorkerInfo, now time.Time) error {
	if err := valid(ports.ValidateWorker(w)); err != nil {
		return err
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	now = normTime(now)
	c := cloneWorker(&w)
	c.State, c.StartedAt, c.HeartbeatAt, c.StoppedAt = domain.WorkerLive, now, now, nil
	s.workers[w.ID] = c
	return nil
}

// TouchWorker records a heartbeat.
func (s *Store) TouchWorker(ctx context.Context, id string, now time.Time) error {
	if err := valid(ports.ValidateID("worker id", id)); err != nil {
		return err
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	w, ok := s.workers[id]
	if !ok {
		return notFound("worker", id)
	}
	w.HeartbeatAt, w.State, w.StoppedAt = normTime(now), domain.WorkerLive, nil
	return nil
}

// StopWorker marks a worker stopped.
func (s *Store) StopWorker(ctx context.Context, id string, now time.Time) error {
	if err := valid(ports.ValidateID("worker id", id)); err != nil {
		return err
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	w, ok := s.workers[id]
	if !ok {
		return notFound("worker", id)
	}
	w.State, w.StoppedAt = domain.WorkerStopped, timePtr(normTime(now))
	return nil
}

// ExpireWorkers declares the selected live workers dead and ends the
// leases of their running tasks (see ports.WorkerStore).
func (s *Store) ExpireWorkers(ctx context.Context, p ports.ExpireWorkersParams) ([]ports.ExpiredWorker, error) {
	if err := valid(p.Validate()); err != nil {
		return nil, err
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	now := normTime(p.Now)
	stale := normTime(p.StaleBefore)
	var out []ports.ExpiredWorker
	for _, w := range s.workers {
		if w.State != domain.WorkerLive || w.ID == p.Except || p.ExceptProcess != "" && w.Process == p.ExceptProcess {
			continue
		}
		if !slices.Contains(p.IDs, w.ID) && (p.StaleBefore.IsZero() || !w.HeartbeatAt.Before(stale)) {
			continue
		}
		w.State, w.StoppedAt = domain.WorkerDead, timePtr(now)
		n := 0
		for _, t := range s.tasks {
			if t.State == domain.TaskRunning && t.WorkerID == w.ID {
				t.LeaseExpiresAt = timePtr(now)
				t.ClaimToken = domain.NewID()
				t.UpdatedAt = now
				n++
			}
		}
		out = append(out, ports.ExpiredWorker{Worker: *cloneWorker(w), Tasks: n})
	}
	slices.SortFunc(out, func(a, b ports.ExpiredWorker) int { return cmp.Compare(a.Worker.ID, b.Worker.ID) })
	return out, nil
}

// ListWorkers returns the registry, live workers first.
func (s *Store) ListWorkers(ctx context.Context) ([]domain.WorkerInfo, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]domain.WorkerInfo, 0, len(s.workers))
	for _, w := range s.workers {
		out = append(out, *cloneWorker(w))
	}
	slices.SortFunc(out, workerOrder)
	return out, nil
}

// workerOrder puts live workers first, then by id.
func workerOrder(a, b domain.WorkerInfo) int {
	al, bl := a.State == domain.WorkerLive, b.State == domain.WorkerLive
	if al != bl {
		if al {
			return -1
		}
		return 1
	}
	return cmp.Compare(a.ID, b.ID)
}

func cloneWorker(w *domain.WorkerInfo) *domain.WorkerInfo {
	c := *w
	c.Queues = cloneStrings(w.Queues)
	c.Functions = cloneStrings(w.Functions)
	c.Versions = cloneStringMap(w.Versions)
	if c.VersionPolicy == "" {
		c.VersionPolicy = domain.VersionStrict
	}
	c.StartedAt = normTime(w.StartedAt)
	c.HeartbeatAt = normTime(w.HeartbeatAt)
	c.StoppedAt = normTimePtr(w.StoppedAt)
	return &c
}
