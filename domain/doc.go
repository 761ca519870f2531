// Package domain holds Stent's pure types and rules: executions, tasks and
// their state machines, retry policies, the strict duration parser, stored
// errors, results, events, idempotency keys and deterministic step ids.
//
// The package imports only the standard library. It never reads the clock,
// never logs and does no I/O: the current time is always a parameter.
package domain
