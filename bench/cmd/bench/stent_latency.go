package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/stenthq/stent/adapters/pgnotify"
	"github.com/stenthq/stent/adapters/redisnotify"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// unavailable says why a case cannot run in this build ("" when it can).
// Every variant has its adapter now; the hook stays for the next one.
func unavailable(caseSpec) string { return "" }

// newStentNotifier returns the notifier of a W4 variant (nil means the
// engine's default in-process LocalNotifier) and how to close it.
func newStentNotifier(ctx context.Context, spec runSpec) (ports.Notifier, string, closer, error) {
	nop := func() error { return nil }
	switch spec.Case.Variant {
	case varLocal, "":
		return nil, "in-process LocalNotifier", nop, nil
	case varPoll:
		return pollOnly{}, "no notifier: polling only (default PollInterval 100ms, backoff to 5s)", nop, nil
	case varRedis:
		opts, err := redis.ParseURL(spec.RedisURL)
		if err != nil {
			return nil, "", nil, fmt.Errorf("redis URL %q: %w", spec.RedisURL, err)
		}
		client := redis.NewClient(opts)
		n, err := redisnotify.New(client, redisnotify.Config{Prefix: spec.NotifierPrefix, Required: true})
		if err != nil {
			_ = client.Close()
			return nil, "", nil, err
		}
		return n, "redisnotify (" + spec.RedisURL + ")", func() error { _ = n.Close(); return client.Close() }, nil
	case varPGNotify:
		// Its own small pool: Publish runs pg_notify through it, and the
		// listening connection copies its settings.
		pcfg, err := pgxpool.ParseConfig(spec.PGDSN)
		if err != nil {
			return nil, "", nil, err
		}
		pcfg.MaxConns = 4
		pool, err := pgxpool.NewWithConfig(ctx, pcfg)
		if err != nil {
			return nil, "", nil, err
		}
		n, err := pgnotify.New(ctx, pool, pgnotify.Config{Prefix: spec.NotifierPrefix, Required: true})
		if err != nil {
			pool.Close()
			return nil, "", nil, err
		}
		return n, "pgnotify (LISTEN/NOTIFY, its own pool of 4)", func() error { err := n.Close(); pool.Close(); return err }, nil
	}
	return nil, "", nil, fmt.Errorf("notifier variant %q: allowed: %s, %s, %s, %s", spec.Case.Variant, varLocal, varPoll, varRedis, varPGNotify)
}

// pollOnly is a notifier that carries nothing: every wait and every idle
// worker falls back to polling.
type pollOnly struct{}

func (pollOnly) Publish(context.Context, domain.Event) error { return nil }
func (pollOnly) Subscribe(context.Context, ...domain.Topic) (ports.Subscription, error) {
	return &silentSub{ch: make(chan domain.Event)}, nil
}
func (pollOnly) Close() error { return nil }

type silentSub struct {
	ch   chan domain.Event
	once sync.Once
}

func (s *silentSub) Events() <-chan domain.Event { return s.ch }
func (s *silentSub) Close() error {
	s.once.Do(func() { close(s.ch) })
	return nil
}

// stentLatency is W4: a steady rate of dispatches of a no-op function;
// each client goroutine waits for its result (eng.WaitFor). With Procs 2
// the worker runs in its own process and only the notifier (or polling)
// connects the two.
func stentLatency(ctx context.Context, spec runSpec) (runResult, error) {
	sz := spec.Sizes
	notifier, notifierDesc, closeNotifier, err := newStentNotifier(ctx, spec)
	if err != nil {
		return runResult{}, err
	}
	defer closeNotifier()
	s, err := newStentEngine(ctx, spec, nil, notifier)
	if err != nil {
		return runResult{}, err
	}
	defer s.shutdown()
	procs := "client and worker in one process"
	var worker *workerProcess
	if spec.Case.Procs > 1 {
		procs = "worker in a separate process"
		if worker, err = startWorkerProcess(ctx, spec); err != nil {
			return runResult{}, err
		}
		defer worker.stop()
	} else if err := s.startWorker(ctx, sz.Concurrency); err != nil {
		return runResult{}, err
	}
	samples := offeredLoad(ctx, sz.W4Rate, sz.W4Duration, func(ctx context.Context, i int) (time.Time, error) {
		id, err := s.fns.stamp.Dispatch(ctx, s.eng, i)
		if err != nil {
			return time.Time{}, err
		}
		startedNs, err := s.fns.stamp.Await(ctx, s.eng, id, app.WithWaitTimeout(60*time.Second))
		if err != nil {
			return time.Time{}, err
		}
		return time.Unix(0, startedNs), nil
	})
	metrics, err := latencyMetrics(samples, true)
	if err != nil {
		return runResult{}, err
	}
	res := runResult{Metrics: metrics, N: len(samples), Concurrency: sz.Concurrency,
		Settings: fmt.Sprintf("%s; %s; %s; %d/s for %s", s.settings, notifierDesc, procs, sz.W4Rate, sz.W4Duration)}
	if worker != nil {
		res.SubprocessRSSKiB = worker.stop()
	}
	return res, nil
}

