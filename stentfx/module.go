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
	"github.com/stenthq/stent/adapters/httpapi"
	"github.com/stenthq/stent/adapters/notifierurl"
	"github.com/stenthq/stent/adapters/prommetrics"
	"github.com/stenthq/stent/adapters/storeurl"
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

// ConfigModule provides Config from the environment (ConfigFromEnv; it
// never reads os.Args). Replace it with fx.Replace(cfg) to configure in
// code or from your own flags.
var ConfigModule = fx.Module("stent.config", fx.Provide(ConfigFromEnv))

// LogWriter, when supplied (fx.Supply(&stentfx.LogWriter{...})), receives
// the service log instead of os.Stderr.
type LogWriter struct{ io.Writer }

// LoggingModule provides the *slog.Logger (STENT_LOG_FORMAT,
// STENT_LOG_LEVEL); fx's own events go to it at debug level.
var LoggingModule = fx.Module("stent.logging", fx.Provide(provideLogger))

// StoreModule provides the store (ports.Store, opened by storeurl.Open
// without waiting for the database: PostgreSQL lazily, SQLite at once)
// and *StoreReady. OnStart runs the readiness step in the background
// (storeurl.Connect): it retries while the database is unreachable and
// migrates it when STENT_AUTO_MIGRATE is on; after the startup timeout the
// application exits with code 1. OnStop closes the store.
var StoreModule = fx.Module("stent.store", fx.Provide(provideStore))

// NotifierModule provides the ports.Notifier (in-process, Redis or
// PostgreSQL); OnStop closes it, before the store.
var NotifierModule = fx.Module("stent.notifier", fx.Provide(provideNotifier))

// ClockModule provides the UTC wall clock as ports.Clock.
var ClockModule = fx.Module("stent.clock",
	fx.Provide(fx.Annotate(func() clock.System { return clock.System{} }, fx.As(new(ports.Clock)))))

// MetricsModule provides the Prometheus metrics (*prommetrics.Metrics,
// also as app.Metrics).
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

// httpAddr is the listen address WithHTTP was given ("" means
// Config.HTTPAddr).
type httpAddr string

// WithHTTP adds the HTTP server (*httpapi.Server: /healthz, /readyz,
// /metrics, /v1) on addr, or on Config.HTTPAddr (STENT_HTTP_ADDR) when
// addr is "". It listens on OnStart and, on OnStop, answers /readyz with
// 503, answers long polls with 202 and shuts down gracefully. Module
// alone serves no HTTP: the listener is a choice, never a side effect.
func WithHTTP(addr string) fx.Option {
	return fx.Module("stent.http",
		fx.Supply(httpAddr(addr)),
		fx.Provide(provideServer),
		fx.Invoke(func(*httpapi.Server) {}),
	)
}

// StopGrace is how much longer than the drain (Config.ShutdownTimeout)
// fx's stop timeout must be, so the workers get their whole drain and the
// notifier and store still close after it.
const StopGrace = 10 * time.Second

// DefaultStopTimeout is the fx stop timeout Module sets: the default
// drain (30s) plus StopGrace. A program that raises ShutdownTimeout sets
// fx.StopTimeout(cfg.ShutdownTimeout + StopGrace) after Module.
var DefaultStopTimeout = DefaultConfig().ShutdownTimeout + StopGrace

