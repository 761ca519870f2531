// Package app is the Stent engine: a registry of durable functions,
// dispatch, workers that claim and run tasks under leases, checkpointed
// steps (Call, Map, Async, Sleep, WaitForSignal), retries, cancellation,
// dead letters, waits and statistics.
//
// The engine depends only on the ports (Store, Notifier, Clock); adapters
// are wired by the caller (or by package stentfx).
//
// # Calling durable functions
//
// A durable function is an ordinary func(context.Context, I) (O, error)
// registered under a name. Calling it with Call works in three modes, tried
// in order:
//
//  1. Inside a running task, the call is a checkpointed child step: it gets
//     a deterministic id from (execution, parent task, call number), so a
//     re-run of the parent finds the stored result instead of running the
//     body again.
//  2. With an engine attached to the context (WithEngine), the call
//     dispatches a new execution and waits for its result.
//  3. Otherwise the function runs locally, unpersisted (handy in unit
//     tests).
//
// Steps are numbered in the order they are issued. Issue steps from the
// task's own goroutine, and use Map or Async for concurrency: steps issued
// from goroutines you start yourself are numbered in arrival order, which
// may differ between runs and then fails the replay with a
// non-determinism error.
//
// # Changing code
//
// A waiting workflow resumes by running its function again under the code
// deployed by then. Guard a change to the steps with Patched (a marker
// step: true for new runs, false for runs recorded before the change), and
// replace the check with Deprecate once the old runs are gone.
//
// # Inside
//
// This package is the public API: registration, dispatch, waits, signals,
// options, errors and the Engine and Worker handles. The machinery behind
// it lives in app/internal, one concern per package: run (one task's run,
// its step replay, inline steps, sleeps, suspension and its one end-of-run
// write), worker (the claim loop, heartbeats, liveness, maintenance),
// wait (the one subscribe-check-poll loop), batch (the one batching loop
// of completions and step writes), hint (notifications and the next due
// time), slots (a worker's task slots) and durable (a registered function
// with its types erased, and the JSON codec). Every timer comes from a
// ports.Clock: Deps.Clock for stored times, durable sleeps and deadlines;
// the wall clock (ports.SystemClock) for the engine's own pacing (polls,
// heartbeats, claim cooldown, write backoff).
package app
