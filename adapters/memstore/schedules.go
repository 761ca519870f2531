package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

func cloneSchedule(s *domain.Schedule) *domain.Schedule {
	c := *s
	c.Input = cloneRaw(s.Input)
	c.NextTick = normTime(s.NextTick)
	c.LastTick = normTimePtr(s.LastTick)
	c.CreatedAt, c.UpdatedAt = normTime(s.CreatedAt), normTime(s.UpdatedAt)
	return &c
}

// CreateSchedule inserts a schedule; ErrConflict if the name is taken.
func (s *Store) CreateSchedule(ctx context.Context, sc domain.Schedule, now time.Time) (domain.Schedule, error) {
	if err := valid(ports.ValidateSchedule(sc)); err != nil {
		return domain.Schedule{}, err
	}
	if err := s.lock(ctx); err != nil {
		return domain.Schedule{}, err
	}
	defer s.mu.Unlock()
	if _, ok := s.schedules[sc.Name]; ok {
		return domain.Schedule{}, fmt.Errorf("memstore: schedule %q already exists: %w", sc.Name, domain.ErrConflict)
	}
	c := cloneSchedule(&sc)
	c.Version, c.CreatedAt, c.UpdatedAt = 1, normTime(now), normTime(now)
	s.schedules[sc.Name] = c
	return *cloneSchedule(c), nil
}

// GetSchedule returns one schedule.
func (s *Store) GetSchedule(ctx context.Context, name string) (domain.Schedule, error) {
	if err := valid(ports.ValidateScheduleName(name)); err != nil {
		return domain.Schedule{}, err
	}
	if err := s.lock(ctx); err != nil {
		return domain.Schedule{}, err
	}
	defer s.mu.Unlock()
	c, ok := s.schedules[name]
	if !ok {
		return domain.Schedule{}, notFound("schedule", name)
	}
	return *cloneSchedule(c), nil
}

// ListSchedules returns every schedule by name.
func (s *Store) ListSchedules(ctx context.Context) ([]domain.Schedule, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]domain.Schedule, 0, len(s.schedules))
	for _, c := range s.schedules {
		out = append(out, *cloneSchedule(c))
	}
	slices.SortFunc(out, func(a, b domain.Schedule) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// UpdateSchedule replaces a schedule if its version matches.
func (s *Store) UpdateSchedule(ctx context.Context, sc domain.Schedule, now time.Time) (domain.Schedule, error) {
	if err := valid(ports.ValidateSchedule(sc)); err != nil {
		return domain.Schedule{}, err
	}
	if err := s.lock(ctx); err != nil {
		return domain.Schedule{}, err
	}
	defer s.mu.Unlock()
	cur, ok := s.schedules[sc.Name]
	if !ok {
		return domain.Schedule{}, notFound("schedule", sc.Name)
	}
	if cur.Version != sc.Version {
		return domain.Schedule{}, fmt.Errorf("memstore: schedule %q is at version %d, not %d: %w", sc.Name, cur.Version, sc.Version, domain.ErrConflict)
	}
	c := cloneSchedule(&sc)
	c.Version, c.CreatedAt, c.UpdatedAt = cur.Version+1, cur.CreatedAt, normTime(now)
	s.schedules[sc.Name] = c
	return *cloneSchedule(c), nil
}

// DeleteSchedule removes a schedule.
func (s *Store) DeleteSchedule(ctx context.Context, name string) error {
	if err := valid(ports.ValidateScheduleName(name)); err != nil {
		return err
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.schedules[name]; !ok {
		return notFound("schedule", name)
	}
	delete(s.schedules, name)
	return nil
}

// DueSchedules returns unpaused schedules whose next tick is <= now.
func (s *Store) DueSchedules(ctx context.Context, now time.Time, limit int) ([]domain.Schedule, error) {
	if err := valid(ports.ValidateDueLimit(limit)); err != nil {
		return nil, err
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	now = normTime(now)
	var out []domain.Schedule
	for _, c := range s.schedules {
		if !c.Paused && !c.NextTick.After(now) {
			out = append(out, *cloneSchedule(c))
		}
	}
	slices.SortFunc(out, func(a, b domain.Schedule) int {
		return cmp.Or(a.NextTick.Compare(b.NextTick), cmp.Compare(a.Name, b.Name))
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
