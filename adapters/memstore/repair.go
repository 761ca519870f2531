package memstore

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// splitLocked splits the execution's tasks at step n (domain.SplitAtStep).
func (s *Store) splitLocked(e *domain.Execution, n int) (domain.StepSplit, error) {
	var tasks []domain.Task
	for _, t := range s.tasks {
		if t.ExecutionID == e.ID {
			tasks = append(tasks, *cloneTask(t))
		}
	}
	sp, err := domain.SplitAtStep(e.ID, e.RootTaskID, tasks, n)
	if err != nil {
		return sp, fmt.Errorf("memstore: %w", err)
	}
	return sp, nil
}

// ForkExecution copies an execution up to a step into a new one (see
// ports.RepairStore).
func (s *Store) ForkExecution(ctx context.Context, p ports.ForkParams) (domain.Execution, error) {
	if err := valid(p.Validate()); err != nil {
		return domain.Execution{}, err
	}
	if err := s.lock(ctx); err != nil {
		return domain.Execution{}, err
	}
	defer s.mu.Unlock()
	src, ok := s.executions[p.SourceID]
	if !ok {
		return domain.Execution{}, notFound("execution", p.SourceID)
	}
	sp, err := s.splitLocked(src, p.FromStep)
	if err != nil {
		return domain.Execution{}, err
	}
	if _, taken := s.executions[p.NewID]; taken {
		return domain.Execution{}, fmt.Errorf("memstore: fork of %q: execution %q already exists: %w", src.ID, p.NewID, domain.ErrConflict)
	}
	now := normTime(p.Now)
	deadline := src.RepairDeadline(now)
	copies := domain.ForkSteps(sp.Keep, sp.Root.ID, p.NewID, p.NewRootID, deadline)
	for _, id := range append([]string{p.NewRootID}, taskIDs(copies)...) {
		if _, taken := s.tasks[id]; taken {
			return domain.Execution{}, fmt.Errorf("memstore: fork of %q: task %q already exists: %w", src.ID, id, domain.ErrConflict)
		}
	}

	e := cloneExecution(src)
	e.ID, e.RootTaskID, e.ForkedFrom = p.NewID, p.NewRootID, src.ID
	if p.Input != nil {
		e.Input = cloneRaw(p.Input)
	}
	e.State = domain.ExecutionPending
	e.Result, e.Error, e.IdempotencyKey = nil, nil, ""
	e.ScheduledFor, e.Deadline = nil, deadline
	e.CreatedAt, e.UpdatedAt, e.StartedAt, e.FinishedAt = now, now, nil, nil

	root := cloneTask(&sp.Root)
	root.ID, root.ExecutionID, root.Input = e.RootTaskID, e.ID, cloneRaw(e.Input)
	resetRoot(root, now, deadline)
	root.Generation = 0
	root.ScheduledFor = nil
	root.CreatedAt, root.StartedAt = now, nil
	if len(copies) > 0 { // the root has run: its first claim re-attaches to the copies
		root.CreatedAt, root.StartedAt = sp.Root.CreatedAt, sp.Root.StartedAt
		if root.StartedAt == nil {
			root.StartedAt = timePtr(now)
		}
	}

	s.executions[e.ID] = e
	s.tasks[root.ID] = root
	for i := range copies {
		c := cloneTask(&copies[i])
		c.UpdatedAt = now
		s.tasks[c.ID] = c
	}
	copied := map[string]string{}
	for i, t := range sp.Keep {
		copied[t.ID] = copies[i].ID
	}
	for _, m := range s.signals[src.ID] {
		c := cloneSignal(m)
		c.ExecutionID = e.ID
		if id, kept := copied[m.ConsumedBy]; kept {
			c.ConsumedBy = id
		} else {
			c.ConsumedBy, c.ConsumedAt = "", nil
		}
		s.signals[e.ID] = append(s.signals[e.ID], c)
	}
	if d, ok := s.data[src.ID]; ok {
		s.data[e.ID] = &domain.ExecutionData{Counters: maps.Clone(d.Counters), State: maps.Clone(d.State)}
	}
	return *cloneExecution(e), nil
}

// ResetExecution re-runs an ended execution from a step (see
// ports.RepairStore).
func (s *Store) ResetExecution(ctx context.Context, p ports.ResetParams) (domain.Execution, error) {
	if err := valid(p.Validate()); err != nil {
		return domain.Execution{}, err
	}
	if err := s.lock(ctx); err != nil {
		return domain.Execution{}, err
	}
	defer s.mu.Unlock()
	e, ok := s.executions[p.ID]
	if !ok {
		return domain.Execution{}, notFound("execution", p.ID)
	}
	if err := domain.CheckResettable(e.ID, e.State); err != nil {
		return domain.Execution{}, fmt.Errorf("memstore: %w", err)
	}
	sp, err := s.splitLocked(e, p.FromStep)
	if err != nil {
		return domain.Execution{}, err
	}
	now := normTime(p.Now)
	dropped := map[string]bool{}
	for _, t := range sp.Drop {
		dropped[t.ID] = true
		delete(s.tasks, t.ID)
		delete(s.deadLetters, t.ID)
	}
	for _, m := range s.signals[e.ID] {
		if dropped[m.ConsumedBy] {
			m.ConsumedBy, m.ConsumedAt = "", nil
		}
	}
	deadline := e.RepairDeadline(now)
	resetRoot(s.tasks[e.RootTaskID], now, deadline)
	delete(s.deadLetters, e.RootTaskID)

	e.State = domain.ExecReset.To
	e.Result, e.Error, e.FinishedAt = nil, nil, nil
	e.Deadline = deadline
	e.UpdatedAt = now
	return *cloneExecution(e), nil
}

// resetRoot makes a root pending and due now for a fresh run (attempt 0,
// outcome, errors, lease and park flags cleared).
func resetRoot(t *domain.Task, now time.Time, deadline *time.Time) {
	t.State = domain.TaskPending
	t.Attempt, t.Recoveries = 0, 0
	t.Result, t.Error, t.LastError = nil, nil, nil
	clearLease(t)
	t.WakeAt, t.Awaited = nil, false
	t.IdempotencyKey, t.LinkOwnerID = "", ""
	t.ScheduledFor = timePtr(now)
	t.Deadline = normTimePtr(deadline)
	t.FinishedAt = nil
	t.UpdatedAt = now
}

func taskIDs(ts []domain.Task) []string {
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	return ids
}
