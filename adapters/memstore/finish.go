package memstore

import (
	"context"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// CompleteTasks applies a batch of completions under one lock, fenced
// (see ports.CompleteParams); a stale item gets ErrLeaseLost without
// stopping the others. Bad input in any item rejects the whole batch.
func (s *Store) CompleteTasks(ctx context.Context, ps []ports.CompleteParams) ([]ports.CompleteResult, error) {
	for _, p := range ps {
		if err := valid(p.Validate()); err != nil {
			return nil, err
		}
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]ports.CompleteResult, len(ps))
	for i, p := range ps {
		out[i].Woken, out[i].Err = s.complete(p)
	}
	return out, nil
}

func (s *Store) complete(p ports.CompleteParams) ([]ports.WokenTask, error) {
	t, err := s.fenced(p.Fence, domain.TaskComplete)
	if err != nil {
		return nil, err
	}
	now := normTime(p.Now)
	var woken []ports.WokenTask
	wake := func(t *domain.Task) {
		if w := s.wakeParent(t, now); w != nil {
			woken = append(woken, *w)
		}
	}
	completeStep(t, domain.TaskComplete, p.Result, now)
	clearLease(t)
	s.applyOps(t.ExecutionID, p.Ops)
	if t.CacheKey != "" {
		s.cache[t.CacheKey] = cacheEntry{value: cloneRaw(p.Result), expiresAt: normTimePtr(p.CacheExpiresAt)}
	}
	if t.IdempotencyKey != "" {
		s.idempotency[t.IdempotencyKey] = cloneRaw(p.Result)
	}
	wake(t)
	for _, l := range s.pendingLinks(t.ID) {
		completeStep(l, domain.TaskResolve, p.Result, now)
		wake(l)
	}
	if e := s.executions[t.ExecutionID]; t.IsRoot() && domain.ExecComplete.Allows(e.State) {
		s.endExecution(e, domain.ExecComplete, p.Result, nil, now)
	}
	return woken, nil
}

// FailTask fails the task terminally and dead-letters it, fenced (see
// ports.FailParams).
func (s *Store) FailTask(ctx context.Context, p ports.FailParams) error {
	if err := valid(p.Validate()); err != nil {
		return err
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	t, err := s.fenced(p.Fence, domain.TaskFail)
	if err != nil {
		return err
	}
	now := normTime(p.Now)
	failStep(t, domain.TaskFail, p.Error, now)
	clearLease(t)
	s.wakeParent(t, now)
	for _, l := range s.pendingLinks(t.ID) {
		failStep(l, domain.TaskFailLink, p.Error, now)
		s.wakeParent(l, now)
	}
	t.IdempotencyKey = "" // released: a later call runs afresh
	code := ""
	if p.Error != nil {
		code = p.Error.Code
	}
	s.deadLetters[t.ID] = &domain.DeadLetter{
		TaskID:      t.ID,
		ExecutionID: t.ExecutionID,
		StepName:    t.StepName,
		Kind:        t.Kind,
		Queue:       t.Queue,
		Reason:      p.Reason,
		Code:        code,
		Error:       cloneTaskError(p.Error),
		Snapshot:    *cloneTask(t),
		MovedAt:     now,
	}
	if e := s.executions[t.ExecutionID]; t.IsRoot() && domain.ExecFail.Allows(e.State) {
		s.endExecution(e, domain.ExecFail, nil, p.Error, now)
	}
	return nil
}

// pendingLinks returns the pending links attached to the task ownerID.
func (s *Store) pendingLinks(ownerID string) []*domain.Task {
	var out []*domain.Task
	for _, t := range s.tasks {
		if t.Kind == domain.KindLink && domain.TaskResolve.Allows(t.State) && t.LinkOwnerID == ownerID {
			out = append(out, t)
		}
	}
	return out
}

// RetryTask puts the running task back to pending for another attempt,
// fenced.
func (s *Store) RetryTask(ctx context.Context, p ports.RetryParams) error {
	if err := valid(p.Validate()); err != nil {
		return err
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	t, err := s.fenced(p.Fence, domain.TaskRetry)
	if err != nil {
		return err
	}
	t.State = domain.TaskRetry.To
	t.ScheduledFor = timePtr(normTime(p.RunAt))
	clearLease(t)
	t.Generation++
	t.LastError = cloneTaskError(p.Error)
	t.UpdatedAt = normTime(p.Now)
	return nil
}

// ReleaseTask gives a claimed task back, due now, fenced.
func (s *Store) ReleaseTask(ctx context.Context, fence domain.Fence, now time.Time, restoreAttempt bool) error {
	if err := valid(ports.ValidateFence(fence)); err != nil {
		return err
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	t, err := s.fenced(fence, domain.TaskRelease)
	if err != nil {
		return err
	}
	now = normTime(now)
	t.State = domain.TaskRelease.To
	t.ScheduledFor = timePtr(now)
	clearLease(t)
	if restoreAttempt && t.Attempt > 0 {
		t.Attempt--
	}
	t.UpdatedAt = now
	return nil
}
