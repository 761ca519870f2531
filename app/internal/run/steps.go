package run

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/stenthq/stent/app/internal/durable"
	"github.com/stenthq/stent/app/internal/wait"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Activity encodes in and builds the spec of call number pos of def.
func (r *Run) Activity(def *durable.Func, in any, pos int) (ports.StepSpec, error) {
	input, err := durable.Encode(in, r.env.MaxPayloadBytes)
	if err != nil {
		return ports.StepSpec{}, err
	}
	spec := ports.StepSpec{
		ID: domain.StepID(r.task.ExecutionID, r.task.ID, pos), Position: pos,
		Kind: domain.KindActivity, StepName: def.Name, Version: def.Version, Input: input,
		RetryPolicy: def.Retry, MaxConcurrent: def.MaxConcurrent,
		Tags: def.Tags, Priority: def.Priority, Queue: def.Queue,
		TraceContext: r.trace,
	}
	if def.Flow != nil {
		fl, err := def.Flow(input, def.Queue)
		if err != nil {
			return spec, fmt.Errorf("stent: call %q: %w", def.Name, err)
		}
		spec.MaxConcurrent, spec.ConcurrencyKey = fl.MaxConcurrent, fl.ConcurrencyKey
		spec.RateKey, spec.RateLimit, spec.RatePer = fl.RateKey, fl.RateLimit, fl.RatePer
	}
	if def.Idempotent || def.Cached {
		key, err := def.Key(input)
		if err != nil {
			return spec, err
		}
		if def.Idempotent {
			spec.IdempotencyKey = key
		}
		if def.Cached {
			spec.CacheKey = key
		}
	}
	return spec, nil
}

// EnsureSteps makes sure every spec has its positional record: first the
// run's own record, if it is an inline step that has none yet
// (materialize); then the records loaded when the run started, when they
// serve every spec (replayed); else one write (writeSteps).
//
// extraOps (an inline step's own data operations) are committed with the
// records, after this run's buffered operations.
func (r *Run) EnsureSteps(ctx context.Context, specs []ports.StepSpec, extraOps ...domain.DataOp) ([]domain.Task, error) {
	if err := r.materialize(ctx); err != nil {
		return nil, err
	}
	if recs, ok, err := r.replayed(ctx, specs); ok || err != nil {
		return recs, err
	}
	return r.writeSteps(ctx, specs, extraOps)
}

// materialize writes the records of this run and of the inline callers it
// runs in that have none yet, outermost first, each claimed by this worker
// (see inline.go). A no-op for a run that has a record.
func (r *Run) materialize(ctx context.Context) error {
	var chain []*Run
	for x := r; x != nil && x.isVirtual(); x = x.parent {
		chain = append(chain, x)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		if err := chain[i].claimRecord(ctx); err != nil {
			return err
		}
	}
	return nil
}

// claimRecord writes the record of a virtual run through its caller (which
// has its own record by now), claimed by this worker, and makes it an
// ordinary run: heartbeats, fenced writes.
func (r *Run) claimRecord(ctx context.Context) error {
	r.matMu.Lock()
	defer r.matMu.Unlock()
	if !r.isVirtual() {
		return nil
	}
	spec := r.spec
	spec.Claim = &ports.StepClaim{WorkerID: r.host.ID(), Token: domain.NewID(),
		LeaseExpiresAt: r.env.Now().Add(r.host.LeaseDuration())}
	recs, err := r.parent.writeSteps(ctx, []ports.StepSpec{spec}, nil)
	if err != nil {
		return err
	}
	rec := recs[0]
	if rec.State != domain.TaskRunning || rec.ClaimToken != spec.Claim.Token {
		return fmt.Errorf("stent: inline step %q (call #%d of %q) found a record it did not write (state %s)",
			rec.ID, spec.Position, r.parent.task.StepName, rec.State)
	}
	r.mu.Lock()
	r.task, r.virtual, r.children = rec, false, map[int]domain.Task{}
	if rec.LeaseExpiresAt != nil {
		r.leaseExpires = *rec.LeaseExpiresAt
	}
	r.mu.Unlock()
	r.host.Track(r)
	return nil
}

