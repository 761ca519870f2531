package ports

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/stenthq/stent/domain"
)

// Parameter validation, written once. Every store calls these before it
// reads or writes anything, so every store rejects the same bad input with
// the same error: one matching ErrInvalidArgument whose message names the
// bad value and what is allowed (stores only prefix it with their name).
// Checks that need stored rows (a child that is not a step of the parent,
// a record that is not a sleep) stay in the stores.

// DefaultPageLimit is the page size of a list whose Limit is 0.
const DefaultPageLimit = 100

// PageLimit returns the effective page size of a validated Limit: limit,
// or DefaultPageLimit for 0.
func PageLimit(limit int) int {
	if limit == 0 {
		return DefaultPageLimit
	}
	return limit
}

func invalid(format string, args ...any) error { return domain.InvalidArgument(format, args...) }

// ValidateID rejects an empty id, and one that is not valid UTF-8, holds
// a NUL byte or is longer than MaxIDBytes; what names it ("execution id").
func ValidateID(what, id string) error {
	if id == "" {
		return invalid("%s is empty; an id is required", what)
	}
	return ValidateText(what, id, MaxIDBytes)
}

// ValidateFence rejects a fence without a task id, or whose task id,
// worker id or token is text no store can keep (ValidateText). A fence
// whose worker or token does not match is not bad input: the write
// reports ErrLeaseLost.
func ValidateFence(f domain.Fence) error {
	if err := ValidateID("fence task id", f.TaskID); err != nil {
		return err
	}
	return validFenceText(f)
}

// ValidateLease rejects a lease that is not positive (RenewLeases).
func ValidateLease(lease time.Duration) error {
	if lease <= 0 {
		return invalid("lease %s; want > 0", lease)
	}
	return nil
}

// ValidateSweepLimit rejects the limit of a sweep (ExpireOverdue) that is
// not positive.
func ValidateSweepLimit(limit int) error {
	if limit <= 0 {
		return invalid("sweep limit %d; want > 0", limit)
	}
	return nil
}

// Validate checks a claim: a worker id, Limit > 0, Lease > 0 and
// filters of valid text (ValidateClaimFilter).
func (p ClaimParams) Validate() error {
	if err := p.ValidateClaimFilter(); err != nil {
		return err
	}
	switch {
	case p.WorkerID == "":
		return invalid("claim: worker id is empty; an id is required")
	case p.Limit <= 0:
		return invalid("claim: limit %d; want > 0 (the worker's free slots)", p.Limit)
	case p.Lease <= 0:
		return invalid("claim: lease %s; want > 0", p.Lease)
	}
	return nil
}

func validatePage(limit, offset int) error {
	if limit < 0 {
		return invalid("limit %d is negative; want 0 or more (0 means %d)", limit, DefaultPageLimit)
	}
	if offset < 0 {
		return invalid("offset %d is negative; want 0 or more", offset)
	}
	return nil
}

// validateKeyset rejects a keyset with an empty or bad id or a zero time,
// and one combined with an offset.
func validateKeyset(k *Keyset, offset int) error {
	switch {
	case k == nil:
		return nil
	case offset != 0:
		return invalid("a keyset (after) and offset %d cannot be combined; use one of them", offset)
	case k.At.IsZero():
		return invalid("keyset (after) time is zero; want the time of the last row of the previous page")
	}
	return ValidateID("keyset (after) id", k.ID)
}

// Validate checks the page, the states and the text filters.
func (f ExecutionFilter) Validate() error {
	return firstErr(
		validatePage(f.Limit, f.Offset),
		validateKeyset(f.After, f.Offset),
		parsed(f.States, domain.ParseExecutionState),
		ValidateText("function filter", f.Function, MaxNameBytes),
		ValidateText("queue filter", f.Queue, MaxNameBytes),
		ValidateText("version filter", f.Version, MaxNameBytes),
		ValidateTexts("tag filter", f.Tags, MaxNameBytes),
		ValidateText("id prefix filter", f.IDPrefix, MaxIDBytes),
		ValidateText("text filter", f.Text, MaxKeyBytes),
		validateRange("created", f.CreatedFrom, f.CreatedBefore),
	)
}

