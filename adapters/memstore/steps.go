package memstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// CreateStepsBatch makes sure a record exists for every spec of every
// request, each fenced on its parent's claim, under one lock (see
// ports.StepStore).
func (s *Store) CreateStepsBatch(ctx context.Context, reqs []ports.CreateStepsRequest) ([]ports.CreateStepsResult, error) {
	for _, r := range reqs {
		if err := valid(r.Validate()); err != nil {
			return nil, err
		}
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]ports.CreateStepsResult, len(reqs))
	for i, r := range reqs {
		tasks, err := s.createStepsLocked(r.Parent, r.Specs, r.Ops, r.Now)
		if err != nil && !errors.Is(err, domain.ErrLeaseLost) {
			// Only a conflict gets here, and it wrote nothing; a batch is
			// all-or-nothing for anything but a stale fence.
			return nil, err
		}
		out[i] = ports.CreateStepsResult{Tasks: tasks, Err: err}
	}
	return out, nil
}

func (s *Store) createStepsLocked(parent domain.Fence, specs []ports.StepSpec, ops []domain.DataOp, now time.Time) ([]domain.Task, error) {
	p, err := s.held(parent)
	if err != nil {
		return nil, err
	}
	for _, sp := range specs {
		if t, ok := s.tasks[sp.ID]; ok && (t.ExecutionID != p.ExecutionID || t.ParentTaskID != p.ID) {
			return nil, fmt.Errorf("memstore: step %q exists under execution %q, parent %q, not under task %q: %w",
				sp.ID, t.ExecutionID, t.ParentTaskID, p.ID, domain.ErrConflict)
		}
	}

	now = normTime(now)
	inserted := false
	rows := make([]*domain.Task, len(specs))
	for i, sp := range specs {
		if t, ok := s.tasks[sp.ID]; ok {
			if t.Kind == domain.KindSignal && domain.TaskResolve.Allows(t.State) {
				s.consumeSignal(t, now)
			}
			rows[i] = t
			continue
		}
		t := s.newStep(p, sp, now)
		s.tasks[t.ID] = t
		rows[i] = t
		inserted = true
	}
	if inserted {
		s.applyOps(p.ExecutionID, ops)
	}
	out := make([]domain.Task, len(rows))
	for i, t := range rows {
		out[i] = *cloneTask(t)
	}
	return out, nil
}

// newStep builds the record of a missing step (the rules of
// ports.StepStore.CreateStepsBatch).
func (s *Store) newStep(p *domain.Task, sp ports.StepSpec, now time.Time) *domain.Task {
	t := &domain.Task{
		ID:               sp.ID,
		ExecutionID:      p.ExecutionID,
		ParentTaskID:     p.ID,
		Position:         sp.Position,
		Kind:             sp.Kind,
		StepName:         sp.StepName,
		Version:          sp.Version,
		State:            domain.TaskPending,
		Input:            cloneRaw(sp.Input),
		ParentGeneration: p.Generation,
		RetryPolicy:      cloneRetryPolicy(sp.RetryPolicy),
		MaxConcurrent:    sp.MaxConcurrent,
		ConcurrencyKey:   sp.ConcurrencyKey,
		RateKey:          sp.RateKey,
		RateLimit:        sp.RateLimit,
		RatePer:          sp.RatePer.Truncate(time.Microsecond),
		Tags:             cloneStrings(sp.Tags),
		Priority:         sp.Priority,
		Queue:            sp.Queue,
		ScheduledFor:     normTimePtr(sp.ScheduledFor),
		Deadline:         normTimePtr(p.Deadline),
		TraceContext:     cloneStringMap(sp.TraceContext),
		CreatedAt:        now,
		UpdatedAt:        now,
	}
	switch sp.Kind {
	case domain.KindSignal:
		s.consumeSignal(t, now)
	case domain.KindActivity:
		t.CacheKey = sp.CacheKey
		if e, ok := s.cache[sp.CacheKey]; ok && sp.CacheKey != "" && (e.expiresAt == nil || e.expiresAt.After(now)) {
			completeStep(t, domain.TaskResolve, e.value, now)
			return t
		}
		if key := sp.IdempotencyKey; key != "" {
			if rec, ok := s.idempotency[key]; ok {
				completeStep(t, domain.TaskResolve, rec, now)
				return t
			}
			if h := s.keyHolder(key); h != nil && h.State.Live() {
				t.Kind = domain.KindLink
				t.LinkOwnerID = h.ID
				return t
			} else if h != nil {
				h.IdempotencyKey = "" // unreachable: a finished holder always has a record
			}
			t.IdempotencyKey = key
		}
		if c := sp.Completed; c != nil {
			t.Attempt = 1
			t.StartedAt = timePtr(normTime(c.StartedAt))
			completeStep(t, domain.TaskResolve, c.Result, now)
			return t
		}
		if c := sp.Claim; c != nil {
			t.State = domain.TaskRunning
			t.Attempt = 1
			t.WorkerID = c.WorkerID
			t.ClaimToken = c.Token
			t.LeaseExpiresAt = timePtr(normTime(c.LeaseExpiresAt))
			t.StartedAt = timePtr(now)
		}
	}
	return t
}