// replayed serves specs from the records loaded when the run started
// (loadChildren) when every one of them is a completed record of the same
// step: a replay after a park, a crash or a retry re-attaches to its
// checkpoints without a store call. The operations buffered since the
// previous checkpoint are dropped, as a re-attaching write drops them (the
// record's creation committed them). ok is false when any spec needs the
// store (no record, a live, failed or cancelled one, another name).
func (r *Run) replayed(ctx context.Context, specs []ports.StepSpec) ([]domain.Task, bool, error) {
	r.mu.Lock()
	children := r.children
	r.mu.Unlock()
	if len(children) == 0 {
		if children != nil || r.isVirtual() {
			return nil, false, nil
		}
		var err error
		if children, err = r.loadChildren(ctx); err != nil {
			return nil, false, err
		}
	}
	recs := make([]domain.Task, len(specs))
	for i, spec := range specs {
		rec, ok := children[spec.Position]
		if !ok || rec.State != domain.TaskCompleted {
			return nil, false, nil
		}
		if rec.StepName != spec.StepName {
			if rec.ParentGeneration < r.task.Generation {
				return nil, false, nil // a newer generation resets it
			}
			return nil, false, r.env.NonDeterminism(spec.Position, rec.StepName, spec.StepName)
		}
		recs[i] = rec
	}
	r.takeOps()
	return recs, true, nil
}

