// Package ports declares what the engine needs from the outside world: a
// Store (made of small role interfaces), a Notifier and a Clock. Adapters
// implement them; the engine (package app) depends only on these
// interfaces. Beside the port it holds what every store shares: the
// validation of parameters (validate.go), the single-item helpers over the
// batch writes (single.go) and the optional Inspector the contract suite
// requires.
//
// Every store method is safe for concurrent use, runs its multi-row effects
// in one transaction, takes "now" as a parameter (never reading a database
// clock) and returns UTC times truncated to domain.TimePrecision. Errors are
// the sentinels of package domain (domain.ErrNotFound, domain.ErrLeaseLost,
// ...), wrapped with context, so callers test them with errors.Is.
package ports

// Mocks (ports/portsmock) exist only for the interaction tests that check
// the calls themselves: how the engine subscribes, waits and closes
// (app/wait_interaction_test.go). Everything else uses memstore, the fake
// clock and small fault-injecting wrappers.
//
//go:generate go tool mockgen -destination=portsmock/mocks.go -package=portsmock github.com/stenthq/stent/ports Notifier,Subscription
