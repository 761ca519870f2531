package stentfx

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/stenthq/stent/adapters/clock"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// FunctionsGroup is the fx value group durable functions join the
// registry through (see Functions).
const FunctionsGroup = `group:"stent.functions"`

// Functions contributes durable functions to the service's registry, so a
// binary is fx.New(stentfx.Module, stentfx.Functions(myfns.Register)).
// Each registration runs once, in the order fx collects them.
func Functions(regs ...Registration) fx.Option {
	opts := make([]fx.Option, 0, len(regs))
	for _, r := range regs {
		opts = append(opts, fx.Supply(fx.Annotated{Group: "stent.functions", Target: r}))
	}
	return fx.Options(opts...)
}

// ConfigModule provides Config from the process's flags and environment
// (ConfigFromProcess). Replace it with fx.Replace(cfg) to configure in
// code.
var ConfigModule = fx.Module("stent.config", fx.Provide(ConfigFromProcess))

// LogWriter, when supplied (fx.Supply(&stentfx.LogWriter{...})), receives
// the service log instead of os.Stderr.
type LogWriter struct{ io.Writer }

// LoggingModule provides the *slog.Logger (STENT_LOG_FORMAT,
// STENT_LOG_LEVEL); fx's own events go to it at debug level.
var LoggingModule = fx.Module("stent.logging", fx.Provide(provideLogger))

// StoreModule provides the store (*DeferredStore, also as ports.Store):
// OnStart connects it in the background, retrying while it is unreachable
// and migrating it when STENT_AUTO_MIGRATE is on; after the startup
// timeout the application exits with code 1. OnStop closes it.
var StoreModule = fx.Module("stent.store",
	fx.Provide(fx.Annotate(provideStore, fx.As(fx.Self()), fx.As(new(ports.Store)))))

// NotifierModule provides the ports.Notifier (in-process, Redis or
// PostgreSQL); OnStop closes it, before the store.
var NotifierModule = fx.Module("stent.notifier", fx.Provide(provideNotifier))

// ClockModule provides the UTC wall clock as ports.Clock.
var ClockModule = fx.Module("stent.clock",
	fx.Provide(fx.Annotate(func() clock.System { return clock.System{} }, fx.As(new(ports.Clock)))))

// MetricsModule provides the Prometheus metrics (*Metrics, also as
// app.Metrics).
var MetricsModule = fx.Module("stent.metrics",
	fx.Provide(fx.Annotate(provideMetrics, fx.As(fx.Self()), fx.As(new(app.Metrics)))))

// EngineModule provides the registry (from the FunctionsGroup value group)
// and the *app.Engine; OnStop closes the engine after the workers drained.
// A trace.TracerProvider in the graph turns tracing on.
var EngineModule = fx.Module("stent.engine",
	fx.Provide(fx.Annotate(NewRegistry, fx.ParamTags(FunctionsGroup)), provideEngine))

// WorkerModule provides *Workers: OnStart starts them without blocking
// (they claim once the store is connected); OnStop drains them within the
// shutdown timeout, releasing the leases of tasks still running.
var WorkerModule = fx.Module("stent.worker", fx.Provide(provideWorkers))

// HTTPModule provides the *Server (/healthz, /readyz, /metrics, /v1): it
// listens on OnStart and, on OnStop, answers /readyz with 503, answers
// long polls with 202 and shuts down gracefully.
var HTTPModule = fx.Module("stent.http", fx.Provide(provideServer))

// Module is the whole service: configuration, logging, store, notifier,
// clock, metrics, engine, workers and HTTP server, started by fx. Add
// durable functions with Functions. Stop order: HTTP, workers, engine,
// notifier, store.
var Module = fx.Options(
	fx.WithLogger(func(log *slog.Logger) fxevent.Logger {
		l := &fxevent.SlogLogger{Logger: log.With("component", "fx")}
		l.UseLogLevel(slog.LevelDebug)
		return l
	}),
	ConfigModule, LoggingModule, StoreModule, NotifierModule, ClockModule, MetricsModule,
	EngineModule, WorkerModule, HTTPModule,
	fx.Provide(newExitRequest),
	fx.Invoke(func(cfg Config, log *slog.Logger, _ *Server) {
		log.Info("stent configured", "config", cfg)
	}),
)

type loggerIn struct {
	fx.In
	Config Config
	Writer *LogWriter `optional:"true"`
}

func provideLogger(p loggerIn) *slog.Logger {
	var w io.Writer = os.Stderr
	if p.Writer != nil && p.Writer.Writer != nil {
		w = p.Writer.Writer
	}
	return NewLogger(p.Config, w)
}

// ExitRequest records that a component asked the application to end with
// an exit code (a store that never became reachable asks for 1). It also
// calls fx.Shutdowner, so fx.App.Run exits with that code; programs that
// run the app themselves select on Done.
type ExitRequest struct {
	sd   fx.Shutdowner
	once sync.Once
	code atomic.Int32
	done chan struct{}
}

func newExitRequest(sd fx.Shutdowner) *ExitRequest {
	return &ExitRequest{sd: sd, done: make(chan struct{})}
}

// Request asks for the application to stop with code; the first request
// wins.
func (e *ExitRequest) Request(code int) {
	e.once.Do(func() {
		e.code.Store(int32(code))
		close(e.done)
		_ = e.sd.Shutdown(fx.ExitCode(code))
	})
}