// validateRange rejects a time range [from, before) that is empty because
// both ends are set and from is not before before.
func validateRange(what string, from, before time.Time) error {
	if from.IsZero() || before.IsZero() || from.Before(before) {
		return nil
	}
	return invalid("%s from %s is not before %s before %s; want from < before",
		what, from.UTC().Format(time.RFC3339Nano), what, before.UTC().Format(time.RFC3339Nano))
}

// Validate checks a ListFinished filter: Since set, Until (when set)
// after it, and the page limit.
func (f FinishedFilter) Validate() error {
	if f.Since.IsZero() {
		return invalid("finished since is zero; want the start of the window")
	}
	if !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return validateRange("finished", f.Since, f.Until)
	}
	return validatePage(f.Limit, 0)
}

// Validate checks the page, the states, the kinds and the text filters.
func (f TaskFilter) Validate() error {
	return firstErr(
		validatePage(f.Limit, f.Offset),
		parsed(f.States, domain.ParseTaskState),
		parsed(f.Kinds, domain.ParseTaskKind),
		ValidateText("execution id filter", f.ExecutionID, MaxIDBytes),
		ValidateText("parent task id filter", f.ParentTaskID, MaxIDBytes),
		ValidateIDs("parent task ids filter", f.ParentTaskIDs),
		ValidateText("queue filter", f.Queue, MaxNameBytes),
		ValidateText("step name filter", f.StepName, MaxNameBytes),
	)
}