// Module is the whole service without a listener: configuration (from
// the environment), logging, store, notifier, clock, metrics, engine and
// workers, started by fx, with a stop timeout longer than the drain. Add
// durable functions with Functions or Function, and the HTTP API with
// WithHTTP. Stop order: HTTP, workers, engine, notifier, store.
var Module = fx.Options(
	fx.WithLogger(func(log *slog.Logger) fxevent.Logger {
		l := &fxevent.SlogLogger{Logger: log.With("component", "fx")}
		l.UseLogLevel(slog.LevelDebug)
		return l
	}),
	fx.StopTimeout(DefaultStopTimeout),
	ConfigModule, LoggingModule, StoreModule, NotifierModule, WakeModule, ClockModule, MetricsModule,
	EngineModule, WorkerModule,
	fx.Provide(newExitRequest),
	fx.Invoke(func(cfg Config, log *slog.Logger, _ *Workers) {
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

// StoreReady is closed once the readiness step has connected the store
// (and migrated it); the workers wait for it.
type StoreReady struct{ done chan struct{} }

// Done is closed once the store is connected.
func (r *StoreReady) Done() <-chan struct{} { return r.done }

type storeIn struct {
	fx.In
	Config    Config
	Logger    *slog.Logger
	Lifecycle fx.Lifecycle
	Exit      *ExitRequest
}

type storeOut struct {
	fx.Out
	Store ports.Store
	Ready *StoreReady
}

func provideStore(p storeIn) (storeOut, error) {
	cfg, log := p.Config, p.Logger.With("db", storeurl.Mask(p.Config.DB))
	openCtx, cancelOpen := context.WithTimeout(context.Background(), cfg.StartupTimeout)
	defer cancelOpen()
	st, err := storeurl.Open(openCtx, cfg.DB, storeurl.Options{NoAutoMigrate: !cfg.AutoMigrate, Lazy: true})
	if err != nil {
		return storeOut{}, err
	}
	ready := &StoreReady{done: make(chan struct{})}
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
				err := storeurl.Connect(ctx, st, storeurl.ConnectOptions{OnRetry: func(attempt int, err error, wait time.Duration) {
					log.Warn("store unreachable; retrying", "attempt", attempt, "retry_in", wait, "error", err)
				}})
				switch {
				case err == nil:
					log.Info("store connected", "took", time.Since(started).Round(time.Millisecond), "auto_migrate", cfg.AutoMigrate)
					close(ready.done)
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
			if err := st.Close(); err != nil {
				log.Warn("store closed with an error", "error", err)
				return err
			}
			log.Info("store closed")
			return nil
		},
	})
	return storeOut{Store: st, Ready: ready}, nil
}

type notifierIn struct {
	fx.In
	Config    Config
	Logger    *slog.Logger
	Lifecycle fx.Lifecycle
	// Store is built first so that the notifier closes before it.
	Store ports.Store
}

func provideNotifier(p notifierIn) (ports.Notifier, error) {
	n, err := notifierurl.Open(p.Config.notifierOptions(p.Logger))
	if err != nil {
		return nil, err
	}
	p.Logger.Info("notifier selected", "notifier", notifierurl.KindOf(p.Config.notifierOptions(nil)))
	p.Lifecycle.Append(fx.StopHook(n.Close))
	return n, nil
}

type metricsIn struct {
	fx.In
	Store    ports.Store
	Notifier ports.Notifier
}

func provideMetrics(p metricsIn) *prommetrics.Metrics {
	return prommetrics.New(prommetrics.Options{Store: p.Store, Notifier: p.Notifier})
}

type engineIn struct {
	fx.In
	Config         Config
	Store          ports.Store
	Notifier       ports.Notifier
	Clock          ports.Clock
	Logger         *slog.Logger
	Registry       *app.Registry
	Metrics        *prommetrics.Metrics `optional:"true"`
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
	Store     *StoreReady
	Logger    *slog.Logger
	Lifecycle fx.Lifecycle
}

func provideWorkers(p workersIn) (*Workers, error) {
	var opts []app.WorkerOptions
	if p.Config.Worker {
		opts = append(opts, WorkerOptions(p.Config))
	}
	w, err := NewWorkers(p.Engine, WorkersOptions{Workers: opts, StoreReady: p.Store.Done(),
		ShutdownTimeout: p.Config.ShutdownTimeout, Logger: p.Logger})
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.Hook{
		OnStart: func(context.Context) error { w.Start(); return nil },
		OnStop: func(ctx context.Context) error {
			p.Logger.Info("draining workers", "timeout", p.Config.ShutdownTimeout)
			if d, ok := ctx.Deadline(); ok && time.Until(d) < p.Config.ShutdownTimeout {
				p.Logger.Warn("fx's stop timeout is shorter than the drain; tasks may be cut off: add fx.StopTimeout(cfg.ShutdownTimeout + stentfx.StopGrace)",
					"stop_timeout_left", time.Until(d).Round(time.Millisecond), "shutdown_timeout", p.Config.ShutdownTimeout)
			}
			return w.Stop(ctx)
		},
	})
	return w, nil
}

type serverIn struct {
	fx.In
	Addr      httpAddr
	Config    Config
	Engine    *app.Engine
	Workers   *Workers
	Metrics   *prommetrics.Metrics `optional:"true"`
	Notifier  ports.Notifier
	Logger    *slog.Logger
	Lifecycle fx.Lifecycle
}

func provideServer(p serverIn) *httpapi.Server {
	o := httpapi.Options{Token: p.Config.HTTPToken, MaxBody: int64(p.Config.MaxPayload) + 64<<10,
		Workers: p.Workers.List, Notifier: p.Notifier, Logger: p.Logger, Console: true}
	if p.Metrics != nil {
		o.Metrics = p.Metrics.Handler()
	}
	addr := string(p.Addr)
	if addr == "" {
		addr = p.Config.HTTPAddr
	}
	o.CORSOrigins = p.Config.CORSOrigins
	s := httpapi.NewServer(httpapi.New(p.Engine, o), httpapi.ServerOptions{Addr: addr, Logger: p.Logger,
		InsecureNoAuth: p.Config.InsecureNoAuth})
	p.Lifecycle.Append(fx.Hook{OnStart: s.Start, OnStop: s.Stop})
	return s
}
