// Command fxservice shows how to embed Stent in your own go.uber.org/fx
// service without traps:
//
//   - the program owns its command line (--addr, --db, --name below);
//     stentfx reads only STENT_* environment variables, and this program
//     overrides what its own flags say with fx.Replace;
//   - the HTTP API is an explicit option (stentfx.WithHTTP), on the
//     address the program chose;
//   - durable functions come with typed handles (stentfx.Function) that
//     fx hands to the program's own constructors: no package variables;
//   - stentfx.Module sets a stop timeout longer than the workers' drain,
//     so SIGTERM drains running tasks instead of cutting them off.
//
// Run it with `go run ./examples/fxservice --addr 127.0.0.1:8090`; stop
// it with Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"go.uber.org/fx"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/stentfx"
)

// Greet is the example's durable function.
func Greet(_ context.Context, name string) (string, error) {
	return fmt.Sprintf("Hello, %s!", name), nil
}

// Greeter is the program's own service: fx builds it with the typed
// handle of Greet.
type Greeter struct {
	eng   *app.Engine
	greet *app.Function[string, string]
	log   *slog.Logger
}

// NewGreeter is an ordinary fx constructor taking the typed handle.
func NewGreeter(eng *app.Engine, greet *app.Function[string, string], log *slog.Logger) *Greeter {
	return &Greeter{eng: eng, greet: greet, log: log}
}

// Greet dispatches a durable greeting and waits for it.
func (g *Greeter) Greet(ctx context.Context, name string) (string, error) {
	id, err := g.greet.Dispatch(ctx, g.eng, name)
	if err != nil {
		return "", err
	}
	return g.greet.Await(ctx, g.eng, id)
}

// greetOnStart greets name once the service runs (without blocking the
// start), so a run shows the whole path.
func greetOnStart(lc fx.Lifecycle, g *Greeter, name string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			go func() {
				defer close(done)
				msg, err := g.Greet(ctx, name)
				if err != nil {
					g.log.Error("greeting failed", "error", err)
					return
				}
				g.log.Info("greeted", "greeting", msg)
			}()
			return nil
		},
		OnStop: func(context.Context) error {
			cancel()
			<-done
			return nil
		},
	})
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("fxservice", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8090", "HTTP listen address of the Stent API")
	db := fs.String("db", "fxservice.sqlite", "store: a SQLite path or a postgres:// URL")
	name := fs.String("name", "fx", "who to greet at start")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := stentfx.ConfigFromEnv() // STENT_* variables only
	if err != nil {
		fmt.Fprintf(os.Stderr, "fxservice: %v\n", err)
		return 2
	}
	cfg.DB = *db
	cfg.Examples = false
	application := fx.New(
		stentfx.Module,
		fx.Replace(cfg),
		stentfx.WithHTTP(*addr),
		stentfx.Function("greetings.greet", Greet),
		fx.Provide(NewGreeter),
		fx.Invoke(func(lc fx.Lifecycle, g *Greeter) { greetOnStart(lc, g, *name) }),
	)
	// Run starts the service, waits for SIGINT or SIGTERM and stops it
	// within stentfx's stop timeout.
	application.Run()
	return 0
}