// parsed checks every name with its domain parser, whose error names the
// bad name and every allowed one.
func parsed[S ~string](names []S, parse func(string) (S, error)) error {
	for _, n := range names {
		if _, err := parse(string(n)); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks the page and the text filters.
func (f DeadLetterFilter) Validate() error {
	return firstErr(
		validatePage(f.Limit, f.Offset),
		validateKeyset(f.After, f.Offset),
		ValidateText("queue filter", f.Queue, MaxNameBytes),
		ValidateText("step name filter", f.StepName, MaxNameBytes),
		ValidateText("execution id filter", f.ExecutionID, MaxIDBytes),
	)
}

// Validate checks an execution and its root task as CreateExecutions
// needs them: ids and the root function set, the root task tied to the
// execution (same ids, no parent, kind orchestrator, position 0, the root
// function), a MaxConcurrent of 0 (no limit) or more, and text, payloads
// and numbers every store can keep (validText).
func (n NewExecution) Validate() error {
	exec, root := n.Execution, n.Root
	switch {
	case exec.ID == "":
		return invalid("execution id is empty; an id is required")
	case exec.RootFunction == "":
		return invalid("execution %q: root function is empty; a name is required", exec.ID)
	case root.ID == "":
		return invalid("execution %q: root task id is empty; an id is required", exec.ID)
	case root.ID != exec.RootTaskID:
		return invalid("execution %q: root task id %q differs from RootTaskID %q; want the same id", exec.ID, root.ID, exec.RootTaskID)
	case root.ExecutionID != exec.ID:
		return invalid("root task %q: execution id %q differs from the execution's %q; want the same id", root.ID, root.ExecutionID, exec.ID)
	case root.ParentTaskID != "":
		return invalid("root task %q has parent %q; a root has none", root.ID, root.ParentTaskID)
	case root.Kind != domain.KindOrchestrator:
		return invalid("root task %q: kind %q; want %s", root.ID, root.Kind, domain.KindOrchestrator)
	case root.Position != 0:
		return invalid("root task %q: position %d; want 0", root.ID, root.Position)
	case root.StepName != exec.RootFunction:
		return invalid("root task %q: step name %q; want the root function %q", root.ID, root.StepName, exec.RootFunction)
	case root.MaxConcurrent < 0:
		return invalid("root task %q: max concurrent %d; want 0 (no limit) or more", root.ID, root.MaxConcurrent)
	case exec.SingletonKey != "" && exec.DebounceKey != "":
		return invalid("execution %q: singleton key %q and debounce key %q; a dispatch takes one of them", exec.ID, exec.SingletonKey, exec.DebounceKey)
	}
	if err := validRate(root.RateKey, root.RateLimit, root.RatePer); err != nil {
		return within(fmt.Sprintf("root task %s", quoteShort(root.ID)), err)
	}
	return n.validText()
}

// validText checks what NewExecution.Validate's rules do not: ids, names
// and keys as text, the payloads, and the numbers within int32.
func (n NewExecution) validText() error {
	exec, root := n.Execution, n.Root
	if err := firstErr(
		ValidateID("execution id", exec.ID),
		ValidateText("root function", exec.RootFunction, MaxNameBytes),
		ValidateText("version", exec.Version, MaxNameBytes),
		ValidateID("root task id", root.ID),
		ValidateText("queue", exec.Queue, MaxNameBytes),
		ValidateTexts("tag", exec.Tags, MaxNameBytes),
		ValidateText("idempotency key", exec.IdempotencyKey, MaxKeyBytes),
		ValidateText("singleton key", exec.SingletonKey, MaxKeyBytes),
		ValidateText("debounce key", exec.DebounceKey, MaxKeyBytes),
		ValidateInt32("priority", exec.Priority),
		ValidatePayload("input", exec.Input),
	); err != nil {
		return err
	}
	if err := firstErr(
		ValidateText("version", root.Version, MaxNameBytes),
		ValidateText("queue", root.Queue, MaxNameBytes),
		ValidateTexts("tag", root.Tags, MaxNameBytes),
		ValidateText("idempotency key", root.IdempotencyKey, MaxKeyBytes),
		ValidateText("cache key", root.CacheKey, MaxKeyBytes),
		ValidateInt32("priority", root.Priority),
		ValidateInt32("max concurrent", root.MaxConcurrent),
		ValidateText("concurrency key", root.ConcurrencyKey, MaxKeyBytes),
		ValidateText("rate key", root.RateKey, MaxKeyBytes),
		ValidateInt32("rate limit", root.RateLimit),
		ValidatePayload("input", root.Input),
		validTraceContext("trace context", root.TraceContext),
	); err != nil {
		return within(fmt.Sprintf("root task %s", quoteShort(root.ID)), err)
	}
	return nil
}

// stepKinds are the kinds a step spec may have.
var stepKinds = []domain.TaskKind{domain.KindActivity, domain.KindSleep, domain.KindSignal}

// Validate checks a step spec: an id, a position of 1 or more, a step kind
// with a step name that fits it, a MaxConcurrent of 0 (no limit) or more,
// an inline Claim with both a worker and a token, a Completed outcome only
// on an activity without a claim, cache key or idempotency key, and text,
// payloads and numbers every store can keep.
func (sp StepSpec) Validate() error {
	switch {
	case sp.ID == "":
		return invalid("step spec at position %d: id is empty; an id is required", sp.Position)
	case sp.Position < 1:
		return invalid("step spec %q: position %d; want 1 or more", sp.ID, sp.Position)
	case !slices.Contains(stepKinds, sp.Kind):
		return invalid("step spec %q: kind %q; allowed: activity, sleep, signal", sp.ID, sp.Kind)
	case sp.StepName == "":
		return invalid("step spec %q: step name is empty; a name is required", sp.ID)
	case sp.Kind == domain.KindSleep && sp.StepName != domain.SleepStepName:
		return invalid("step spec %q: sleep step name %q; want %q", sp.ID, sp.StepName, domain.SleepStepName)
	case sp.Kind == domain.KindSignal && (!strings.HasPrefix(sp.StepName, "signal:") || sp.StepName == "signal:"):
		return invalid("step spec %q: signal step name %q; want signal:<name>", sp.ID, sp.StepName)
	case sp.MaxConcurrent < 0:
		return invalid("step spec %q: max concurrent %d; want 0 (no limit) or more", sp.ID, sp.MaxConcurrent)
	case validRate(sp.RateKey, sp.RateLimit, sp.RatePer) != nil:
		return within(fmt.Sprintf("step spec %s", quoteShort(sp.ID)), validRate(sp.RateKey, sp.RateLimit, sp.RatePer))
	case sp.Kind == domain.KindActivity && sp.Claim != nil && (sp.Claim.WorkerID == "" || sp.Claim.Token == ""):
		return invalid("step spec %q: inline claim with worker %q and token %q; both are required", sp.ID, sp.Claim.WorkerID, sp.Claim.Token)
	case sp.Completed != nil && (sp.Kind != domain.KindActivity || sp.Claim != nil || sp.CacheKey != "" || sp.IdempotencyKey != ""):
		return invalid("step spec %q: a completed outcome is only for an activity without a claim, cache key or idempotency key", sp.ID)
	}
	if err := ValidateID("step spec id", sp.ID); err != nil {
		return err
	}
	if err := sp.validText(); err != nil {
		return within(fmt.Sprintf("step spec %s", quoteShort(sp.ID)), err)
	}
	return nil
}

// validText checks a spec's names, keys, payloads and numbers.
func (sp StepSpec) validText() error {
	var claim, completed error
	if sp.Claim != nil {
		claim = firstErr(
			ValidateText("claim worker id", sp.Claim.WorkerID, MaxIDBytes),
			ValidateText("claim token", sp.Claim.Token, MaxIDBytes),
		)
	}
	if sp.Completed != nil {
		completed = ValidatePayload("result", sp.Completed.Result)
	}
	return firstErr(
		ValidateText("step name", sp.StepName, MaxNameBytes),
		ValidateText("version", sp.Version, MaxNameBytes),
		ValidateText("queue", sp.Queue, MaxNameBytes),
		ValidateTexts("tag", sp.Tags, MaxNameBytes),
		ValidateText("idempotency key", sp.IdempotencyKey, MaxKeyBytes),
		ValidateText("cache key", sp.CacheKey, MaxKeyBytes),
		ValidateInt32("position", sp.Position),
		ValidateInt32("priority", sp.Priority),
		ValidateInt32("max concurrent", sp.MaxConcurrent),
		ValidateText("concurrency key", sp.ConcurrencyKey, MaxKeyBytes),
		ValidateText("rate key", sp.RateKey, MaxKeyBytes),
		ValidateInt32("rate limit", sp.RateLimit),
		ValidatePayload("input", sp.Input),
		validTraceContext("trace context", sp.TraceContext),
		claim,
		completed,
	)
}

// ValidateOps checks data operations: a known kind, a key, and a finite
// number for the counter kinds.
func ValidateOps(ops []domain.DataOp) error {
	for i, op := range ops {
		switch op.Kind {
		case domain.OpAddCounter, domain.OpInitCounter:
			if math.IsNaN(op.Number) || math.IsInf(op.Number, 0) {
				return invalid("data op %d (%s %q): number %v; want a finite number", i, op.Kind, op.Key, op.Number)
			}
		case domain.OpSetState, domain.OpInitState:
		default:
			return invalid("data op %d: kind %q; allowed: %s, %s, %s, %s", i, op.Kind,
				domain.OpAddCounter, domain.OpInitCounter, domain.OpSetState, domain.OpInitState)
		}
		if op.Key == "" {
			return invalid("data op %d (%s): key is empty; a key is required", i, op.Kind)
		}
		if err := firstErr(ValidateText("key", op.Key, MaxNameBytes), ValidatePayload("value", op.Value)); err != nil {
			return within(fmt.Sprintf("data op %d (%s)", i, op.Kind), err)
		}
	}
	return nil
}

// Validate checks the parent fence, every spec and the data ops.
func (r CreateStepsRequest) Validate() error {
	if err := ValidateFence(r.Parent); err != nil {
		return err
	}
	for _, sp := range r.Specs {
		if err := sp.Validate(); err != nil {
			return err
		}
	}
	return ValidateOps(r.Ops)
}

// Validate checks the fence, the result and the data ops.
func (p CompleteParams) Validate() error {
	return firstErr(ValidateFence(p.Fence), ValidatePayload("result", p.Result), ValidateOps(p.Ops))
}

// Validate checks the fence.
func (p FailParams) Validate() error { return ValidateFence(p.Fence) }

// Validate checks the fence.
func (p RetryParams) Validate() error { return ValidateFence(p.Fence) }

// Validate checks the fence and that the task waits for something: a
// wake-up time, children or both.
func (p ParkParams) Validate() error {
	if err := ValidateFence(p.Fence); err != nil {
		return err
	}
	if p.WakeAt == nil && len(p.Children) == 0 {
		return invalid("park task %q: neither a wake-up time nor children to wait for; want a wake-up time, children or both", p.Fence.TaskID)
	}
	return ValidateIDs("child task id", p.Children)
}

// Validate checks the task id and the queue.
func (p ReplayParams) Validate() error {
	return firstErr(ValidateID("task id", p.TaskID), ValidateText("replay queue", p.Queue, MaxNameBytes))
}

// ValidateFromStep checks the step a repair of an execution starts from
// (from 1).
func ValidateFromStep(executionID string, n int) error {
	if n < 1 {
		return invalid("execution %q: from step %d: steps are numbered from 1", executionID, n)
	}
	return nil
}

// Validate checks the ids, the step and the input.
func (p ForkParams) Validate() error {
	return firstErr(ValidateID("execution id", p.SourceID), ValidateFromStep(p.SourceID, p.FromStep),
		ValidateID("new execution id", p.NewID), ValidateID("new root task id", p.NewRootID),
		ValidatePayload("fork input", p.Input))
}

// Validate checks the id and the step.
func (p ResetParams) Validate() error {
	return firstErr(ValidateID("execution id", p.ID), ValidateFromStep(p.ID, p.FromStep))
}

// ValidateSignal checks a signal's execution id and name.
func ValidateSignal(executionID, name string) error {
	if err := ValidateID("execution id", executionID); err != nil {
		return err
	}
	if name == "" {
		return invalid("signal name is empty; a name is required")
	}
	return ValidateText("signal name", name, MaxNameBytes)
}

// ValidateSignalSeq checks a signal's execution id, name and sequence
// number (from 1).
func ValidateSignalSeq(executionID, name string, seq int64) error {
	if err := ValidateSignal(executionID, name); err != nil {
		return err
	}
	if seq < 1 {
		return invalid("signal %q: sequence number %d; sequence numbers start at 1", name, seq)
	}
	return nil
}

// ValidateFunctions checks that every catalogue entry has a name, and
// text and numbers every store can keep.
func ValidateFunctions(fns []domain.FunctionInfo) error {
	for i, f := range fns {
		if f.Name == "" {
			return invalid("function %d: name is empty; a name is required", i)
		}
		if err := ValidateText("name", f.Name, MaxNameBytes); err != nil {
			return within(fmt.Sprintf("function %d", i), err)
		}
		if err := firstErr(
			ValidateText("queue", f.Queue, MaxNameBytes),
			ValidateTexts("tag", f.Tags, MaxNameBytes),
			ValidateText("version", f.Version, MaxNameBytes),
			ValidateInt32("priority", f.Priority),
			ValidateInt32("max concurrent", f.MaxConcurrent),
		); err != nil {
			return within(fmt.Sprintf("function %q", f.Name), err)
		}
	}
	return nil
}

// validRate checks a task's rate limit: none (limit 0, no key, no
// period), or a limit of 1 or more with a key and a positive period of at
// most a year.
func validRate(key string, limit int, per time.Duration) error {
	switch {
	case limit == 0 && key == "" && per == 0:
		return nil
	case limit < 0:
		return invalid("rate limit %d; want 0 (none) or more", limit)
	case limit == 0:
		return invalid("rate key %s or period %s without a rate limit; want a limit of 1 or more", quoteShort(key), per)
	case key == "":
		return invalid("rate limit %d without a rate key; a key is required", limit)
	case per <= 0 || per > 366*24*time.Hour:
		return invalid("rate period %s; want more than 0 and at most 8784h", per)
	}
	return nil
}

// ValidateQueueName checks the queue name of SetQueuePaused.
func ValidateQueueName(name string) error { return domain.ValidateName("queue", name) }

// ValidateLimitUsageFilter checks ListLimitUsage's filter.
func ValidateLimitUsageFilter(f LimitUsageFilter) error { return validatePage(f.Limit, 0) }
