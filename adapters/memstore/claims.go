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

// ClaimTasks claims up to p.Limit eligible tasks (see ports.ClaimStore).
func (s *Store) ClaimTasks(ctx context.Context, p ports.ClaimParams) ([]domain.Task, error) {
	switch {
	case p.WorkerID == "":
		return nil, invalid("claim: worker id is empty; an id is required")
	case p.Limit <= 0:
		return nil, invalid("claim: limit %d; want > 0", p.Limit)
	case p.Lease <= 0:
		return nil, invalid("claim: lease %s; want > 0", p.Lease)
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if len(p.Functions) == 0 {
		return nil, nil
	}

	now := normTime(p.Now)
	running := map[string]int{} // running orchestrator/activity tasks per step name
	var candidates []*domain.Task
	for _, t := range s.tasks {
		if !t.Kind.Claimable() {
			continue
		}
		if t.State == domain.TaskRunning {
			running[t.StepName]++
		}
		if eligible(t, p, now) {
			candidates = append(candidates, t)
		}
	}
	slices.SortFunc(candidates, func(a, b *domain.Task) int {
		return cmp.Or(cmp.Compare(b.Priority, a.Priority), a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})

	leaseEnd := normTime(now.Add(p.Lease))
	var claimed []*domain.Task
	for _, t := range candidates {
		if len(claimed) == p.Limit {
			break
		}
		reclaim := t.State == domain.TaskRunning
		// A reclaim keeps the running count as it is, so only a fresh
		// claim is held back by the function's limit.
		if !reclaim && t.MaxConcurrent > 0 {
			if running[t.StepName] >= t.MaxConcurrent {
				continue
			}
			running[t.StepName]++
		}
		if reclaim {
			t.LastError = domain.SentinelError(domain.ErrLeaseLost,
				fmt.Sprintf("lease expired at %s; reclaimed", t.LeaseExpiresAt.Format(time.RFC3339Nano)))
		}
		t.State = domain.TaskRunning
		t.Attempt++
		t.WorkerID = p.WorkerID
		t.ClaimToken = domain.NewID()
		t.LeaseExpiresAt = timePtr(leaseEnd)
		if t.StartedAt == nil {
			t.StartedAt = timePtr(now)
		}
		t.UpdatedAt = now
		if t.IsRoot() {
			if e := s.executions[t.ExecutionID]; e.State == domain.ExecutionPending {
				e.State = domain.ExecutionRunning
				e.StartedAt = timePtr(now)
				e.UpdatedAt = now
			}
		}
		claimed = append(claimed, t)
	}
	return taskList(claimed), nil
}

// eligible applies every claim filter except the function limits.
func eligible(t *domain.Task, p ports.ClaimParams, now time.Time) bool {
	switch {
	case !slices.Contains(p.Functions, t.StepName):
		return false
	case t.Queue != "" && len(p.Queues) > 0 && !slices.Contains(p.Queues, t.Queue):
		return false
	case len(t.Tags) > 0 && len(p.Tags) > 0 && !slices.ContainsFunc(t.Tags, func(tag string) bool { return slices.Contains(p.Tags, tag) }):
		return false
	case t.State == domain.TaskPending:
		return t.Due(now)
	case t.State == domain.TaskRunning:
		return t.LeaseExpiresAt != nil && !t.LeaseExpiresAt.After(now)
	}
	return false
}

// RenewLeases extends the leases still held and reports every fence's
// state.
func (s *Store) RenewLeases(ctx context.Context, fences []domain.Fence, now time.Time, lease time.Duration) ([]ports.LeaseStatus, error) {
	if lease <= 0 {
		return nil, invalid("renew: lease %s; want > 0", lease)
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	now = normTime(now)
	out := make([]ports.LeaseStatus, len(fences))
	for i, f := range fences {
		t, ok := s.tasks[f.TaskID]
		if !ok {
			continue
		}
		out[i].TaskState = t.State
		if e, ok := s.executions[t.ExecutionID]; ok {
			out[i].ExecState = e.State
		}
		if _, err := s.fenced(f); err != nil {
			continue
		}
		t.LeaseExpiresAt = timePtr(normTime(now.Add(lease)))
		t.UpdatedAt = now
		out[i].Held = true
		out[i].LeaseExpiresAt = *t.LeaseExpiresAt
	}
	return out, nil
}
