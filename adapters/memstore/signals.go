package memstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// SendSignal appends payload to the execution's mailbox for name and hands
// the oldest unconsumed message to the oldest pending signal step of that
// name (see ports.SignalStore).
func (s *Store) SendSignal(ctx context.Context, executionID, name string, payload json.RawMessage, now time.Time) (*domain.Task, error) {
	if err := valid(ports.ValidateSignalPayload(executionID, name, payload)); err != nil {
		return nil, err
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	e, ok := s.executions[executionID]
	if !ok {
		return nil, notFound("execution", executionID)
	}
	if e.State.Terminal() {
		return nil, fmt.Errorf("memstore: signal %q to execution %q (%s): %w", name, executionID, e.State, domain.ErrExecutionFinished)
	}
	now = normTime(now)
	var seq int64
	for _, m := range s.signals[executionID] {
		if m.Name == name {
			seq = max(seq, m.Seq)
		}
	}
	s.signals[executionID] = append(s.signals[executionID], &domain.Signal{
		ExecutionID: executionID,
		Name:        name,
		Seq:         seq + 1,
		Payload:     cloneRaw(payload),
		CreatedAt:   now,
	})

	var waiting []*domain.Task
	for _, t := range s.tasksOf(executionID) {
		if t.Kind == domain.KindSignal && domain.TaskResolve.Allows(t.State) && t.StepName == domain.SignalStepName(name) {
			waiting = append(waiting, t)
		}
	}
	if len(waiting) == 0 {
		return nil, nil
	}
	step := slices.MinFunc(waiting, byCreation)
	if !s.consumeSignal(step, now) {
		return nil, nil
	}
	s.wakeParent(step, now)
	return cloneTask(step), nil
}

// ListSignals returns the execution's messages ordered by name, seq. An
// unknown execution has none.
func (s *Store) ListSignals(ctx context.Context, executionID string) ([]domain.Signal, error) {
	if err := valid(ports.ValidateID("execution id", executionID)); err != nil {
		return nil, err
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []domain.Signal
	for _, m := range s.signals[executionID] {
		out = append(out, *cloneSignal(m))
	}
	slices.SortFunc(out, func(a, b domain.Signal) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Seq, b.Seq))
	})
	return out, nil
}

// GetCacheEntries returns the unexpired cache entries among keys.
func (s *Store) GetCacheEntries(ctx context.Context, keys []string, now time.Time) (map[string]json.RawMessage, error) {
	if err := valid(ports.ValidateKeys("cache key", keys)); err != nil {
		return nil, err
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	now = normTime(now)
	out := map[string]json.RawMessage{}
	for _, k := range keys {
		if e, ok := s.cache[k]; ok && (e.expiresAt == nil || e.expiresAt.After(now)) {
			out[k] = cloneRaw(e.value)
		}
	}
	return out, nil
}

// GetIdempotencyRecords returns the idempotency records among keys.
func (s *Store) GetIdempotencyRecords(ctx context.Context, keys []string) (map[string]json.RawMessage, error) {
	if err := valid(ports.ValidateKeys("idempotency key", keys)); err != nil {
		return nil, err
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := map[string]json.RawMessage{}
	for _, k := range keys {
		if v, ok := s.idempotency[k]; ok {
			out[k] = cloneRaw(v)
		}
	}
	return out, nil
}

// DiscardSignal deletes the pending message seq of the execution's mailbox
// for name (see ports.SignalStore).
func (s *Store) DiscardSignal(ctx context.Context, executionID, name string, seq int64) (domain.Signal, error) {
	if err := valid(ports.ValidateSignalSeq(executionID, name, seq)); err != nil {
		return domain.Signal{}, err
	}
	if err := s.lock(ctx); err != nil {
		return domain.Signal{}, err
	}
	defer s.mu.Unlock()
	if _, ok := s.executions[executionID]; !ok {
		return domain.Signal{}, notFound("execution", executionID)
	}
	msgs := s.signals[executionID]
	for i, m := range msgs {
		if m.Name != name || m.Seq != seq {
			continue
		}
		if m.ConsumedBy != "" {
			return domain.Signal{}, fmt.Errorf("memstore: signal %q #%d of execution %q was consumed by step %s and cannot be discarded: %w",
				name, seq, executionID, m.ConsumedBy, domain.ErrConflict)
		}
		out := *m
		out.Payload = cloneRaw(m.Payload)
		s.signals[executionID] = slices.Delete(slices.Clone(msgs), i, i+1)
		return out, nil
	}
	return domain.Signal{}, fmt.Errorf("memstore: signal %q #%d of execution %q: %w", name, seq, executionID, domain.ErrNotFound)
}
