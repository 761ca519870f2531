// Command demo runs the example workflows end to end on an embedded SQLite
// file, printing each workflow's steps as they progress and the final
// results: `make demo`.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/stenthq/stent/adapters/sqlstore/sqlitestore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/examples"
)

func main() {
	db := flag.String("db", "demo.sqlite", "SQLite file to run on (recreated)")
	verbose := flag.Bool("v", false, "log the engine's own messages")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, *db, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, db string, verbose bool) error {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(db + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	st, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: db})
	if err != nil {
		return err
	}
	defer st.Close()

	reg := app.NewRegistry()
	fns := examples.Register(reg)
	logger := slog.New(slog.DiscardHandler)
	if verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	eng, err := app.New(app.Deps{Store: st, Registry: reg, Logger: logger}, app.Config{})
	if err != nil {
		return err
	}
	defer eng.Close()
	w, err := eng.NewWorker(app.WorkerOptions{MaxConcurrency: 8})
	if err != nil {
		return err
	}
	workerDone := make(chan error, 1)
	go func() { workerDone <- w.Run(ctx) }()
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.Drain(dctx)
		<-workerDone
	}()

	p := &printer{out: out, eng: eng}
	fmt.Fprintf(out, "Stent demo on the embedded SQLite file %s (worker %s)\n\n", db, w.ID())

	type job struct {
		label string
		id    string
		wait  func(context.Context) (any, error)
	}
	var jobs []job
	dispatch := func(label string, id string, err error, wait func(context.Context) (any, error)) error {
		if err != nil {
			return fmt.Errorf("dispatch %s: %w", label, err)
		}
		fmt.Fprintf(out, "▶ %-22s dispatched as %s\n", label, id)
		jobs = append(jobs, job{label, id, wait})
		return nil
	}

	okOrder := examples.Order{ID: "o-1001", Item: "lamp", Quantity: 2, Amount: 59.90, Address: "12 Rue Lamarck"}
	id, err := fns.PlaceOrder.Dispatch(ctx, eng, okOrder)
	if err := dispatch("order o-1001", id, err, func(c context.Context) (any, error) { return fns.PlaceOrder.Await(c, eng, id) }); err != nil {
		return err
	}
	badOrder := examples.Order{ID: "o-1002", Item: "sofa", Quantity: 1, Amount: 899, Address: "nowhere"}
	id2, err := fns.PlaceOrder.Dispatch(ctx, eng, badOrder)
	if err := dispatch("order o-1002 (saga)", id2, err, func(c context.Context) (any, error) { return fns.PlaceOrder.Await(c, eng, id2) }); err != nil {
		return err
	}
	batch := examples.Batch{Name: "thumbnails", Items: []string{"a.png", "b.png", "c.png", "d.png", "e.png", "f.png"}, FlakyEvery: 3}
	id3, err := fns.ProcessBatch.Dispatch(ctx, eng, batch)
	if err := dispatch("batch thumbnails", id3, err, func(c context.Context) (any, error) { return fns.ProcessBatch.Await(c, eng, id3) }); err != nil {
		return err
	}
	claim := examples.ExpenseClaim{ID: "exp-7", Owner: "ana", Amount: 42.5, CoolingOff: time.Second}
	id4, err := fns.Approval.Dispatch(ctx, eng, claim)
	if err := dispatch("approval exp-7", id4, err, func(c context.Context) (any, error) { return fns.Approval.Await(c, eng, id4) }); err != nil {
		return err
	}
	fmt.Fprintln(out)

	var wg sync.WaitGroup
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	for _, j := range jobs {
		wg.Add(1)
		go func() { defer wg.Done(); p.watch(watchCtx, j.label, j.id) }()
	}

	// The approval workflow sleeps (durably), then waits for a signal: send
	// it once the workflow says it is waiting.
	if err := waitForPhase(ctx, eng, id4, "awaiting approval"); err != nil {
		return err
	}
	p.printf("  %-22s ✉ sending signal %q {approved: true, by: bo}\n", "[approval exp-7]", examples.ApprovalSignal)
	if err := eng.SendSignal(ctx, id4, examples.ApprovalSignal, examples.Decision{Approved: true, By: "bo"}); err != nil {
		return err
	}

	results := make([]string, len(jobs))
	failed := false
	for i, j := range jobs {
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		v, err := j.wait(wctx)
		cancel()
		if err != nil {
			failed = true
			results[i] = fmt.Sprintf("✘ %-22s %v", j.label, err)
			continue
		}
		b, _ := json.Marshal(v)
		results[i] = fmt.Sprintf("✔ %-22s %s", j.label, b)
	}
	stopWatch()
	wg.Wait()
	fmt.Fprintln(out, "\nResults:")
	for _, r := range results {
		fmt.Fprintln(out, r)
	}
	stats, err := eng.Stats(ctx)
	if err == nil {
		fmt.Fprintf(out, "\nExecutions: %s; dead letters: %d", byState(stats.Executions), stats.DeadLetters)
		if stats.DeadLetters > 0 {
			fmt.Fprint(out, " (a failed step is dead-lettered even when its workflow handles the error, like the undeliverable shipment)")
		}
		fmt.Fprintln(out)
	}
	if failed {
		return errors.New("a workflow did not complete")
	}
	return nil
}

// byState prints execution counts for people, in lifecycle order:
// "3 completed, 1 failed" ("none" when there are none).
func byState(counts map[domain.ExecutionState]int64) string {
	var parts []string
	for _, st := range domain.ExecutionStates {
		if n := counts[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func waitForPhase(ctx context.Context, eng *app.Engine, id, phase string) error {
	want, _ := json.Marshal(phase)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		v, err := eng.StateOf(ctx, id)
		if err != nil {
			return err
		}
		if string(v.CustomState["phase"]) == string(want) {
			return nil
		}
		if v.Execution.State.Terminal() {
			return fmt.Errorf("execution %s ended (%s) before reaching %q", id, v.Execution.State, phase)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// printer prints each step of an execution once it starts and once it
// ends, from the execution's timeline in the store.
type printer struct {
	mu  sync.Mutex
	out io.Writer
	eng *app.Engine
}

func (p *printer) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, format, args...)
}

func (p *printer) watch(ctx context.Context, label, id string) {
	seen := map[string]string{}
	tag := "[" + label + "]"
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		v, err := p.eng.StateOf(context.WithoutCancel(ctx), id)
		if err == nil {
			for _, e := range v.Progress {
				if e.Kind == domain.KindOrchestrator {
					continue
				}
				key := fmt.Sprintf("%s/%d", e.State, e.Attempt)
				if seen[e.TaskID] == key {
					continue
				}
				seen[e.TaskID] = key
				p.printf("  %-22s %s\n", tag, describe(e))
			}
			if v.Execution.State.Terminal() {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func describe(e domain.ProgressEntry) string {
	name := e.Step
	switch e.Kind {
	case domain.KindSleep:
		name = "durable sleep"
	case domain.KindSignal:
		name = "wait for signal " + strings.TrimPrefix(e.Step, "signal:")
	}
	s := fmt.Sprintf("step %d %-28s %s", e.Position, name, e.State)
	if e.Attempt > 1 {
		s += fmt.Sprintf(" (attempt %d)", e.Attempt)
	}
	if e.State.Terminal() && e.StartedAt != nil && e.FinishedAt != nil {
		s += fmt.Sprintf(" in %s", e.FinishedAt.Sub(*e.StartedAt).Round(time.Millisecond))
	}
	if e.Error != nil && e.State != domain.TaskCompleted {
		s += ": " + e.Error.Message
	}
	return s
}