// completeStep ends t with result along tr: TaskComplete for a finished
// run, TaskResolve for a pending record the store completes (a new record
// resolved at once is built pending first).
func completeStep(t *domain.Task, tr domain.TaskTransition, result []byte, now time.Time) {
	t.State = tr.To
	t.Result = cloneRaw(result)
	t.FinishedAt = timePtr(now)
	t.UpdatedAt = now
}

// failStep ends t with taskErr along tr (TaskFail or TaskFailLink).
func failStep(t *domain.Task, tr domain.TaskTransition, taskErr *domain.TaskError, now time.Time) {
	t.State = tr.To
	t.Error = cloneTaskError(taskErr)
	t.FinishedAt = timePtr(now)
	t.UpdatedAt = now
}

// keyHolder returns the task holding the idempotency key, if any.
func (s *Store) keyHolder(key string) *domain.Task {
	for _, t := range s.tasks {
		if t.IdempotencyKey == key {
			return t
		}
	}
	return nil
}

// consumeSignal completes the pending signal step t with the oldest
// unconsumed message of its name, if there is one.
func (s *Store) consumeSignal(t *domain.Task, now time.Time) bool {
	name := strings.TrimPrefix(t.StepName, "signal:")
	var oldest *domain.Signal
	for _, m := range s.signals[t.ExecutionID] {
		if m.Name == name && m.ConsumedBy == "" && (oldest == nil || m.Seq < oldest.Seq) {
			oldest = m
		}
	}
	if oldest == nil {
		return false
	}
	oldest.ConsumedBy = t.ID
	oldest.ConsumedAt = timePtr(now)
	completeStep(t, domain.TaskResolve, oldest.Payload, now)
	return true
}

// ResetStep re-queues a finished non-root record for a newer generation of
// its parent (see ports.StepStore).
func (s *Store) ResetStep(ctx context.Context, parent domain.Fence, spec ports.StepSpec, now time.Time) (domain.Task, error) {
	if err := valid(ports.ValidateFence(parent)); err != nil {
		return domain.Task{}, err
	}
	if err := valid(spec.Validate()); err != nil {
		return domain.Task{}, err
	}
	if err := s.lock(ctx); err != nil {
		return domain.Task{}, err
	}
	defer s.mu.Unlock()

	p, err := s.held(parent)
	if err != nil {
		return domain.Task{}, err
	}
	t, ok := s.tasks[spec.ID]
	if !ok {
		return domain.Task{}, notFound("task", spec.ID)
	}
	if t.ParentTaskID != p.ID || t.ExecutionID != p.ExecutionID {
		return domain.Task{}, invalid("task %q is not a step of task %q", t.ID, p.ID)
	}
	if err := domain.TaskReset.Check(t.State); err != nil {
		return domain.Task{}, fmt.Errorf("memstore: reset step %q: %w", t.ID, err)
	}
	now = normTime(now)
	t.Kind = spec.Kind
	t.StepName = spec.StepName
	t.Version = spec.Version
	t.Input = cloneRaw(spec.Input)
	t.RetryPolicy = cloneRetryPolicy(spec.RetryPolicy)
	t.MaxConcurrent = spec.MaxConcurrent
	t.ConcurrencyKey, t.RateKey, t.RateLimit = spec.ConcurrencyKey, spec.RateKey, spec.RateLimit
	t.RatePer, t.RateLimitedUntil = spec.RatePer.Truncate(time.Microsecond), nil
	t.Tags = cloneStrings(spec.Tags)
	t.Priority = spec.Priority
	t.Queue = spec.Queue
	t.TraceContext = cloneStringMap(spec.TraceContext)
	t.ScheduledFor = normTimePtr(spec.ScheduledFor)
	t.CacheKey, t.IdempotencyKey, t.LinkOwnerID = "", "", ""
	if spec.Kind == domain.KindActivity {
		t.CacheKey = spec.CacheKey
		// The record holds the spec's key unless another task holds it.
		if key := spec.IdempotencyKey; key != "" && s.keyHolder(key) == nil {
			t.IdempotencyKey = key
		}
	}
	t.State = domain.TaskReset.To
	t.Attempt = 0
	t.Recoveries = 0
	t.Awaited = false
	t.Generation++
	t.ParentGeneration = p.Generation
	t.Result, t.Error, t.LastError = nil, nil, nil
	clearLease(t)
	t.FinishedAt = nil
	t.UpdatedAt = now
	delete(s.deadLetters, t.ID)
	return *cloneTask(t), nil
}

