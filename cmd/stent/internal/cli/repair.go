package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stenthq/stent/adapters/storeurl"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
)

const repairStepsHelp = `Step N is the N-th top-level call of the workflow body: the "#" column of
stent show. The steps before N keep their results and never run again;
step N and everything after it run again with the code workers run now.
N runs from 1 to the number of recorded steps + 1 (which keeps every
step and runs only the rest of the body). Counters and custom state are
not rolled back: the steps that run again apply their changes again.`

// repairError maps the errors of a fork or reset: a bad step is a usage
// error (exit 2), an unknown execution "not found", a state that cannot
// be reset exit 1; the message is the rule's own, without the layers'
// prefixes (which name the store).
func repairError(err error, op, id string) error {
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return fmt.Errorf("execution %q not found", id)
	case errors.Is(err, domain.ErrInvalidArgument):
		return usageError(fmt.Errorf("cannot %s: %s", op, ruleMessage(err)))
	case errors.Is(err, domain.ErrInvalidTransition):
		return fmt.Errorf("cannot %s: %s", op, ruleMessage(err))
	}
	return err
}

// ruleMessage returns the message of the innermost error of err's chain
// before its sentinel: the rule that refused, without "stent: " and the
// store's prefix.
func ruleMessage(err error) string {
	msg := err.Error()
	for e := err; e != nil; e = errors.Unwrap(e) {
		var s *domain.Sentinel
		if errors.As(e, &s) && e == error(s) {
			break
		}
		msg = e.Error()
	}
	return strings.TrimPrefix(msg, "stent: ")
}

// forkCommand copies an execution's first steps into a new execution.
func (r *runner) forkCommand() *cobra.Command {
	var (
		fromStep int
		input    string
	)
	cmd := &cobra.Command{
		Use:   "fork <execution-id> --from-step N [--input JSON]",
		Short: "Run an execution again as a new one from step N, keeping the results of the steps before it",
		Long: `Create a new execution of the same workflow that copies the steps of
<execution-id> before step N with their results and runs from step N on,
with the same input or the one --input gives ("-" reads stdin). The
original is not changed; the new one records it (forked_from). Prints the
new execution's id.

` + repairStepsHelp,
		Args: cobra.ExactArgs(1),
	}
	cmd.Flags().IntVar(&fromStep, "from-step", 0, "the first step to run again (from 1; required)")
	cmd.Flags().StringVar(&input, "input", "", "a new input as JSON (default: the original's)")
	_ = cmd.MarkFlagRequired("from-step")
	cmd.RunE = r.run(func(ctx context.Context, args []string) error {
		id := args[0]
		if fromStep < 1 {
			return usagef("--from-step %d: steps are numbered from 1", fromStep)
		}
		var opts []app.ForkOption
		if cmd.Flags().Changed("input") {
			data, err := r.readArg(input)
			if err != nil {
				return err
			}
			raw, err := parseJSON("input", data)
			if err != nil {
				return usageError(bareWordHint(data, err))
			}
			opts = append(opts, app.WithForkInput(raw))
		}
		return r.withEngine(ctx, readWrite, func(eng *app.Engine, _ storeurl.Store) error {
			newID, err := eng.Fork(ctx, id, app.FromStep(fromStep), opts...)
			if err != nil {
				return repairError(err, "fork "+id, id)
			}
			if r.json {
				return writeJSON(r.env.Stdout, map[string]any{"execution_id": newID, "forked_from": id, "from_step": fromStep})
			}
			fmt.Fprintln(r.env.Stdout, newID)
			return nil
		})
	})
	return cmd
}

// resetCommand re-runs a failed, timed-out or cancelled execution from a
// step under the same id.
func (r *runner) resetCommand() *cobra.Command {
	var fromStep int
	cmd := &cobra.Command{
		Use:   "reset <execution-id> --from-step N",
		Short: "Run a failed, timed-out or cancelled execution again from step N, under the same id",
		Long: `Run a failed, timed-out or cancelled execution again from step N: its steps
from N on are deleted (with their dead letters; signals they received go
back to the mailbox) and run again, and the execution is pending again
with its time limit counted from now. A completed execution cannot be
reset: fork it.

` + repairStepsHelp,
		Args: cobra.ExactArgs(1),
	}
	cmd.Flags().IntVar(&fromStep, "from-step", 0, "the first step to run again (from 1; required)")
	_ = cmd.MarkFlagRequired("from-step")
	cmd.RunE = r.run(func(ctx context.Context, args []string) error {
		id := args[0]
		if fromStep < 1 {
			return usagef("--from-step %d: steps are numbered from 1", fromStep)
		}
		return r.withEngine(ctx, readWrite, func(eng *app.Engine, st storeurl.Store) error {
			if err := eng.Reset(ctx, id, app.FromStep(fromStep)); err != nil {
				return repairError(err, "reset "+id, id)
			}
			ex, err := st.GetExecution(ctx, id)
			if err != nil {
				return repairError(err, "reset "+id, id)
			}
			if r.json {
				return writeJSON(r.env.Stdout, map[string]any{"execution_id": id, "from_step": fromStep, "state": ex.State})
			}
			fmt.Fprintf(r.env.Stdout, "reset %s from step %d: %s\n", id, fromStep, ex.State)
			return nil
		})
	})
	return cmd
}
