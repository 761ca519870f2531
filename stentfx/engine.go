package stentfx

import (
	"context"
	"io"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"

	"github.com/stenthq/stent/adapters/prommetrics"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/ports"
)

// Registration adds durable functions to a registry. Contribute one to the
// service with Functions; a nil Registration is skipped.
type Registration func(*app.Registry)

// NewRegistry builds the registry from the contributed registrations, in
// order. Registration errors surface from NewEngine (app.New).
func NewRegistry(regs []Registration) *app.Registry {
	reg := app.NewRegistry()
	for _, r := range regs {
		if r != nil {
			r(reg)
		}
	}
	return reg
}

// NewLogger returns the service logger: JSON or text (cfg.LogFormat) at
// cfg.LogLevel, written to w.
func NewLogger(cfg Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// EngineDeps are NewEngine's collaborators. Store and Registry are
// required; the others may be nil (see app.Deps).
type EngineDeps struct {
	Store          ports.Store
	Notifier       ports.Notifier
	Clock          ports.Clock
	Logger         *slog.Logger
	Registry       *app.Registry
	Metrics        *prommetrics.Metrics
	TracerProvider trace.TracerProvider
}

// NewEngine builds the engine with the configured payload limit and park
// delay (cfg.ParkAfter; negative: no parking). When
// Metrics is set it records the engine's observations and reports its
// workers' slots. The caller closes the engine (after draining workers).
func NewEngine(cfg Config, d EngineDeps) (*app.Engine, error) {
	deps := app.Deps{Store: d.Store, Notifier: d.Notifier, Clock: d.Clock, Logger: d.Logger,
		Registry: d.Registry, TracerProvider: d.TracerProvider}
	if d.Metrics != nil {
		deps.Metrics = d.Metrics
	}
	eng, err := app.New(deps, app.Config{MaxPayloadBytes: cfg.MaxPayload, ParkAfter: cfg.ParkAfter})
	if err != nil {
		return nil, err
	}
	if d.Metrics != nil {
		d.Metrics.WatchWorkers(eng.Workers)
	}
	return eng, nil
}

// WorkerOptions turns the configuration into the worker's options. A
// CleanupInterval of 0 disables the cleanup; the drain is bounded by the
// shutdown timeout; a DeadAfter of 0 is 4 x the liveness interval.
func WorkerOptions(cfg Config) app.WorkerOptions {
	o := app.WorkerOptions{
		ID: cfg.WorkerID, Name: cfg.WorkerName, Queues: cfg.Queues, Tags: cfg.Tags, Versions: cfg.Versions, MaxConcurrency: cfg.MaxConcurrency,
		LeaseDuration: cfg.Lease, Retention: cfg.Retention, CleanupInterval: cfg.CleanupInterval,
		DrainTimeout: cfg.ShutdownTimeout, LivenessInterval: cfg.LivenessInterval, DeadAfter: cfg.DeadAfter,
	}
	if o.CleanupInterval == 0 {
		o.CleanupInterval = -1
	}
	return o
}

// fnCell holds the typed handle Function registers, per application.
type fnCell[I, O any] struct{ h *app.Function[I, O] }

// Function registers fn under name (as app.Register does) and provides
// its typed handle, *app.Function[I, O], to the application's own
// constructors:
//
//	fx.New(stentfx.Module,
//		stentfx.Function("orders.place", placeOrder),
//		fx.Provide(func(eng *app.Engine, place *app.Function[Order, Receipt]) *Shop { ... }))
//
// No package variable is needed to reach the handle. fx provides one
// value per type: two functions with the same input and output types need
// distinct types (a named struct each) to be injected this way.
func Function[I, O any](name string, fn func(context.Context, I) (O, error), opts ...app.RegisterOption) fx.Option {
	return fx.Module("stent.function "+name,
		fx.Provide(fx.Private, func() *fnCell[I, O] { return &fnCell[I, O]{} }),
		fx.Provide(fx.Annotate(func(c *fnCell[I, O]) Registration {
			return func(reg *app.Registry) { c.h = app.Register(reg, name, fn, opts...) }
		}, fx.ResultTags(FunctionsGroup))),
		// Depending on the registry makes the registration run first.
		fx.Provide(func(c *fnCell[I, O], _ *app.Registry) *app.Function[I, O] { return c.h }),
	)
}
