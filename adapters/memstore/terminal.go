package memstore

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// CancelExecution moves a live execution to cancelled and cancels its live
// tasks (see ports.ExecutionStore).
func (s *Store) CancelExecution(ctx context.Context, id string, now time.Time) (domain.Execution, bool, error) {
	if err := valid(ports.ValidateID("execution id", id)); err != nil {
		return domain.Execution{}, false, err
	}
	if err := s.lock(ctx); err != nil {
		return domain.Execution{}, false, err
	}
	defer s.mu.Unlock()
	e, ok := s.executions[id]
	if !ok {
		return domain.Execution{}, false, notFound("execution", id)
	}
	if !domain.ExecCancel.Allows(e.State) {
		return *cloneExecution(e), false, nil
	}
	s.endExecution(e, domain.ExecCancel, nil,
		domain.SentinelError(domain.ErrCancelled, "execution cancelled"), normTime(now))
	return *cloneExecution(e), true, nil
}

// TimeoutExecution moves a live execution past its deadline to timed_out
// and cancels its live tasks.
func (s *Store) TimeoutExecution(ctx context.Context, id string, now time.Time) (domain.Execution, bool, error) {
	if err := valid(ports.ValidateID("execution id", id)); err != nil {
		return domain.Execution{}, false, err
	}
	if err := s.lock(ctx); err != nil {
		return domain.Execution{}, false, err
	}
	defer s.mu.Unlock()
	e, ok := s.executions[id]
	if !ok {
		return domain.Execution{}, false, notFound("execution", id)
	}
	now = normTime(now)
	if !domain.ExecTimeout.Allows(e.State) || !e.Overdue(now) {
		return *cloneExecution(e), false, nil
	}
	s.timeout(e, now)
	return *cloneExecution(e), true, nil
}

func (s *Store) timeout(e *domain.Execution, now time.Time) {
	s.endExecution(e, domain.ExecTimeout, nil,
		domain.SentinelError(domain.ErrTimedOut, "execution timed out"), now)
}

// ExpireOverdue times out up to limit overdue live executions, earliest
// deadline first, and returns their ids.
func (s *Store) ExpireOverdue(ctx context.Context, now time.Time, limit int) ([]string, error) {
	if err := valid(ports.ValidateSweepLimit(limit)); err != nil {
		return nil, err
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	now = normTime(now)
	var due []*domain.Execution
	for _, e := range s.executions {
		if domain.ExecTimeout.Allows(e.State) && e.Overdue(now) {
			due = append(due, e)
		}
	}
	slices.SortFunc(due, func(a, b *domain.Execution) int {
		return cmp.Or(a.Deadline.Compare(*b.Deadline), cmp.Compare(a.ID, b.ID))
	})
	if len(due) > limit {
		due = due[:limit]
	}
	var ids []string
	for _, e := range due {
		s.timeout(e, now)
		ids = append(ids, e.ID)
	}
	return ids, nil
}

// endExecution moves the execution e along tr (its caller checked that tr
// applies) and cancels every other live task of it, handing over the
// idempotency keys those tasks held (store-semantics.md 8 and 9).
func (s *Store) endExecution(e *domain.Execution, tr domain.ExecutionTransition, result []byte, taskErr *domain.TaskError, now time.Time) {
	e.State = tr.To
	e.Result = cloneRaw(result)
	e.Error = cloneTaskError(taskErr)
	e.FinishedAt = timePtr(now)
	e.UpdatedAt = now

	var holders []*domain.Task
	for _, t := range s.tasksOf(e.ID) {
		if !domain.TaskCancel.Allows(t.State) {
			continue
		}
		t.State = domain.TaskCancel.To
		clearLease(t)
		t.FinishedAt = timePtr(now)
		t.UpdatedAt = now
		if t.IdempotencyKey != "" {
			holders = append(holders, t)
		}
	}
	slices.SortFunc(holders, byCreation)
	for _, h := range holders {
		s.handOver(h, now)
	}
}

// handOver passes the idempotency key of the cancelled holder h to the
// oldest pending link of a live execution, which becomes a pending activity
// due now; the other links follow the new holder. Without such a link the
// key is released.
func (s *Store) handOver(h *domain.Task, now time.Time) {
	key := h.IdempotencyKey
	h.IdempotencyKey = ""
	var links []*domain.Task
	for _, t := range s.tasks {
		if t.Kind == domain.KindLink && t.State == domain.TaskPending && t.LinkOwnerID == h.ID &&
			!s.executions[t.ExecutionID].State.Terminal() { // a live link of a live execution
			links = append(links, t)
		}
	}
	if len(links) == 0 {
		return
	}
	slices.SortFunc(links, func(a, b *domain.Task) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	heir := links[0]
	heir.Kind = domain.KindActivity
	heir.IdempotencyKey = key
	heir.LinkOwnerID = ""
	heir.ScheduledFor = timePtr(now)
	heir.Attempt = 0
	heir.UpdatedAt = now
	for _, l := range links[1:] {
		l.LinkOwnerID = heir.ID
		l.UpdatedAt = now
	}
}

func clearLease(t *domain.Task) {
	t.WorkerID, t.ClaimToken, t.LeaseExpiresAt = "", "", nil
}