// workerProcess is a Stent worker in a child process (-role worker).
type workerProcess struct {
	cmd  *exec.Cmd
	once sync.Once
	rss  int64
	// stdin and lines carry W6's requests and the worker's one-line JSON
	// answers (see serveParkCommands); other workloads send none.
	stdin io.WriteCloser
	lines chan string
}

func startWorkerProcess(ctx context.Context, spec runSpec) (*workerProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-role", "worker", "-spec", string(b))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	wp := &workerProcess{cmd: cmd, stdin: stdin, lines: make(chan string, 16)}
	ready := make(chan error, 1)
	go func() {
		defer close(wp.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "ready" {
				ready <- nil
				for sc.Scan() { // keep draining; answers go to lines
					select {
					case wp.lines <- sc.Text():
					default: // nobody asked: drop
					}
				}
				return
			}
		}
		ready <- fmt.Errorf("worker process exited before it was ready")
	}()
	select {
	case err := <-ready:
		if err != nil {
			wp.stop()
			return nil, err
		}
	case <-time.After(60 * time.Second):
		wp.stop()
		return nil, fmt.Errorf("worker process not ready after 60s")
	case <-ctx.Done():
		wp.stop()
		return nil, ctx.Err()
	}
	return wp, nil
}

// request sends one command line to the worker process and decodes its
// one-line JSON answer into v.
func (w *workerProcess) request(ctx context.Context, cmd string, v any) error {
	if _, err := io.WriteString(w.stdin, cmd+"\n"); err != nil {
		return fmt.Errorf("worker process %q: %w", cmd, err)
	}
	t := time.NewTimer(60 * time.Second)
	defer t.Stop()
	select {
	case line, ok := <-w.lines:
		if !ok {
			return fmt.Errorf("worker process %q: it exited", cmd)
		}
		if err := json.Unmarshal([]byte(line), v); err != nil {
			return fmt.Errorf("worker process %q: answer %q: %w", cmd, line, err)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("worker process %q: no answer after 60s", cmd)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop ends the worker (SIGTERM, then SIGKILL after 15s) and returns its
// peak RSS in KiB.
func (w *workerProcess) stop() int64 {
	w.once.Do(func() {
		_ = w.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = w.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = w.cmd.Process.Kill()
			<-done
		}
		if w.cmd.ProcessState != nil {
			if ru, ok := w.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				w.rss = ru.Maxrss
			}
		}
	})
	return w.rss
}

// runStentWorkerProcess is -role worker: a Stent worker on the run's store
// with the variant's notifier; prints "ready" once serving, drains on
// SIGTERM.
func runStentWorkerProcess(ctx context.Context, o options) error {
	var spec runSpec
	if err := json.Unmarshal([]byte(o.spec), &spec); err != nil {
		return fmt.Errorf("-spec: %w", err)
	}
	newNotifier, slots := newStentNotifier, spec.Sizes.Concurrency
	var metrics app.Metrics
	parked := spec.Case.Workload == w6
	if parked {
		// W6: the client's notifier choice, W6's slots, and the wake log
		// (which counts the committed completions).
		newNotifier, slots, metrics = parkNotifier, spec.Sizes.W6Slots, parkLog
	}
	notifier, _, closeNotifier, err := newNotifier(ctx, spec)
	if err != nil {
		return err
	}
	defer closeNotifier()
	s, err := newStentEngine(ctx, spec, metrics, notifier)
	if err != nil {
		return err
	}
	defer s.shutdown()
	if err := s.startWorker(ctx, slots); err != nil {
		return err
	}
	fmt.Println("ready")
	if parked {
		go serveParkCommands(os.Stdin, os.Stdout)
	}
	select {
	case <-ctx.Done():
	case err := <-s.workDone:
		s.worker = nil
		return fmt.Errorf("worker stopped: %w", err)
	}
	return nil
}
