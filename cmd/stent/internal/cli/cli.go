// Package cli is the `stent` command line: every command, its flags, its
// output and its exit code. It runs in-process with an injected Env
// (arguments, stdin/stdout/stderr, environment, terminal flags, clock and
// store opener), so tests drive it exactly as a user would.
//
// Every command that reads or writes the database opens the store once,
// runs, and closes it on every path, errors and interrupts included
// (SPEC §10, P1.2). Read-only commands never create or migrate anything;
// only `migrate` does.
package cli

import (
	"context"
	"errors"
	"fmt"
	"github.com/stenthq/stent/internal/buildinfo"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/stenthq/stent/adapters/clock"
	"github.com/stenthq/stent/adapters/storeurl"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Exit codes (SPEC §10).
const (
	ExitOK          = 0   // success, including a no-op cancel
	ExitError       = 1   // not found, invalid JSON, store unavailable, ...
	ExitUsage       = 2   // usage error, bad duration or DSN, missing -f
	ExitInterrupted = 130 // SIGINT
)

// StoreOpener opens a store by DSN; storeurl.Open in production, a spy
// in tests.
type StoreOpener func(ctx context.Context, dsn string, o storeurl.Options) (storeurl.Store, error)

// Env is everything a run of the CLI touches besides the database.
type Env struct {
	// Args are the arguments without the program name.
	Args   []string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads an environment variable (STENT_DB, NO_COLOR).
	Getenv func(string) string
	// StdinIsTTY and StdoutIsTTY say whether those are terminals: prompts
	// need a terminal on stdin, colour and in-place redraws one on stdout.
	StdinIsTTY  bool
	StdoutIsTTY bool
	// Clock supplies "now" (UTC); nil is the system clock.
	Clock ports.Clock
	// OpenStore opens the database; nil is storeurl.Open.
	OpenStore StoreOpener
	// Version is printed by `stent version`.
	Version string
	// Registry holds the functions `stent replay` can replay; nil: none
	// (the stent binary registers no user code).
	Registry *app.Registry
}

// System returns the Env of the real process; version is the version
// stamped at build time (`-ldflags "-X main.version=..."`, as `make
// build-bin` does), "" when none was.
func System(version string) Env {
	return Env{
		Args:        os.Args[1:],
		Stdin:       os.Stdin,
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
		Getenv:      os.Getenv,
		StdinIsTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		StdoutIsTTY: term.IsTerminal(int(os.Stdout.Fd())),
		Clock:       clock.System{},
		OpenStore:   storeurl.Open,
		Version:     Version(version, debug.ReadBuildInfo),
	}
}

// Version is what `stent version` prints (see buildinfo.Version).
func Version(stamped string, buildInfo func() (*debug.BuildInfo, bool)) string {
	return buildinfo.Version(stamped, buildInfo)
}

func (e Env) withDefaults() Env {
	if e.Stdin == nil {
		e.Stdin = strings.NewReader("")
	}
	if e.Stdout == nil {
		e.Stdout = io.Discard
	}
	if e.Stderr == nil {
		e.Stderr = io.Discard
	}
	if e.Getenv == nil {
		e.Getenv = func(string) string { return "" }
	}
	if e.Clock == nil {
		e.Clock = clock.System{}
	}
	if e.OpenStore == nil {
		e.OpenStore = storeurl.Open
	}
	if e.Version == "" {
		e.Version = Version("", debug.ReadBuildInfo)
	}
	return e
}

// Main runs the command line in env and returns the exit code. Cancelling
// ctx is an interrupt: the running command stops, closes the store and Main
// returns 130 (`watch` returns 0).
func Main(ctx context.Context, env Env) int {
	r := &runner{env: env.withDefaults()}
	root := r.rootCommand()
	root.SetArgs(r.env.Args)
	root.SetIn(r.env.Stdin)
	root.SetOut(r.env.Stdout)
	root.SetErr(r.env.Stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	return r.report(ctx, cmd, err)
}

// exitError is an error with its exit code. Errors a command returns are
// wrapped in one by runner.run; anything else reaching Main came from
// cobra's parsing and is a usage error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError is an exit-2 error.
func usageError(err error) error { return &exitError{code: ExitUsage, err: err} }

// usagef is an exit-2 error with a formatted message.
func usagef(format string, args ...any) error { return usageError(fmt.Errorf(format, args...)) }

// report prints err once on stderr and returns its exit code.
func (r *runner) report(ctx context.Context, cmd *cobra.Command, err error) int {
	code, fromParser := ExitUsage, true
	var ee *exitError
	if errors.As(err, &ee) {
		code, fromParser = ee.code, false
	}
	if ctx.Err() != nil && code != ExitOK {
		fmt.Fprintln(r.env.Stderr, "stent: interrupted")
		return ExitInterrupted
	}
	fmt.Fprintln(r.env.Stderr, "stent: "+r.message(err))
	if fromParser && cmd != nil {
		fmt.Fprintf(r.env.Stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

// message renders err as one line: without the "stent: " prefixes the
// layers add, and with any password of the DSN masked.
func (r *runner) message(err error) string {
	msg := err.Error()
	for {
		trimmed := strings.TrimPrefix(msg, "stent: ")
		if trimmed == msg {
			break
		}
		msg = trimmed
	}
	msg = strings.ReplaceAll(msg, ": stent: ", ": ")
	msg = strings.Join(strings.Fields(strings.ReplaceAll(msg, "\n", " ")), " ")
	return storeurl.Scrub(msg, r.dsn())
}

// runner holds one run's Env and global flags.
type runner struct {
	env     Env
	dbFlag  string
	json    bool
	noColor bool
	timeout durationFlag
}

// run adapts a command body to cobra: it applies --timeout, and gives every
// error the body returns an exit code (a bad duration is a usage error,
// anything else 1).
func (r *runner) run(body func(ctx context.Context, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		parent := ctx
		if r.timeout.d > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, r.timeout.d)
			defer cancel()
		}
		err := body(ctx, args)
		if err == nil {
			return nil
		}
		var ee *exitError
		switch {
		case errors.As(err, &ee):
			return err
		case parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
			return &exitError{code: ExitError, err: fmt.Errorf("%s: timed out after %s (--timeout)", cmd.CommandPath(), r.timeout.String())}
		case errors.Is(err, domain.ErrInvalidDuration):
			return usageError(err)
		}
		return &exitError{code: ExitError, err: err}
	}
}

// rootCommand builds the command tree.
func (r *runner) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "stent",
		Short: "Inspect and operate a Stent durable-execution database",
		Long: `stent inspects and operates a Stent database: executions, tasks, the worker
registry, statistics, dead letters, dispatch, signals, a live dashboard,
cleanup and migrations.

The database comes from --db, else $STENT_DB, else stent.sqlite:
postgres:// or postgresql:// selects PostgreSQL (a search_path parameter
selects the schema); sqlite://PATH or a bare path selects SQLite.

Exit codes: 0 ok, 1 error, 2 usage, 130 interrupted.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ArbitraryArgs,
		RunE:          groupRunE,
		// cobra's `completion` command: bash, zsh, fish and PowerShell.
	}
	pf := root.PersistentFlags()
	pf.StringVar(&r.dbFlag, "db", "", "database DSN (default $STENT_DB, else stent.sqlite)")
	pf.BoolVar(&r.json, "json", false, "print machine-readable JSON (NDJSON for watch)")
	pf.BoolVar(&r.noColor, "no-color", false, "never colour the output (also NO_COLOR)")
	pf.Var(&r.timeout, "timeout", "give up after this long, e.g. 30s or 2m (default: no limit)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return err })
	root.AddCommand(
		r.listCommand(), r.showCommand(), r.tasksCommand(), r.workersCommand(), r.statsCommand(), r.dlqCommand(),
		r.cancelCommand(), r.signalCommand(), r.dispatchCommand(), r.watchCommand(), r.queuesCommand(), r.forkCommand(), r.resetCommand(),
		r.cleanupCommand(), r.migrateCommand(), r.versionCommand(), r.replayCommand(), r.exportCommand(),
		r.schedulesCommand(),
	)
	return root
}

// groupRunE runs for the root and for command groups: without arguments it
// is a usage error showing the subcommands; with one it is an unknown
// command.
func groupRunE(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	cmd.SetOut(cmd.ErrOrStderr())
	_ = cmd.Usage()
	return fmt.Errorf("%s needs a command", cmd.CommandPath())
}

// dsn returns the DSN in effect: --db, else STENT_DB, else stent.sqlite.
func (r *runner) dsn() string {
	if r.dbFlag != "" {
		return r.dbFlag
	}
	if v := r.env.Getenv("STENT_DB"); v != "" {
		return v
	}
	return storeurl.Default
}

// colour reports whether output may be coloured: stdout is a terminal and
// neither --no-color nor NO_COLOR says otherwise.
func (r *runner) colour() bool {
	return r.env.StdoutIsTTY && !r.noColor && r.env.Getenv("NO_COLOR") == ""
}

func (r *runner) now() time.Time { return domain.NormalizeTime(r.env.Clock.Now()) }

// durationFlag is a flag in Stent's duration grammar (SPEC §9); a bad value
// is a usage error quoting the input.
type durationFlag struct {
	d   time.Duration
	set bool
}

var _ pflag.Value = (*durationFlag)(nil)

func (f *durationFlag) String() string {
	if !f.set && f.d == 0 {
		return ""
	}
	return domain.FormatDuration(f.d)
}

func (f *durationFlag) Set(s string) error {
	d, err := domain.ParseDuration(s)
	if err != nil {
		return err
	}
	f.d, f.set = d, true
	return nil
}

func (f *durationFlag) Type() string { return "duration" }

// timeFlag is an RFC 3339 time flag.
type timeFlag struct {
	t   time.Time
	set bool
}

func (f *timeFlag) String() string {
	if !f.set {
		return ""
	}
	return f.t.Format(time.RFC3339Nano)
}

func (f *timeFlag) Set(s string) error {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("invalid time %q: want RFC 3339, e.g. 2030-01-02T15:04:05Z", s)
	}
	f.t, f.set = t.UTC(), true
	return nil
}

func (f *timeFlag) Type() string { return "time" }

// agoFlag is a time flag that also takes a duration, meaning that long
// before now (resolved with at).
type agoFlag struct {
	raw string
	t   time.Time
	ago time.Duration
}

func (f *agoFlag) String() string { return f.raw }

func (f *agoFlag) Set(s string) error {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		f.raw, f.t, f.ago = s, t.UTC(), 0
		return nil
	}
	d, err := domain.ParseDuration(s)
	if err != nil || d <= 0 {
		return fmt.Errorf("invalid time %q: want RFC 3339 (2030-01-02T15:04:05Z) or a duration ago (2h, 1d)", s)
	}
	f.raw, f.t, f.ago = s, time.Time{}, d
	return nil
}

func (f *agoFlag) Type() string { return "time|ago" }

// at is the flag's time (zero when unset), a duration counted back from now.
func (f *agoFlag) at(now time.Time) time.Time {
	if f.ago > 0 {
		return now.Add(-f.ago)
	}
	return f.t
}