// loadChildren returns the step records that existed when this run first
// looked, by position. They are read once per run, in one query per 1,000
// records: a resumed or re-run task replays its completed steps from them
// without a store call each. A first run, a virtual inline step and a
// just-materialised one have none.
func (r *Run) loadChildren(ctx context.Context) (map[int]domain.Task, error) {
	r.mu.Lock()
	children := r.children
	r.mu.Unlock()
	if children != nil {
		return children, nil
	}
	children = map[int]domain.Task{}
	if !r.isVirtual() {
		const page = 1000
		for offset := 0; ; offset += page {
			// A store blip here is retried until the lease ends, as a
			// checkpoint write is: the run's user code must not see it
			// (and spend an attempt on it).
			var ts []domain.Task
			err := r.retryWrite(ctx, func(time.Time) error {
				var err error
				ts, err = r.env.Store.ListTasks(ctx, ports.TaskFilter{ExecutionID: r.task.ExecutionID,
					ParentTaskID: r.task.ID, Limit: page, Offset: offset})
				return err
			})
			if err != nil {
				return nil, CtxErr(ctx, err)
			}
			for _, t := range ts {
				children[t.Position] = t
			}
			if len(ts) < page {
				break
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.children == nil {
		r.children = children
	}
	return r.children, nil
}

// writeSteps writes the specs' records (with the buffered operations and
// extraOps) and applies the re-attachment rules of SPEC §4.2 for this
// run's generation: a record with another name is a non-determinism error
// in the same generation and is reset in a newer one; a failed record is
// reset in a newer generation; a cancelled record is reset unless the
// execution is over. The run has its own record.
func (r *Run) writeSteps(ctx context.Context, specs []ports.StepSpec, extraOps []domain.DataOp) ([]domain.Task, error) {
	env := r.env
	ops := r.takeOps()
	all := ops
	if len(extraOps) > 0 {
		all = append(append([]domain.DataOp(nil), ops...), extraOps...)
	}
	// A checkpoint write that meets a store blip is retried until the
	// lease ends; user code sees an error only when the lease is lost.
	var res ports.CreateStepsResult
	err := r.retryWrite(ctx, func(now time.Time) error {
		res = env.Steps.Do(ctx, ports.CreateStepsRequest{Parent: r.Fence(), Specs: specs, Ops: all, Now: now})
		return res.Err
	})
	recs := res.Tasks
	if err != nil {
		r.restoreOps(ops)
		return nil, r.writeErr(ctx, err)
	}
	gen := r.task.Generation
	for i := range recs {
		rec, spec := recs[i], specs[i]
		newer := rec.ParentGeneration < gen
		switch {
		case rec.StepName != spec.StepName:
			if !newer {
				return nil, env.NonDeterminism(spec.Position, rec.StepName, spec.StepName)
			}
			rec, err = r.resetStep(ctx, spec, rec)
		case rec.State == domain.TaskFailed && newer:
			rec, err = r.resetStep(ctx, spec, rec)
		case rec.State == domain.TaskCancelled:
			var ex domain.Execution
			err = r.retryWrite(ctx, func(time.Time) error {
				var gerr error
				ex, gerr = env.Store.GetExecution(ctx, rec.ExecutionID)
				return gerr
			})
			if err == nil && !ex.State.Terminal() {
				rec, err = r.resetStep(ctx, spec, rec)
			}
		}
		if err != nil {
			return nil, err
		}
		recs[i] = rec
	}
	env.Hints.Announce(ctx, env.Now(), recs)
	return recs, nil
}

// resetStep re-queues rec for this newer generation (waiting first if it
// is still live under another name).
func (r *Run) resetStep(ctx context.Context, spec ports.StepSpec, rec domain.Task) (domain.Task, error) {
	if rec.State.Live() {
		recs, err := r.Await(ctx, []domain.Task{rec})
		if err != nil {
			return rec, err
		}
		rec = recs[0]
	}
	spec.Claim = nil
	out, err := r.env.Store.ResetStep(ctx, r.Fence(), spec, r.env.Now())
	if err != nil {
		return rec, r.writeErr(ctx, err)
	}
	r.Logger().InfoContext(ctx, "step re-queued for a new generation", "step", spec.Position, "function", spec.StepName)
	return out, nil
}

// Await waits until every record is terminal, giving the worker slot back
// while it waits (and parking the run if the wait is long, see park.go),
// and returns them as stored.
func (r *Run) Await(ctx context.Context, recs []domain.Task) ([]domain.Task, error) {
	return r.awaitUntil(ctx, recs, nil)
}

// awaitUntil is Await that also returns once the engine clock reaches
// deadline (when set), with the records as last read (some may still be
// live). A parked run wakes at the deadline or when the records end,
// whichever comes first.
func (r *Run) awaitUntil(ctx context.Context, recs []domain.Task, deadline *time.Time) ([]domain.Task, error) {
	passed := func() bool { return deadline != nil && !r.env.Clock.Now().Before(*deadline) }
	byID := make(map[string]int, len(recs))
	var waiting []string
	for i, rec := range recs {
		byID[rec.ID] = i
		if rec.State.Live() {
			waiting = append(waiting, rec.ID)
		}
	}
	if len(waiting) == 0 {
		return recs, nil
	}
	out := slices.Clone(recs)
	topics := make([]domain.Topic, 0, len(waiting))
	for _, id := range waiting {
		topics = append(topics, domain.TaskTopic(id))
		if rec := recs[byID[id]]; rec.LinkOwnerID != "" {
			topics = append(topics, domain.TaskTopic(rec.LinkOwnerID))
		}
	}
	live := map[string]bool{}
	for _, id := range waiting {
		live[id] = true
	}
	released := false
	check := func(ctx context.Context, changed []string, all bool) (bool, error) {
		if passed() {
			all = true // read them all once more: an end wins over the deadline
		}
		var ids []string
		if all {
			for id := range live {
				ids = append(ids, id)
			}
		} else {
			for _, id := range changed {
				if live[id] {
					ids = append(ids, id)
				}
			}
			// An event on a link owner's topic concerns its links.
			for id := range live {
				if o := out[byID[id]].LinkOwnerID; o != "" && slices.Contains(changed, o) && !slices.Contains(ids, id) {
					ids = append(ids, id)
				}
			}
		}
		if len(ids) == 0 {
			return passed(), nil
		}
		ts, err := r.env.Store.GetTasks(ctx, ids)
		if errors.Is(err, domain.ErrUnavailable) {
			return false, nil // a store blip: the next poll reads again
		}
		if err != nil {
			return false, CtxErr(ctx, err)
		}
		for _, t := range ts {
			out[byID[t.ID]] = t
			if t.State.Terminal() {
				delete(live, t.ID)
			}
		}
		return len(live) == 0 || passed(), nil
	}
	var capWait func() time.Duration
	if deadline != nil {
		capWait = func() time.Duration { return max(deadline.Sub(r.env.Clock.Now()), time.Millisecond) }
	}
	onBlock := func() {
		if !released {
			released = true
			r.releaseSlot()
		}
	}
	var park *wait.Park
	if after, ok := r.parkAfter(); ok {
		park = &wait.Park{After: after, Now: r.host.Draining()}
	}
	var err error
	for {
		err = r.env.Waits.Until(ctx, topics, check, onBlock, capWait, park)
		if !errors.Is(err, wait.ErrParkNow) {
			break
		}
		if !r.mayPark() {
			park = nil // stay in memory
			continue
		}
		// Parks and ends the goroutine, unless the records ended
		// meanwhile (then the next check sees them) or it failed.
		ids := make([]string, 0, len(live))
		for _, rec := range out {
			if live[rec.ID] {
				ids = append(ids, rec.ID)
			}
		}
		if err = r.park(ctx, deadline, ids); err != nil {
			break
		}
	}
	if released {
		if aerr := r.acquireSlot(ctx); aerr != nil && err == nil {
			err = aerr
		}
	}
	if err != nil {
		return nil, CtxErr(ctx, err)
	}
	return out, nil
}

// Outcome turns a terminal record into its result or error.
func Outcome(rec domain.Task) ([]byte, error) {
	switch rec.State {
	case domain.TaskCompleted:
		return rec.Result, nil
	case domain.TaskFailed:
		if rec.Error != nil {
			return nil, rec.Error
		}
		return nil, fmt.Errorf("stent: step %q failed", rec.StepName)
	case domain.TaskCancelled:
		if rec.Error != nil {
			return nil, rec.Error
		}
		return nil, domain.SentinelError(domain.ErrCancelled, "step cancelled")
	}
	return nil, fmt.Errorf("stent: step %q is still %s", rec.StepName, rec.State)
}