// CompleteSleep completes a due pending sleep of the fenced parent.
func (s *Store) CompleteSleep(ctx context.Context, parent domain.Fence, taskID string, now time.Time) (domain.Task, error) {
	if err := valid(ports.ValidateFence(parent)); err != nil {
		return domain.Task{}, err
	}
	if err := valid(ports.ValidateID("sleep task id", taskID)); err != nil {
		return domain.Task{}, err
	}
	if err := s.lock(ctx); err != nil {
		return domain.Task{}, err
	}
	defer s.mu.Unlock()

	p, err := s.held(parent)
	if err != nil {
		return domain.Task{}, err
	}
	t, ok := s.tasks[taskID]
	if !ok {
		return domain.Task{}, notFound("task", taskID)
	}
	if !t.Timed() || t.ParentTaskID != p.ID {
		return domain.Task{}, invalid("task %q is a %s step of %q, not a sleep or a signal wait with a deadline of task %q", t.ID, t.Kind, t.ParentTaskID, p.ID)
	}
	now = normTime(now)
	if domain.TaskResolve.Allows(t.State) && t.Due(now) {
		completeStep(t, domain.TaskResolve, nil, now)
	}
	return *cloneTask(t), nil
}

// held returns the running task whose claim f names, or ErrLeaseLost:
// the fence of a write that does not change the task's state (its steps,
// a renewal).
func (s *Store) held(f domain.Fence) (*domain.Task, error) {
	t, ok := s.tasks[f.TaskID]
	if !ok || t.State != domain.TaskRunning || t.WorkerID != f.WorkerID || t.ClaimToken != f.Token {
		return nil, leaseLost(f)
	}
	return t, nil
}

// fenced returns the task whose claim f names when the claim holder's
// operation tr applies to it (tr starts from running), or ErrLeaseLost.
func (s *Store) fenced(f domain.Fence, tr domain.TaskTransition) (*domain.Task, error) {
	t, err := s.held(f)
	if err != nil || !tr.Allows(t.State) {
		return nil, leaseLost(f)
	}
	return t, nil
}

// applyOps applies validated data ops, in order, to the execution's data.
func (s *Store) applyOps(executionID string, ops []domain.DataOp) {
	if len(ops) == 0 {
		return
	}
	d, ok := s.data[executionID]
	if !ok {
		d = &domain.ExecutionData{Counters: map[string]float64{}, State: map[string]json.RawMessage{}}
		s.data[executionID] = d
	}
	for _, op := range ops {
		switch op.Kind {
		case domain.OpAddCounter:
			d.Counters[op.Key] += op.Number
		case domain.OpInitCounter:
			if _, ok := d.Counters[op.Key]; !ok {
				d.Counters[op.Key] = op.Number
			}
		case domain.OpSetState:
			d.State[op.Key] = cloneRaw(op.Value)
		case domain.OpInitState:
			if _, ok := d.State[op.Key]; !ok {
				d.State[op.Key] = cloneRaw(op.Value)
			}
		}
	}
}
