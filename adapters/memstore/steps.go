package memstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// CreateSteps makes sure a record exists for every spec, fenced on the
// parent's claim (see ports.StepStore).
func (s *Store) CreateSteps(ctx context.Context, parent domain.Fence, specs []ports.StepSpec, ops []domain.DataOp, now time.Time) ([]domain.Task, error) {
	if err := validateStepsRequest(parent, specs, ops); err != nil {
		return nil, err
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	return s.createStepsLocked(parent, specs, ops, now)
}

// CreateStepsBatch applies several CreateSteps requests under one lock
// (see ports.StepStore).
func (s *Store) CreateStepsBatch(ctx context.Context, reqs []ports.CreateStepsRequest) ([]ports.CreateStepsResult, error) {
	for _, r := range reqs {
		if err := validateStepsRequest(r.Parent, r.Specs, r.Ops); err != nil {
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

func validateStepsRequest(parent domain.Fence, specs []ports.StepSpec, ops []domain.DataOp) error {
	if err := validateFence(parent); err != nil {
		return err
	}
	for _, sp := range specs {
		if err := validateSpec(sp); err != nil {
			return err
		}
	}
	return validateOps(ops)
}

func (s *Store) createStepsLocked(parent domain.Fence, specs []ports.StepSpec, ops []domain.DataOp, now time.Time) ([]domain.Task, error) {
	p, err := s.fenced(parent)
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
			if t.Kind == domain.KindSignal && t.State == domain.TaskPending {
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
// ports.StepStore.CreateSteps).
func (s *Store) newStep(p *domain.Task, sp ports.StepSpec, now time.Time) *domain.Task {
	t := &domain.Task{
		ID:               sp.ID,
		ExecutionID:      p.ExecutionID,
		ParentTaskID:     p.ID,
		Position:         sp.Position,
		Kind:             sp.Kind,
		StepName:         sp.StepName,
		State:            domain.TaskPending,
		Input:            cloneRaw(sp.Input),
		ParentGeneration: p.Generation,
		RetryPolicy:      cloneRetryPolicy(sp.RetryPolicy),
		MaxConcurrent:    sp.MaxConcurrent,
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
			completeStep(t, e.value, now)
			return t
		}
		if key := sp.IdempotencyKey; key != "" {
			if rec, ok := s.idempotency[key]; ok {
				completeStep(t, rec, now)
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
			completeStep(t, c.Result, now)
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

func completeStep(t *domain.Task, result []byte, now time.Time) {
	t.State = domain.TaskCompleted
	t.Result = cloneRaw(result)
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
	completeStep(t, oldest.Payload, now)
	return true
}

// ResetStep re-queues a finished non-root record for a newer generation of
// its parent (see ports.StepStore).
func (s *Store) ResetStep(ctx context.Context, parent domain.Fence, spec ports.StepSpec, now time.Time) (domain.Task, error) {
	if err := validateFence(parent); err != nil {
		return domain.Task{}, err
	}
	if err := validateSpec(spec); err != nil {
		return domain.Task{}, err
	}
	if err := s.lock(ctx); err != nil {
		return domain.Task{}, err
	}
	defer s.mu.Unlock()

	p, err := s.fenced(parent)
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
	if t.State.Live() {
		return domain.Task{}, fmt.Errorf("memstore: reset step %q: %w", t.ID,
			&domain.TransitionError{Entity: "task", From: string(t.State), To: string(domain.TaskPending)})
	}
	now = normTime(now)
	t.Kind = spec.Kind
	t.StepName = spec.StepName
	t.Input = cloneRaw(spec.Input)
	t.RetryPolicy = cloneRetryPolicy(spec.RetryPolicy)
	t.MaxConcurrent = spec.MaxConcurrent
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
	t.State = domain.TaskPending
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
	if err := validateFence(parent); err != nil {
		return domain.Task{}, err
	}
	if err := requireID("sleep task id", taskID); err != nil {
		return domain.Task{}, err
	}
	if err := s.lock(ctx); err != nil {
		return domain.Task{}, err
	}
	defer s.mu.Unlock()

	p, err := s.fenced(parent)
	if err != nil {
		return domain.Task{}, err
	}
	t, ok := s.tasks[taskID]
	if !ok {
		return domain.Task{}, notFound("task", taskID)
	}
	if t.Kind != domain.KindSleep || t.ParentTaskID != p.ID {
		return domain.Task{}, invalid("task %q is a %s step of %q, not a sleep of task %q", t.ID, t.Kind, t.ParentTaskID, p.ID)
	}
	now = normTime(now)
	if t.State == domain.TaskPending && t.Due(now) {
		completeStep(t, nil, now)
	}
	return *cloneTask(t), nil
}

// fenced returns the running task f claims, or ErrLeaseLost.
func (s *Store) fenced(f domain.Fence) (*domain.Task, error) {
	t, ok := s.tasks[f.TaskID]
	if !ok || t.State != domain.TaskRunning || t.WorkerID != f.WorkerID || t.ClaimToken != f.Token {
		return nil, leaseLost(f)
	}
	return t, nil
}

func validateFence(f domain.Fence) error {
	return requireID("fence task id", f.TaskID)
}

func validateSpec(sp ports.StepSpec) error {
	switch {
	case sp.ID == "":
		return invalid("step spec at position %d: id is empty; an id is required", sp.Position)
	case sp.Position < 1:
		return invalid("step spec %q: position %d; want 1 or more", sp.ID, sp.Position)
	case !slices.Contains([]domain.TaskKind{domain.KindActivity, domain.KindSleep, domain.KindSignal}, sp.Kind):
		return invalid("step spec %q: kind %q; allowed: activity, sleep, signal", sp.ID, sp.Kind)
	case sp.StepName == "":
		return invalid("step spec %q: step name is empty", sp.ID)
	case sp.Kind == domain.KindSleep && sp.StepName != domain.SleepStepName:
		return invalid("step spec %q: sleep step name %q; want %q", sp.ID, sp.StepName, domain.SleepStepName)
	case sp.Kind == domain.KindSignal && (!strings.HasPrefix(sp.StepName, "signal:") || sp.StepName == "signal:"):
		return invalid("step spec %q: signal step name %q; want signal:<name>", sp.ID, sp.StepName)
	case sp.Kind == domain.KindActivity && sp.Claim != nil && (sp.Claim.WorkerID == "" || sp.Claim.Token == ""):
		return invalid("step spec %q: inline claim with worker %q and token %q; both are required", sp.ID, sp.Claim.WorkerID, sp.Claim.Token)
	case sp.Completed != nil && (sp.Kind != domain.KindActivity || sp.Claim != nil || sp.CacheKey != "" || sp.IdempotencyKey != ""):
		return invalid("step spec %q: a completed outcome is only for an activity without a claim, cache key or idempotency key", sp.ID)
	}
	return nil
}

func validateOps(ops []domain.DataOp) error {
	for _, op := range ops {
		switch op.Kind {
		case domain.OpAddCounter, domain.OpInitCounter:
			if math.IsNaN(op.Number) || math.IsInf(op.Number, 0) {
				return invalid("data op %s %q: number %v; want a finite number", op.Kind, op.Key, op.Number)
			}
		case domain.OpSetState, domain.OpInitState:
		default:
			return invalid("data op kind %q; allowed: add_counter, init_counter, set_state, init_state", op.Kind)
		}
		if op.Key == "" {
			return invalid("data op %s: key is empty", op.Kind)
		}
	}
	return nil
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
