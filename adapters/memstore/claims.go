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
func (s *Store) ClaimTasks(ctx context.Context, p ports.ClaimParams) ([]ports.ClaimedTask, error) {
	if err := valid(p.Validate()); err != nil {
		return nil, err
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if len(p.Functions) == 0 {
		return nil, nil
	}

	now := normTime(p.Now)
	running := map[string]int{} // running orchestrator/activity tasks per concurrency group
	var candidates []*domain.Task
	for _, t := range s.tasks {
		if !t.Kind.Claimable() {
			continue
		}
		if t.State == domain.TaskRunning {
			running[t.ConcurrencyGroup()]++
		}
		if eligible(t, p, now) && !s.pausedQueue(t.Queue) {
			candidates = append(candidates, t)
		}
	}
	slices.SortFunc(candidates, func(a, b *domain.Task) int {
		return cmp.Or(cmp.Compare(b.Priority, a.Priority), a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})

	leaseEnd := normTime(now.Add(p.Lease))
	var claimed []ports.ClaimedTask
	for _, t := range candidates {
		if len(claimed) == p.Limit {
			break
		}
		op := claimOf(t.State)
		// A reclaim keeps the running count as it is, so only a fresh
		// claim or a resume is held back by the concurrency limit.
		limited := op.Op != domain.TaskReclaim.Op && t.MaxConcurrent > 0
		if limited && running[t.ConcurrencyGroup()] >= t.MaxConcurrent {
			continue
		}
		// Only a fresh claim is charged to the rate limit; one turned
		// down is held back until its group frees a slot, and the tasks
		// behind it are still claimed.
		if op.Op == domain.TaskClaim.Op && t.RateLimit > 0 {
			win := s.rateWindow(t.RateKey, now, t.RatePer)
			if len(win) >= t.RateLimit {
				t.RateLimitedUntil = timePtr(normTime(domain.RateWindowFree(win, t.RateLimit, t.RatePer, now)))
				t.UpdatedAt = now
				continue
			}
			s.rateStarts[t.RateKey] = domain.InsertSorted(s.rateStarts[t.RateKey], now)
			s.noteRate(t)
		}
		if limited {
			running[t.ConcurrencyGroup()]++
		}
		t.RateLimitedUntil = nil
		switch op.Op {
		case domain.TaskReclaim.Op:
			t.LastError = domain.SentinelError(domain.ErrLeaseLost,
				fmt.Sprintf("lease expired at %s; reclaimed", t.LeaseExpiresAt.Format(time.RFC3339Nano)))
			t.Recoveries++
		case domain.TaskResume.Op:
			t.WakeAt = nil
			for _, c := range s.tasks {
				if c.ParentTaskID == t.ID && c.Kind == domain.KindSleep && domain.TaskResolve.Allows(c.State) && c.Due(now) {
					completeStep(c, domain.TaskResolve, nil, now)
				}
			}
		default:
			t.Attempt++
		}
		t.State = op.To
		t.WorkerID = p.WorkerID
		t.ClaimToken = domain.NewID()
		t.LeaseExpiresAt = timePtr(leaseEnd)
		first := t.StartedAt == nil
		if first {
			t.StartedAt = timePtr(now)
		}
		t.UpdatedAt = now
		if t.IsRoot() {
			if e := s.executions[t.ExecutionID]; domain.ExecStart.Allows(e.State) {
				e.State = domain.ExecStart.To
				e.StartedAt = timePtr(now)
				e.UpdatedAt = now
			}
		}
		claimed = append(claimed, ports.ClaimedTask{Task: *cloneTask(t), FirstClaim: first})
	}
	return claimed, nil
}

// rateWindow prunes the rate key's starts to the window (now-per, now]
// (later ones are kept) and returns them.
func (s *Store) rateWindow(key string, now time.Time, per time.Duration) []time.Time {
	st := s.rateStarts[key]
	from := now.Add(-per)
	i := 0
	for i < len(st) && !st[i].After(from) {
		i++
	}
	st = st[i:]
	s.rateStarts[key] = st
	return st
}

// claimOf returns the claim operation for a task in state s: a fresh
// claim, a reclaim or a resume.
func claimOf(s domain.TaskState) domain.TaskTransition {
	for _, op := range []domain.TaskTransition{domain.TaskClaim, domain.TaskReclaim, domain.TaskResume} {
		if op.Allows(s) {
			return op
		}
	}
	panic("memstore: no claim operation applies to a " + string(s) + " task") // eligible said one does
}

// routable applies the function, queue and tag filters of a claim.
func routable(t *domain.Task, p ports.ClaimParams) bool {
	switch {
	case !slices.Contains(p.Functions, t.StepName):
		return false
	case !p.AnyVersion && t.Version != p.Versions[t.StepName]:
		return false
	case t.Queue != "" && len(p.Queues) > 0 && !slices.Contains(p.Queues, t.Queue):
		return false
	case len(t.Tags) > 0 && len(p.Tags) > 0 && !slices.ContainsFunc(t.Tags, func(tag string) bool { return slices.Contains(p.Tags, tag) }):
		return false
	}
	return true
}

// eligible applies every claim filter except the function limits.
func eligible(t *domain.Task, p ports.ClaimParams, now time.Time) bool {
	if !routable(t, p) {
		return false
	}
	switch {
	case domain.TaskClaim.Allows(t.State):
		return t.Due(now) && (t.RateLimitedUntil == nil || !t.RateLimitedUntil.After(now))
	case domain.TaskResume.Allows(t.State):
		return t.WakeAt != nil && !t.WakeAt.After(now)
	case domain.TaskReclaim.Allows(t.State):
		return t.LeaseExpiresAt != nil && !t.LeaseExpiresAt.After(now)
	}
	return false
}

// NextWake returns the earliest wake-up time of the waiting tasks p would
// claim once due.
func (s *Store) NextWake(ctx context.Context, p ports.ClaimParams) (time.Time, bool, error) {
	if err := valid(p.ValidateClaimFilter()); err != nil {
		return time.Time{}, false, err
	}
	if err := s.lock(ctx); err != nil {
		return time.Time{}, false, err
	}
	defer s.mu.Unlock()
	var next time.Time
	found := false
	for _, t := range s.tasks {
		// A waiting task's wake-up, or when a rate limit stops holding
		// back a pending one.
		at := t.WakeAt
		if t.State == domain.TaskPending {
			at = t.RateLimitedUntil
		} else if t.State != domain.TaskWaiting {
			continue
		}
		if at == nil || !t.Kind.Claimable() {
			continue
		}
		if !routable(t, p) || s.pausedQueue(t.Queue) {
			continue
		}
		if !found || at.Before(next) {
			next, found = *at, true
		}
	}
	return next, found, nil
}

// ParkTask parks a running task until its wake condition holds (see
// ports.ClaimStore).
func (s *Store) ParkTask(ctx context.Context, p ports.ParkParams) (bool, error) {
	if err := valid(p.Validate()); err != nil {
		return false, err
	}
	if err := s.lock(ctx); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	t, err := s.fenced(p.Fence, domain.TaskPark)
	if err != nil {
		return false, err
	}
	awaited := make(map[string]bool, len(p.Children))
	for _, id := range p.Children {
		c, ok := s.tasks[id]
		if !ok || c.ParentTaskID != t.ID {
			return false, invalid("park task %q: %q is not one of its steps", t.ID, id)
		}
		awaited[id] = true
	}
	now := normTime(p.Now)
	live := 0
	for id := range awaited {
		if s.tasks[id].State.Live() {
			live++
		}
	}
	if len(p.Children) > 0 && live == 0 {
		return false, nil // the condition holds: nothing is written
	}
	for _, c := range s.tasks {
		if c.ParentTaskID == t.ID {
			c.Awaited = awaited[c.ID] && c.State.Live()
		}
	}
	t.State = domain.TaskPark.To
	t.WakeAt = normTimePtr(p.WakeAt)
	clearLease(t)
	t.UpdatedAt = now
	return true, nil
}

// wakeParent wakes the waiting parent of the step t, which has just ended,
// when t was the last live step it awaited; it returns the woken parent.
func (s *Store) wakeParent(t *domain.Task, now time.Time) *ports.WokenTask {
	if !t.Awaited || t.ParentTaskID == "" {
		return nil
	}
	p, ok := s.tasks[t.ParentTaskID]
	if !ok || p.State != domain.TaskWaiting {
		return nil
	}
	for _, c := range s.tasks {
		if c.ParentTaskID == p.ID && c.Awaited && c.State.Live() {
			return nil
		}
	}
	if p.WakeAt == nil || p.WakeAt.After(now) {
		p.WakeAt = timePtr(now)
		p.UpdatedAt = now
	}
	return &ports.WokenTask{ID: p.ID, Queue: p.Queue, StepName: p.StepName}
}

// RenewLeases extends the leases still held and reports every fence's
// state.
func (s *Store) RenewLeases(ctx context.Context, fences []domain.Fence, now time.Time, lease time.Duration) ([]ports.LeaseStatus, error) {
	if err := valid(ports.ValidateRenewal(fences, lease)); err != nil {
		return nil, err
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
		if _, err := s.held(f); err != nil {
			continue
		}
		t.LeaseExpiresAt = timePtr(normTime(now.Add(lease)))
		t.UpdatedAt = now
		out[i].Held = true
		out[i].LeaseExpiresAt = *t.LeaseExpiresAt
	}
	return out, nil
}
