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

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	context.AfterFunc(ctx, stop) // a second Ctrl-C ends the process at once
	code := cli.Main(ctx, cli.System())
	stop()
	os.Exit(code)
}
