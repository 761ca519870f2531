package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/stenthq/stent/adapters/storeurl"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/ports"
	"github.com/stenthq/stent/replay"
)

// exportCommand is `stent export <id>`: an execution's history as JSON,
// the input of replay.Replay in a user's own tests.
func (r *runner) exportCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "export <execution-id>",
		Short: "Write an execution's recorded history as JSON (for replay tests)",
		Long: `export writes an execution's root input and its recorded steps as JSON, to
stdout or to the file -o names. Keep exported histories in a folder of your
repository and replay them in a go test (replay.ReplayDir) before deploying:
a change that would break runs recorded under the old code fails the test.`,
		Args: cobra.ExactArgs(1),
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of stdout")
	cmd.RunE = r.run(func(ctx context.Context, args []string) error {
		st, err := r.open(ctx, readOnly)
		if err != nil {
			return err
		}
		defer func() { _ = st.Close() }()
		h, err := replay.LoadHistory(ctx, st, args[0])
		if err != nil {
			return notFound(err, "execution", args[0])
		}
		b, err := h.Marshal()
		if err != nil {
			return err
		}
		if out == "" {
			_, err = r.env.Stdout.Write(b)
			return err
		}
		return os.WriteFile(out, b, 0o600)
	})
	return cmd
}

// replayCommand is `stent replay`: stored executions replayed against
// the functions registered in this process (Env.Registry).
func (r *runner) replayCommand() *cobra.Command {
	var function string
	var last int
	cmd := &cobra.Command{
		Use:   "replay [execution-id...]",
		Short: "Replay stored executions against this binary's workflow code, without side effects",
		Long: `replay runs the current code of each execution's root function against its
recorded steps: every durable call returns its recorded result, nothing runs
and nothing is written. It reports per execution the first divergence (the
call number, the recorded call and the new one). Exit code 1 when any
execution diverged or could not be replayed.

Only functions registered in this process can be replayed: the stent binary
registers none of yours. The usual check is a go test in your own module
that replays exported histories (stent export) with replay.ReplayDir.`,
		Args: cobra.ArbitraryArgs,
	}
	cmd.Flags().StringVar(&function, "function", "", "replay the most recent executions of this function")
	cmd.Flags().IntVar(&last, "last", 0, "replay the N most recent executions (with --function: of that function; default 20)")
	cmd.RunE = r.run(func(ctx context.Context, ids []string) error {
		if len(ids) > 0 && (function != "" || last != 0) {
			return usageError(errors.New("give execution ids, or --function/--last, not both"))
		}
		if len(ids) == 0 && function == "" && last == 0 {
			return usageError(errors.New("replay needs execution ids, --function or --last"))
		}
		if last < 0 {
			return usageError(fmt.Errorf("--last %d: must be positive", last))
		}
		st, err := r.open(ctx, readOnly)
		if err != nil {
			return err
		}
		defer func() { _ = st.Close() }()
		if len(ids) == 0 {
			if ids, err = r.recent(ctx, st, function, last); err != nil {
				return err
			}
		}
		reg := r.env.Registry
		if reg == nil {
			reg = app.NewRegistry()
		}
		bad := 0
		for _, id := range ids {
			rep, err := r.replayOne(ctx, st, reg, id)
			if err != nil {
				return err
			}
			if !rep.OK() {
				bad++
			}
			if r.json {
				if err := writeNDJSON(r.env.Stdout, rep); err != nil {
					return err
				}
				continue
			}
			fmt.Fprintln(r.env.Stdout, rep.String())
		}
		if bad > 0 {
			return &exitError{code: ExitError, err: fmt.Errorf("%d of %d executions did not replay cleanly", bad, len(ids))}
		}
		return nil
	})
	return cmd
}

// errorOutcome marks a history that could not be replayed here.
const errorOutcome replay.Outcome = "error"

func (r *runner) replayOne(ctx context.Context, st storeurl.Store, reg *app.Registry, id string) (replay.Report, error) {
	h, err := replay.LoadHistory(ctx, st, id)
	if err != nil {
		return replay.Report{}, notFound(err, "execution", id)
	}
	if !slices.Contains(reg.Names(), h.Function) {
		return replay.Report{ExecutionID: id, Function: h.Function, Outcome: errorOutcome,
			Error: "function not registered in this binary (replay it from your own go test: replay.ReplayDir)"}, nil
	}
	rep, err := replay.Replay(ctx, reg, h)
	if err != nil && ctx.Err() == nil {
		rep.Outcome, rep.Error = errorOutcome, err.Error()
		return rep, nil
	}
	return rep, err
}

// recent lists the ids of the n most recent executions (of function when
// set).
func (r *runner) recent(ctx context.Context, st ports.Store, function string, n int) ([]string, error) {
	if n == 0 {
		n = 20
	}
	exs, err := st.ListExecutions(ctx, ports.ExecutionFilter{Function: function, Limit: n})
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(exs))
	for _, e := range exs {
		ids = append(ids, e.ID)
	}
	return ids, nil
}
