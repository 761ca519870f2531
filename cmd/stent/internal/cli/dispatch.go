package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stenthq/stent/adapters/storeurl"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
)

// parseJSON checks that data is one JSON value and returns it compacted. A
// syntax error names its line, column and byte offset.
func parseJSON(what string, data []byte) (json.RawMessage, error) {
	var raw json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := position(data, se.Offset)
			return nil, fmt.Errorf("invalid JSON %s at line %d, column %d (offset %d): %s", what, line, col, se.Offset, se.Error())
		}
		return nil, fmt.Errorf("invalid JSON %s: %w", what, err)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, fmt.Errorf("invalid JSON %s: %w", what, err)
	}
	return b.Bytes(), nil
}

// position turns a json.SyntaxError offset (bytes read when the error was
// found) into a 1-based line and column of the offending byte.
func position(data []byte, offset int64) (line, col int) {
	pos := int(min(max(offset-1, 0), int64(len(data))))
	line = 1 + bytes.Count(data[:pos], []byte("\n"))
	col = pos - bytes.LastIndexByte(data[:pos], '\n')
	return line, col
}

// readArg returns an argument's bytes: "-" reads stdin.
func (r *runner) readArg(arg string) ([]byte, error) {
	if arg != "-" {
		return []byte(arg), nil
	}
	b, err := io.ReadAll(r.env.Stdin)
	if err != nil {
		return nil, fmt.Errorf("read stdin: %w", err)
	}
	return b, nil
}

// inputFileFlag declares --input-file, the flag of the commands that take
// a JSON input (dispatch, schedules create).
func inputFileFlag(fl *pflag.FlagSet, p *string) {
	fl.StringVar(p, "input-file", "", `read the JSON input from this file ("-": stdin)`)
}

// readInput returns a command's JSON input, compacted: the argument at
// args[at] when there is one ("-" reads stdin), else the --input-file
// (a file, or "-" for stdin), else null. Both is a usage error.
func (r *runner) readInput(args []string, at int, inputFile string) (json.RawMessage, error) {
	var data []byte
	var err error
	switch {
	case len(args) > at && inputFile != "":
		return nil, usagef("give the input either as an argument or with --input-file, not both")
	case len(args) > at:
		data, err = r.readArg(args[at])
	case inputFile == "-":
		data, err = r.readArg("-")
	case inputFile != "":
		if data, err = os.ReadFile(inputFile); err != nil {
			err = fmt.Errorf("read input file: %w", err)
		}
	default:
		data = []byte("null")
	}
	if err != nil {
		return nil, err
	}
	return parseJSON("input", data)
}

