package memstore

import (
	"context"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// rateSpec is a rate key's limit and the function and queue of a task
// charged to it (the rate log keeps only times).
type rateSpec struct {
	limit       int
	per         time.Duration
	step, queue string
}

// noteRate records the rate spec of a task charged to its rate key; the
// caller holds the lock.
func (s *Store) noteRate(t *domain.Task) {
	sp := s.rateSpecs[t.RateKey]
	s.rateSpecs[t.RateKey] = rateSpec{limit: max(sp.limit, t.RateLimit), per: max(sp.per, t.RatePer), step: t.StepName, queue: t.Queue}
}

// ListLimitUsage reports the flow limits' current use (see
// ports.LimitStore).
func (s *Store) ListLimitUsage(ctx context.Context, f ports.LimitUsageFilter) ([]domain.LimitUsage, error) {
	if err := valid(ports.ValidateLimitUsageFilter(f)); err != nil {
		return nil, err
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	tally := domain.NewLimitTally(f.Groups)
	for _, t := range s.tasks {
		if !t.Kind.Claimable() || (t.State != domain.TaskPending && t.State != domain.TaskRunning) {
			continue
		}
		if t.MaxConcurrent > 0 {
			tally.AddTasks(domain.LimitConcurrency, t.ConcurrencyGroup(), t.StepName, t.Queue, t.State, 1, t.MaxConcurrent, 0)
		}
		if t.RateLimit > 0 {
			tally.AddTasks(domain.LimitRate, t.RateKey, t.StepName, t.Queue, t.State, 1, t.RateLimit, t.RatePer)
		}
	}
	for key, starts := range s.rateStarts {
		sp := s.rateSpecs[key]
		for _, at := range starts {
			tally.AddStart(key, sp.step, sp.queue, at, sp.limit, sp.per)
		}
	}
	return tally.List(normTime(f.Now), ports.PageLimit(f.Limit)), nil
}
