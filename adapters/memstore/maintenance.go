package memstore

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// CountExecutionsByState returns the number of executions per state.
func (s *Store) CountExecutionsByState(ctx context.Context) (map[domain.ExecutionState]int64, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := map[domain.ExecutionState]int64{}
	for _, e := range s.executions {
		out[e.State]++
	}
	return out, nil
}

// CountTasks returns task counts grouped by (state, queue, kind).
func (s *Store) CountTasks(ctx context.Context) ([]ports.TaskCount, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	type group struct {
		state domain.TaskState
		queue string
		kind  domain.TaskKind
	}
	counts := map[group]int64{}
	for _, t := range s.tasks {
		counts[group{t.State, t.Queue, t.Kind}]++
	}
	var out []ports.TaskCount
	for g, n := range counts {
		out = append(out, ports.TaskCount{State: g.state, Queue: g.queue, Kind: g.kind, N: n})
	}
	return out, nil
}

// CountDeadLetters returns the number of dead letters.
func (s *Store) CountDeadLetters(ctx context.Context) (int64, error) {
	if err := s.lock(ctx); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	return int64(len(s.deadLetters)), nil
}

// ListFinished returns terminal executions finished in [f.Since, f.Until),
// most recently finished first (see ports.StatsStore).
func (s *Store) ListFinished(ctx context.Context, f ports.FinishedFilter) ([]ports.FinishedExecution, error) {
	if err := valid(f.Validate()); err != nil {
		return nil, err
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	since, until := domain.NormalizeTime(f.Since), domain.NormalizeTime(f.Until)
	var out []ports.FinishedExecution
	for _, e := range s.executions {
		if e.FinishedAt == nil || !e.State.Terminal() || e.FinishedAt.Before(since) ||
			!f.Until.IsZero() && !e.FinishedAt.Before(until) {
			continue
		}
		out = append(out, ports.FinishedExecution{ID: e.ID, State: e.State, Queue: e.Queue,
			CreatedAt: e.CreatedAt, FinishedAt: *e.FinishedAt})
	}
	slices.SortFunc(out, func(a, b ports.FinishedExecution) int {
		return cmp.Or(b.FinishedAt.Compare(a.FinishedAt), cmp.Compare(b.ID, a.ID))
	})
	if n := ports.PageLimit(f.Limit); len(out) > n {
		out = out[:n]
	}
	return out, nil
}

// Cleanup deletes (or, with DryRun, counts) what p selects; see
// ports.CleanupParams. Live executions and idempotency records are never
// touched. Every row is counted once, under its own kind.
func (s *Store) Cleanup(ctx context.Context, p ports.CleanupParams) (ports.CleanupResult, error) {
	if err := s.lock(ctx); err != nil {
		return ports.CleanupResult{}, err
	}
	defer s.mu.Unlock()
	var res ports.CleanupResult

	execs := map[string]bool{} // executions to delete
	if !p.ExecutionsBefore.IsZero() {
		before := normTime(p.ExecutionsBefore)
		for id, e := range s.executions {
			if e.State.Terminal() && e.FinishedAt != nil && e.FinishedAt.Before(before) {
				execs[id] = true
			}
		}
	}
	res.Executions = int64(len(execs))

	var tasks []string
	for id, t := range s.tasks {
		if execs[t.ExecutionID] {
			tasks = append(tasks, id)
		}
	}
	res.Tasks = int64(len(tasks))

	var dead []string
	for id, d := range s.deadLetters {
		if execs[d.ExecutionID] || !p.DeadLettersBefore.IsZero() && d.MovedAt.Before(normTime(p.DeadLettersBefore)) {
			dead = append(dead, id)
		}
	}
	res.DeadLetters = int64(len(dead))

	dropSignal := func(m *domain.Signal) bool {
		if execs[m.ExecutionID] {
			return true
		}
		if p.SignalsBefore.IsZero() || !m.CreatedAt.Before(normTime(p.SignalsBefore)) {
			return false
		}
		_, exists := s.executions[m.ExecutionID]
		return m.ConsumedBy != "" || !exists
	}
	for _, ms := range s.signals {
		for _, m := range ms {
			if dropSignal(m) {
				res.Signals++
			}
		}
	}

	var cache []string
	if !p.Now.IsZero() {
		now := normTime(p.Now)
		for k, e := range s.cache {
			if e.expiresAt != nil && !e.expiresAt.After(now) {
				cache = append(cache, k)
			}
		}
	}
	res.CacheEntries = int64(len(cache))

	var workers []string
	if !p.WorkersBefore.IsZero() {
		before := normTime(p.WorkersBefore)
		for id, w := range s.workers {
			if w.State != domain.WorkerLive && w.HeartbeatAt.Before(before) {
				workers = append(workers, id)
			}
		}
	}
	res.Workers = int64(len(workers))

	if p.DryRun {
		return res, nil
	}
	for _, id := range workers {
		delete(s.workers, id)
	}
	for execID, ms := range s.signals {
		ms = slices.DeleteFunc(ms, dropSignal)
		if len(ms) == 0 {
			delete(s.signals, execID)
		} else {
			s.signals[execID] = ms
		}
	}
	for id := range execs {
		delete(s.executions, id)
		delete(s.data, id)
	}
	for _, id := range tasks {
		delete(s.tasks, id)
	}
	for _, id := range dead {
		delete(s.deadLetters, id)
	}
	for _, k := range cache {
		delete(s.cache, k)
	}
	return res, nil
}

// UpsertFunctions inserts or replaces catalogue entries by name.
func (s *Store) UpsertFunctions(ctx context.Context, fns []domain.FunctionInfo, now time.Time) error {
	if err := valid(ports.ValidateFunctions(fns)); err != nil {
		return err
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	for _, f := range fns {
		f = cloneFunction(f)
		f.LastSeenAt = normTime(now)
		s.functions[f.Name] = f
	}
	return nil
}

// ListFunctions returns the catalogue ordered by name.
func (s *Store) ListFunctions(ctx context.Context) ([]domain.FunctionInfo, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []domain.FunctionInfo
	for _, f := range s.functions {
		out = append(out, cloneFunction(f))
	}
	slices.SortFunc(out, func(a, b domain.FunctionInfo) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}