// Done is closed once an exit was requested.
func (e *ExitRequest) Done() <-chan struct{} { return e.done }

// Code returns the requested exit code.
func (e *ExitRequest) Code() int { return int(e.code.Load()) }

type storeIn struct {
	fx.In
	Config    Config
	Logger    *slog.Logger
	Lifecycle fx.Lifecycle
	Exit      *ExitRequest
}

func provideStore(p storeIn) *DeferredStore {
	cfg, log := p.Config, p.Logger.With("db", MaskDSN(p.Config.DB))
	d := NewDeferredStore(func(ctx context.Context) (ports.Store, error) {
		return OpenStore(ctx, cfg.DB, StoreOptions{NoAutoMigrate: !cfg.AutoMigrate})
	})
	var (
		stopping atomic.Bool
		cancel   context.CancelFunc
		done     chan struct{}
	)
	p.Lifecycle.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ctx, c := context.WithTimeout(context.Background(), cfg.StartupTimeout)
			cancel, done = c, make(chan struct{})
			go func() {
				defer close(done)
				defer c()
				started := time.Now()
				err := d.Connect(ctx, ConnectOptions{OnRetry: func(attempt int, err error, wait time.Duration) {
					log.Warn("store unreachable; retrying", "attempt", attempt, "retry_in", wait, "error", err)
				}})
				switch {
				case err == nil:
					log.Info("store connected", "took", time.Since(started).Round(time.Millisecond), "auto_migrate", cfg.AutoMigrate)
				case stopping.Load() || errors.Is(err, domain.ErrClosed):
				default:
					log.Error("store unavailable; giving up", "startup_timeout", cfg.StartupTimeout, "error", err)
					p.Exit.Request(1)
				}
			}()
			return nil
		},
		OnStop: func(context.Context) error {
			stopping.Store(true)
			if cancel != nil {
				cancel()
				<-done
			}
			if err := d.Close(); err != nil {
				log.Warn("store closed with an error", "error", err)
				return err
			}
			log.Info("store closed")
			return nil
		},
	})
	return d
}

type notifierIn struct {
	fx.In
	Config    Config
	Logger    *slog.Logger
	Lifecycle fx.Lifecycle
	// Store is built first so that the notifier closes before it.
	Store *DeferredStore
}

func provideNotifier(p notifierIn) (ports.Notifier, error) {
	n, err := NewNotifier(p.Config, p.Logger)
	if err != nil {
		return nil, err
	}
	p.Logger.Info("notifier selected", "notifier", NotifierKind(p.Config))
	p.Lifecycle.Append(fx.StopHook(n.Close))
	return n, nil
}

type metricsIn struct {
	fx.In
	Store    ports.Store
	Notifier ports.Notifier
}

func provideMetrics(p metricsIn) *Metrics {
	return NewMetrics(MetricsOptions{Store: p.Store, Notifier: p.Notifier})
}

type engineIn struct {
	fx.In
	Config         Config
	Store          ports.Store
	Notifier       ports.Notifier
	Clock          ports.Clock
	Logger         *slog.Logger
	Registry       *app.Registry
	Metrics        *Metrics             `optional:"true"`
	TracerProvider trace.TracerProvider `optional:"true"`
	Lifecycle      fx.Lifecycle
}

func provideEngine(p engineIn) (*app.Engine, error) {
	eng, err := NewEngine(p.Config, EngineDeps{Store: p.Store, Notifier: p.Notifier, Clock: p.Clock, Logger: p.Logger,
		Registry: p.Registry, Metrics: p.Metrics, TracerProvider: p.TracerProvider})
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.StopHook(eng.Close))
	return eng, nil
}

type workersIn struct {
	fx.In
	Config    Config
	Engine    *app.Engine
	Store     *DeferredStore
	Logger    *slog.Logger
	Lifecycle fx.Lifecycle
}

func provideWorkers(p workersIn) (*Workers, error) {
	var opts []app.WorkerOptions
	if p.Config.Worker {
		opts = append(opts, WorkerOptions(p.Config))
	}
	w, err := NewWorkers(p.Engine, WorkersOptions{Workers: opts, StoreReady: p.Store.Connected(),
		ShutdownTimeout: p.Config.ShutdownTimeout, Logger: p.Logger})
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.Hook{
		OnStart: func(context.Context) error { w.Start(); return nil },
		OnStop: func(ctx context.Context) error {
			p.Logger.Info("draining workers", "timeout", p.Config.ShutdownTimeout)
			return w.Stop(ctx)
		},
	})
	return w, nil
}

type serverIn struct {
	fx.In
	Config    Config
	Engine    *app.Engine
	Workers   *Workers
	Metrics   *Metrics `optional:"true"`
	Notifier  ports.Notifier
	Logger    *slog.Logger
	Lifecycle fx.Lifecycle
}

func provideServer(p serverIn) *Server {
	o := ServerOptions{Addr: p.Config.HTTPAddr, Token: p.Config.HTTPToken, MaxBody: int64(p.Config.MaxPayload) + 64<<10,
		Workers: p.Workers, Notifier: p.Notifier, Logger: p.Logger}
	if p.Metrics != nil {
		o.Metrics = p.Metrics.Handler()
	}
	s := NewServer(p.Engine, o)
	p.Lifecycle.Append(fx.Hook{OnStart: s.Start, OnStop: s.Stop})
	return s
}