func (r *runner) dispatchCommand() *cobra.Command {
	var (
		inputFile, queue, key string
		singleton, debounce   string
		priority              int
		tags                  []string
		delay, maxDuration    durationFlag
		waitTimeout           durationFlag
		runAt                 timeFlag
		wait                  bool
	)
	cmd := &cobra.Command{
		Use:   "dispatch <function> [input-json]",
		Short: "Start an execution of a durable function (input is JSON, default null)",
		Long: `Start an execution of a durable function by name. The name must be in the
function catalogue that workers publish. The input is a JSON value (default
null), given as an argument, with --input-file, or "-" for stdin. It prints
the execution id; with --wait it waits for the result and prints it too.

--singleton KEY allows one live execution per key: while one runs or
waits, the dispatch prints that execution's id and writes nothing.
--debounce KEY=DURATION starts the run DURATION after the last dispatch
with KEY, with the last input: while the execution has not started, a
dispatch replaces its input and pushes its start back. A dispatch that
joined or debounced says so on stderr (--json: "outcome").`,
		Args: cobra.RangeArgs(1, 2),
	}
	fl := cmd.Flags()
	inputFileFlag(fl, &inputFile)
	fl.StringVar(&queue, "queue", "", "queue (default: the function's)")
	fl.IntVar(&priority, "priority", 0, "priority, higher first (default: the function's)")
	fl.StringSliceVar(&tags, "tags", nil, "worker tags (default: the function's)")
	fl.Var(&delay, "delay", "start after this long, e.g. 10m")
	fl.Var(&runAt, "run-at", "start at this time (RFC 3339)")
	fl.Var(&maxDuration, "max-duration", "time the execution out this long after it starts")
	fl.StringVar(&key, "idempotency-key", "", "a reused key returns the first execution's id")
	fl.StringVar(&singleton, "singleton", "", "at most one live execution per key: join the live one if any")
	fl.StringVar(&debounce, "debounce", "", "KEY=DURATION: start DURATION after the last dispatch with KEY, with its input")
	fl.BoolVar(&wait, "wait", false, "wait for the result and print it")
	fl.Var(&waitTimeout, "wait-timeout", "with --wait, give up after this long (the execution keeps running)")
	cmd.RunE = r.run(func(ctx context.Context, args []string) error {
		name := args[0]
		input, err := r.readInput(args, 1, inputFile)
		if err != nil {
			return err
		}
		if delay.set && runAt.set {
			return usagef("--delay and --run-at both say when to start; give one")
		}
		if waitTimeout.set && !wait {
			return usagef("--wait-timeout needs --wait")
		}
		var opts []app.DispatchOption
		if fl.Changed("queue") {
			opts = append(opts, app.WithQueue(queue))
		}
		if fl.Changed("priority") {
			opts = append(opts, app.WithPriority(priority))
		}
		if fl.Changed("tags") {
			opts = append(opts, app.WithTags(tags...))
		}
		if delay.set {
			opts = append(opts, app.WithDelay(delay.d))
		}
		if runAt.set {
			opts = append(opts, app.WithRunAt(runAt.t))
		}
		if maxDuration.set {
			opts = append(opts, app.WithMaxDuration(maxDuration.d))
		}
		if key != "" {
			opts = append(opts, app.WithIdempotencyKey(key))
		}
		if fl.Changed("singleton") {
			if err := domain.ValidateName("--singleton key", singleton); err != nil {
				return usageError(err)
			}
			opts = append(opts, app.WithSingleton(singleton))
		}
		if fl.Changed("debounce") {
			dkey, window, err := parseDebounce(debounce)
			if err != nil {
				return usageError(err)
			}
			if delay.set || runAt.set || fl.Changed("singleton") {
				return usagef("--debounce sets the start time and the key; it cannot be combined with --delay, --run-at or --singleton")
			}
			opts = append(opts, app.WithDebounce(dkey, window))
		}
		var info app.DispatchInfo
		opts = append(opts, app.ReportDispatch(&info))
		return r.withEngine(ctx, readWrite, func(eng *app.Engine, _ storeurl.Store) error {
			id, err := eng.DispatchByName(ctx, name, input, opts...)
			if err != nil {
				return err
			}
			switch info.Outcome {
			case app.DispatchJoined:
				fmt.Fprintf(r.env.Stderr, "joined the live execution of singleton key %q (nothing new was written)\n", singleton)
			case app.DispatchDebounced:
				fmt.Fprintf(r.env.Stderr, "debounced: execution %s now has this input and starts later\n", id)
			}
			if !wait {
				if r.json {
					return writeJSON(r.env.Stdout, info)
				}
				fmt.Fprintln(r.env.Stdout, id)
				return nil
			}
			if !r.json {
				fmt.Fprintln(r.env.Stdout, id)
			}
			var wopts []app.WaitOption
			if waitTimeout.d > 0 {
				wopts = append(wopts, app.WithWaitTimeout(waitTimeout.d))
			}
			res, err := eng.WaitFor(ctx, id, wopts...)
			if err != nil {
				if errors.Is(err, domain.ErrExpired) && ctx.Err() == nil {
					return fmt.Errorf("execution %s did not finish within %s (it keeps running)", id, waitTimeout.String())
				}
				return err
			}
			if r.json {
				if err := writeJSON(r.env.Stdout, res); err != nil {
					return err
				}
			} else {
				ex := domain.Execution{ID: id, State: res.State, Result: res.Value, Error: res.Error}
				fmt.Fprintln(r.env.Stdout, outcomeLine(ex, r.colour()))
			}
			if !res.OK() {
				return fmt.Errorf("execution %s ended %s", id, res.State)
			}
			return nil
		})
	})
	return cmd
}

