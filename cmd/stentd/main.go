// Command stentd is the Stent service: workers, the JSON API, health and
// Prometheus metrics in one process, built as
// fx.New(stentfx.Module, examples). It runs on an embedded SQLite file by
// default (stent.sqlite); STENT_DB=postgres://... selects PostgreSQL and
// STENT_REDIS_URL the Redis notifier. `stentd --help` lists every setting.
//
// SIGTERM or SIGINT drains the workers and exits 0; a second signal exits
// 1 at once. A bad setting exits 2; a store still unreachable after the
// startup timeout exits 1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"go.uber.org/dig"
	"go.uber.org/fx"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/examples"
	"github.com/stenthq/stent/internal/buildinfo"
	"github.com/stenthq/stent/stentfx"
)

// version is stamped at build time: go build -ldflags "-X main.version=v1.2.3"
// (`make build-bin` does). Without it `stentd --version` falls back on the
// build information the Go toolchain records.
var version string

func main() {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	os.Exit(run(os.Args[1:], os.Getenv, os.Stderr, sigs))
}

// examplesModule contributes the bundled example workflows unless
// STENT_EXAMPLES=false.
var examplesModule = fx.Module("examples", fx.Provide(fx.Annotate(
	func(cfg stentfx.Config) stentfx.Registration {
		if !cfg.Examples {
			return nil
		}
		return func(reg *app.Registry) { examples.Register(reg) }
	}, fx.ResultTags(stentfx.FunctionsGroup))))

// run is stentd: it returns the exit code. sigs delivers SIGTERM/SIGINT;
// extra options are added to the application (tests add functions).
func run(args []string, getenv func(string) string, stderr io.Writer, sigs <-chan os.Signal, extra ...fx.Option) int {
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-version") {
		fmt.Fprintf(stderr, "stentd %s\n", buildinfo.Version(version, debug.ReadBuildInfo))
		return 0
	}
	cfg, err := stentfx.LoadConfig(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stderr, "Usage: stentd [flags]\n       stentd --version\n\nEvery flag can also be set by its environment variable; flags win.\n"+
			"Durations are written like 30s, 0.25s, 5m, 1h30m or 7d.\n\n%s", stentfx.ConfigUsage())
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "stentd: %v\n", err)
		return 2
	}
	var (
		log  *slog.Logger
		exit *stentfx.ExitRequest
	)
	opts := append([]fx.Option{
		stentfx.Module, examplesModule, stentfx.WithHTTP(""),
		fx.Replace(cfg),
		fx.Supply(&stentfx.LogWriter{Writer: stderr}),
		// The workers get the whole drain; the notifier and store still
		// close after it.
		fx.StopTimeout(cfg.ShutdownTimeout + stentfx.StopGrace),
		fx.Populate(&log, &exit),
	}, extra...)
	application := fx.New(opts...)
	if err := application.Err(); err != nil {
		// One line: the cause, not fx's dependency chain.
		err = dig.RootCause(err)
		fmt.Fprintf(stderr, "stentd: %s\n", strings.Join(strings.Fields(err.Error()), " "))
		if errors.Is(err, domain.ErrInvalidArgument) {
			return 2
		}
		return 1
	}
	startCtx, cancel := context.WithTimeout(context.Background(), application.StartTimeout())
	defer cancel()
	if err := application.Start(startCtx); err != nil {
		log.Error("start-up failed", "error", err)
		return 1
	}
	log.Info("stentd started", "version", buildinfo.Version(version, debug.ReadBuildInfo))
	code := 0
	select {
	case sig := <-sigs:
		log.Info("signal received; shutting down (send another to exit at once)", "signal", sig.String())
	case <-exit.Done():
		code = exit.Code()
	}
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), application.StopTimeout())
		defer cancel()
		stopped <- application.Stop(ctx)
	}()
	select {
	case err := <-stopped:
		if err != nil {
			log.Error("shutdown failed", "error", err)
			return 1
		}
	case sig := <-sigs:
		log.Warn("second signal; exiting without finishing the shutdown", "signal", sig.String())
		return 1
	}
	log.Info("stopped", "exit_code", code)
	return code
}
