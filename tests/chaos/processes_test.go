package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/stenthq/stent/adapters/pgnotify"
	"github.com/stenthq/stent/adapters/redisnotify"
	"github.com/stenthq/stent/adapters/sqlstore/pgxstore"
	"github.com/stenthq/stent/adapters/sqlstore/sqlitestore"
	"github.com/stenthq/stent/internal/testenv"
	"github.com/stenthq/stent/ports"
)

// pool runs the worker processes of a soak.
type pool struct {
	t       *testing.T
	env     []string
	logDir  string
	mu      sync.Mutex
	workers []*exec.Cmd
	starts  int
}

func newPool(t *testing.T, target, ledgerPath, slow string, n int, extraEnv ...string) *pool {
	p := &pool{t: t, logDir: t.TempDir(),
		env: append(append(os.Environ(), envRole+"=worker", envTarget+"="+target, envLedger+"="+ledgerPath, envSlow+"="+slow), extraEnv...)}
	for i := range n {
		p.workers = append(p.workers, p.start(i))
	}
	t.Cleanup(p.stop)
	t.Cleanup(p.reportOnFailure)
	return p
}

// reportOnFailure prints the end of the last log of each worker slot when
// the test failed, so a CI run says what the workers were doing.
func (p *pool) reportOnFailure() {
	if !p.t.Failed() {
		return
	}
	logs, _ := filepath.Glob(filepath.Join(p.logDir, "worker-*.log"))
	last := map[string]string{}
	for _, l := range logs {
		var i, n int
		if _, err := fmt.Sscanf(filepath.Base(l), "worker-%d-%d.log", &i, &n); err == nil {
			k := fmt.Sprint(i)
			if cur, ok := last[k]; !ok || startOf(cur) < n {
				last[k] = l
			}
		}
	}
	for k, l := range last {
		b, _ := os.ReadFile(l)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		p.t.Logf("worker %s, %s (last lines):\n%s", k, filepath.Base(l), strings.Join(lines, "\n"))
	}
	p.t.Logf("%d worker processes started in all", p.starts)
}

func startOf(log string) int {
	var i, n int
	_, _ = fmt.Sscanf(filepath.Base(log), "worker-%d-%d.log", &i, &n)
	return n
}

// start starts worker i (named chaos-<i>) and returns its process.
func (p *pool) start(i int) *exec.Cmd {
	p.starts++
	cmd := exec.Command(os.Args[0], "-test.run=^TestChaosWorkerProcess$", "-test.count=1")
	cmd.Env = append(p.env, fmt.Sprintf("%s=chaos-%d", envName, i))
	logf, err := os.Create(filepath.Join(p.logDir, fmt.Sprintf("worker-%d-%d.log", i, p.starts)))
	if err != nil {
		p.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); _ = logf.Close() }()
	return cmd
}

// kill SIGKILLs worker i and, with restart, starts it again under its name.
func (p *pool) kill(i int, restart bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.workers[i]; c != nil {
		_ = c.Process.Signal(syscall.SIGKILL)
	}
	p.workers[i] = nil
	if restart {
		p.workers[i] = p.start(i)
	}
}

func (p *pool) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, c := range p.workers {
		if c != nil {
			_ = c.Process.Signal(syscall.SIGKILL)
		}
		p.workers[i] = nil
	}
}

// forEachStore runs the soak on SQLite and on PostgreSQL, in parallel.
func forEachStore(t *testing.T, run func(t *testing.T, target string)) {
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		run(t, "sqlite:"+filepath.Join(t.TempDir(), "chaos.sqlite"))
	})
	t.Run("Postgres", func(t *testing.T) {
		t.Parallel()
		run(t, postgresTarget(t))
	})
}

func storeName(target string) string {
	kind, _, _ := strings.Cut(target, ":")
	return kind
}

// postgresTarget returns a fresh schema on STENT_TEST_POSTGRES_DSN,
// dropped at cleanup.
func postgresTarget(t *testing.T) string {
	t.Helper()
	_, schema := testenv.PostgresSchema(t, "chaos_")
	return "postgres:" + schema
}

// conns overrides how a process reaches its services: pgDSN replaces
// STENT_TEST_POSTGRES_DSN (the outage proxy), and redisURL makes the
// processes share notifications through that Redis instead.
type conns struct {
	pgDSN    string
	redisURL string
}

// connsFromEnv is a worker process's conns (set by its parent).
func connsFromEnv() conns {
	return conns{pgDSN: os.Getenv(envPGDSN), redisURL: os.Getenv(envRedis)}
}

// openStore opens a target: "sqlite:<path>" or "postgres:<schema>". On
// PostgreSQL the processes also share LISTEN/NOTIFY notifications, as a
// production deployment does, unless c names a Redis (a nil notifier:
// in-process, so SQLite processes without Redis find work by polling).
func openStore(ctx context.Context, target string, c conns) (ports.Store, ports.Notifier, error) {
	kind, rest, _ := strings.Cut(target, ":")
	var st ports.Store
	var n ports.Notifier
	switch kind {
	case "postgres":
		dsn := c.pgDSN
		if dsn == "" {
			dsn = os.Getenv(testenv.PostgresEnv)
		}
		pst, err := pgxstore.Open(ctx, dsn, pgxstore.Config{Schema: rest})
		if err != nil {
			return nil, nil, err
		}
		st = pst
		if c.redisURL == "" {
			if n, err = pgnotify.New(ctx, pst.Pool(), pgnotify.Config{Prefix: "stent-" + rest}); err != nil {
				_ = st.Close()
				return nil, nil, err
			}
		}
	case "sqlite":
		sst, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: rest})
		if err != nil {
			return nil, nil, err
		}
		st = sst
	default:
		return nil, nil, fmt.Errorf("unknown chaos target %q", target)
	}
	if c.redisURL != "" {
		opts, err := redis.ParseURL(c.redisURL)
		if err != nil {
			_ = st.Close()
			return nil, nil, err
		}
		rn, err := redisnotify.New(redis.NewClient(opts), redisnotify.Config{Prefix: "stent-chaos:"})
		if err != nil {
			_ = st.Close()
			return nil, nil, err
		}
		n = rn
	}
	return st, n, nil
}

// openTestStore is openStore for a test's own process: a failure ends the
// test, and the store and notifier close with it.
func openTestStore(ctx context.Context, t *testing.T, target string, c conns) (ports.Store, ports.Notifier) {
	t.Helper()
	st, n, err := openStore(ctx, target, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if n != nil {
		t.Cleanup(func() { _ = n.Close() })
	}
	return st, n
}