func (r *runner) signalCommand() *cobra.Command {
	var asString, legacyJSON bool
	cmd := &cobra.Command{
		Use:   "signal <execution-id> <name> [payload-json]",
		Short: "Send a signal to an execution (payload is JSON, like dispatch's input; - reads stdin)",
		Long: `Send a signal to an execution. The payload is a JSON value (default null),
as for dispatch: '{"approved": true}', 42, '"a string"'; "-" reads it from
stdin. A bare word such as yes is not JSON and is refused; --string sends
the argument (or stdin, less one trailing newline) as a JSON string.`,
		Args: cobra.RangeArgs(2, 3),
	}
	cmd.Flags().BoolVarP(&asString, "string", "s", false, "send the payload as a JSON string, not parsed as JSON")
	// -j/--json-payload was needed when the payload was a string by
	// default; JSON is now the default, so it is accepted and does nothing.
	cmd.Flags().BoolVarP(&legacyJSON, "json-payload", "j", false, "the payload is JSON (the default; kept for old scripts)")
	_ = cmd.Flags().MarkHidden("json-payload")
	cmd.RunE = r.run(func(ctx context.Context, args []string) error {
		id, name := args[0], args[1]
		if asString && legacyJSON {
			return usagef("--string and --json-payload contradict each other; give one")
		}
		payload := json.RawMessage("null")
		if len(args) == 3 {
			data, err := r.readArg(args[2])
			if err != nil {
				return err
			}
			if asString {
				if payload, err = json.Marshal(stringPayload(args[2], data)); err != nil {
					return fmt.Errorf("encode payload: %w", err)
				}
			} else if payload, err = parseJSON("payload", data); err != nil {
				return bareWordHint(data, err)
			}
		}
		if err := domain.ValidateName("signal name", name); err != nil {
			return usageError(err)
		}
		return r.withEngine(ctx, readWrite, func(eng *app.Engine, st storeurl.Store) error {
			if err := eng.SendSignalJSON(ctx, id, name, payload); err != nil {
				switch {
				case errors.Is(err, domain.ErrNotFound):
					return fmt.Errorf("execution %q not found", id)
				case errors.Is(err, domain.ErrExecutionFinished):
					state := "finished"
					if ex, gerr := st.GetExecution(ctx, id); gerr == nil {
						state = string(ex.State)
					}
					return fmt.Errorf("signal %q: execution %s is %s and takes no more signals", name, id, state)
				}
				return err
			}
			if r.json {
				return writeJSON(r.env.Stdout, struct {
					ExecutionID string          `json:"execution_id"`
					Name        string          `json:"name"`
					Payload     json.RawMessage `json:"payload"`
				}{id, name, payload})
			}
			fmt.Fprintf(r.env.Stdout, "sent signal %q to execution %s\n", name, id)
			return nil
		})
	})
	cmd.AddCommand(r.signalListCommand(), r.signalDiscardCommand())
	return cmd
}

// signalListCommand lists an execution's signal messages with the
// sequence numbers signal discard takes.
func (r *runner) signalListCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list <execution-id>",
		Short: "List an execution's signal messages, pending and received",
		Args:  cobra.ExactArgs(1),
	}
	cmd.RunE = r.run(func(ctx context.Context, args []string) error {
		id := args[0]
		return r.withEngine(ctx, readOnly, func(_ *app.Engine, st storeurl.Store) error {
			if _, err := st.GetExecution(ctx, id); err != nil {
				return notFound(err, "execution", id)
			}
			msgs, err := st.ListSignals(ctx, id)
			if err != nil {
				return fmt.Errorf("signals of execution %q: %w", id, err)
			}
			if r.json {
				if msgs == nil {
					msgs = []domain.Signal{}
				}
				return writeJSON(r.env.Stdout, msgs)
			}
			if len(msgs) == 0 {
				fmt.Fprintf(r.env.Stdout, "no signals for execution %s\n", id)
				return nil
			}
			t := newTable("NAME", "SEQ", "SENT (UTC)", "RECEIVED BY", "PAYLOAD")
			for _, m := range msgs {
				t.add(plain(m.Name), plain(strconv.FormatInt(m.Seq, 10)), plain(fmtTime(&m.CreatedAt)),
					plain(orDash(m.ConsumedBy)), plain(truncate(compactJSON(m.Payload), 60)))
			}
			t.write(r.env.Stdout, "", r.colour())
			return nil
		})
	})
	return cmd
}

