package memstore

import (
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/stenthq/stent/domain"
)

// The helpers below deep-copy values crossing the store boundary, in both
// directions, and apply the storage rules of store-semantics.md: empty JSON
// is nil, empty slices and maps are nil, times are UTC microseconds.

func cloneRaw(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return slices.Clone(b)
}

func cloneStrings(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

func cloneStringMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

func normTime(t time.Time) time.Time { return domain.NormalizeTime(t) }

func normTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	n := domain.NormalizeTime(*t)
	return &n
}

func timePtr(t time.Time) *time.Time { return &t }

func cloneTaskError(e *domain.TaskError) *domain.TaskError {
	if e == nil {
		return nil
	}
	c := *e
	c.Codes = cloneStrings(e.Codes)
	c.Details = cloneRaw(e.Details)
	return &c
}

func cloneRetryPolicy(p domain.RetryPolicy) domain.RetryPolicy {
	p.RetryOn = cloneStrings(p.RetryOn)
	p.NonRetryable = cloneStrings(p.NonRetryable)
	return p
}

// cloneTask returns a deep copy of t with every time normalised.
func cloneTask(t *domain.Task) *domain.Task {
	c := *t
	c.Input = cloneRaw(t.Input)
	c.Result = cloneRaw(t.Result)
	c.Error = cloneTaskError(t.Error)
	c.LastError = cloneTaskError(t.LastError)
	c.RetryPolicy = cloneRetryPolicy(t.RetryPolicy)
	c.Tags = cloneStrings(t.Tags)
	c.TraceContext = cloneStringMap(t.TraceContext)
	c.ScheduledFor = normTimePtr(t.ScheduledFor)
	c.WakeAt = normTimePtr(t.WakeAt)
	c.RateLimitedUntil = normTimePtr(t.RateLimitedUntil)
	c.RatePer = t.RatePer.Truncate(time.Microsecond)
	c.LeaseExpiresAt = normTimePtr(t.LeaseExpiresAt)
	c.Deadline = normTimePtr(t.Deadline)
	c.CreatedAt = normTime(t.CreatedAt)
	c.UpdatedAt = normTime(t.UpdatedAt)
	c.StartedAt = normTimePtr(t.StartedAt)
	c.FinishedAt = normTimePtr(t.FinishedAt)
	return &c
}

// cloneExecution returns a deep copy of e with every time normalised.
func cloneExecution(e *domain.Execution) *domain.Execution {
	c := *e
	c.Input = cloneRaw(e.Input)
	c.Result = cloneRaw(e.Result)
	c.Error = cloneTaskError(e.Error)
	c.Tags = cloneStrings(e.Tags)
	c.ScheduledFor = normTimePtr(e.ScheduledFor)
	c.Deadline = normTimePtr(e.Deadline)
	c.CreatedAt = normTime(e.CreatedAt)
	c.UpdatedAt = normTime(e.UpdatedAt)
	c.StartedAt = normTimePtr(e.StartedAt)
	c.FinishedAt = normTimePtr(e.FinishedAt)
	return &c
}

func cloneDeadLetter(d *domain.DeadLetter) *domain.DeadLetter {
	c := *d
	c.Error = cloneTaskError(d.Error)
	c.Snapshot = *cloneTask(&d.Snapshot)
	c.MovedAt = normTime(d.MovedAt)
	return &c
}

func cloneSignal(s *domain.Signal) *domain.Signal {
	c := *s
	c.Payload = cloneRaw(s.Payload)
	c.CreatedAt = normTime(s.CreatedAt)
	c.ConsumedAt = normTimePtr(s.ConsumedAt)
	return &c
}

func cloneFunction(f domain.FunctionInfo) domain.FunctionInfo {
	f.Tags = cloneStrings(f.Tags)
	f.RetryPolicy = cloneRetryPolicy(f.RetryPolicy)
	f.LastSeenAt = normTime(f.LastSeenAt)
	return f
}

// taskList copies stored tasks out.
func taskList(ts []*domain.Task) []domain.Task {
	if len(ts) == 0 {
		return nil
	}
	out := make([]domain.Task, len(ts))
	for i, t := range ts {
		out[i] = *cloneTask(t)
	}
	return out
}
