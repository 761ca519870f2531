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

//go:generate go tool mockgen -destination=portsmock/mocks.go -package=portsmock github.com/stenthq/stent/ports Store,ExecutionStore,TaskReader,StepStore,ClaimStore,SignalStore,DeadLetterStore,StatsStore,Maintenance,Migrator,Notifier,Subscription,Clock,Timer,Ticker