// signalDiscardCommand drops a pending signal message (one no wait has
// received yet), named by execution, signal name and sequence number.
func (r *runner) signalDiscardCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "discard <execution-id> <name> <seq>",
		Short: "Delete a pending signal message before a wait receives it",
		Long: `Delete a pending signal message (one no wait has received yet), so that a
signal with a bad payload cannot fail the workflow. A message is named by
its execution, its signal name and its sequence number (1 for the first
message of that name, counting in send order; signal list shows them). A message already received
by a wait cannot be discarded.`,
		Args: cobra.ExactArgs(3),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	cmd.RunE = r.run(func(ctx context.Context, args []string) error {
		id, name := args[0], args[1]
		seq, err := strconv.ParseInt(args[2], 10, 64)
		if err != nil || seq < 1 {
			return usagef("sequence number %q: want a whole number from 1", args[2])
		}
		if err := domain.ValidateName("signal name", name); err != nil {
			return usageError(err)
		}
		if err := r.requireConfirmable(force, "discard a signal"); err != nil {
			return err
		}
		return r.withEngine(ctx, readWrite, func(eng *app.Engine, _ storeurl.Store) error {
			if err := r.confirm(ctx, force, fmt.Sprintf("Discard signal %q #%d of execution %s?", name, seq, id)); err != nil {
				return err
			}
			msg, err := eng.DiscardSignal(ctx, id, name, seq)
			switch {
			case errors.Is(err, domain.ErrNotFound):
				return fmt.Errorf("signal %q #%d of execution %q not found", name, seq, id)
			case errors.Is(err, domain.ErrConflict):
				return fmt.Errorf("signal %q #%d of execution %s was already received by a wait and cannot be discarded", name, seq, id)
			case err != nil:
				return err
			}
			if r.json {
				return writeJSON(r.env.Stdout, msg)
			}
			fmt.Fprintf(r.env.Stdout, "discarded signal %q #%d of execution %s (payload %s)\n", name, seq, id, msg.Payload)
			return nil
		})
	})
	return cmd
}

// parseDebounce splits a --debounce value KEY=DURATION.
func parseDebounce(v string) (string, time.Duration, error) {
	i := strings.LastIndexByte(v, '=')
	if i <= 0 || i == len(v)-1 {
		return "", 0, fmt.Errorf("--debounce %q: want KEY=DURATION, e.g. user-7=30s", v)
	}
	key, ds := v[:i], v[i+1:]
	if err := domain.ValidateName("--debounce key", key); err != nil {
		return "", 0, err
	}
	d, err := domain.ParseDuration(ds)
	if err != nil {
		return "", 0, fmt.Errorf("--debounce %q: %w", v, err)
	}
	if d <= 0 {
		return "", 0, fmt.Errorf("--debounce %q: the window %s must be positive", v, ds)
	}
	return key, d, nil
}

// bareWordHint adds, to the error of a payload that is not JSON but looks
// like a word meant as a string, how to send it as one.
func bareWordHint(data []byte, err error) error {
	word := strings.TrimSpace(string(data))
	if word == "" || strings.ContainsAny(word, "{}[]\"\n") || !utf8.ValidString(word) || len(word) > 80 {
		return err
	}
	quoted, _ := json.Marshal(word)
	return fmt.Errorf("payload %q is not JSON; to send it as a string, quote it ('%s') or add --string", word, quoted)
}

// stringPayload is a --string signal payload; read from stdin, it loses one
// trailing newline, as in shell command substitution.
func stringPayload(arg string, data []byte) string {
	s := string(data)
	if arg == "-" {
		s = strings.TrimSuffix(strings.TrimSuffix(s, "\n"), "\r")
	}
	return s
}
