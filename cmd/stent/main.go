// Command stent inspects and operates a Stent database from the terminal:
// executions, tasks, statistics, dead letters, dispatch, signals, a live
// dashboard, cleanup and migrations. Run `stent --help` for the commands.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/stenthq/stent/cmd/stent/internal/cli"
)

// version is stamped at build time: go build -ldflags "-X main.version=v1.2.3"
// (`make build-bin` does). Without it `stent version` falls back on the
// build information Go records.
var version string

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	context.AfterFunc(ctx, stop) // a second Ctrl-C ends the process at once
	code := cli.Main(ctx, cli.System(version))
	stop()
	os.Exit(code)
}
