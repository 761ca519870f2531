package scenario

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
)

// versionedFlow registers "vflow" at version in reg: it calls the
// unversioned step "vstamp" and returns "<version>:<stamp>".
func versionedFlow(reg *app.Registry, version string) *app.Function[int, string] {
	stamp := app.Register(reg, "vstamp", func(_ context.Context, n int) (string, error) { return fmt.Sprint(n), nil })
	opts := []app.RegisterOption{}
	if version != "" {
		opts = append(opts, app.WithVersion(version))
	}
	return app.Register(reg, "vflow", func(ctx context.Context, n int) (string, error) {
		s, err := stamp.Call(ctx, n)
		return version + ":" + s, err
	}, opts...)
}

// startWorker runs a worker of eng until the test ends.
func startWorker(t *testing.T, eng *app.Engine, opts app.WorkerOptions) {
	t.Helper()
	opts.PollInterval, opts.PollIntervalMax = 10*time.Millisecond, 100*time.Millisecond
	w, err := eng.NewWorker(opts)
	if err != nil {
		t.Fatalf("NewWorker: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-w.Ready()
}

// secondEngine is another deployment's engine on h's store.
func secondEngine(t *testing.T, h *harness, reg *app.Registry) *app.Engine {
	t.Helper()
	eng, err := app.New(app.Deps{Store: h.store, Notifier: h.notifier, Registry: reg, Clock: h.clock}, h.cfg)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	return eng
}

func engineVersions(t *testing.T, newStore StoreFactory) {
	t.Run("a v1 worker and a v2 worker on one store each run only their version", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		v1 := versionedFlow(h.reg, "v1")
		reg2 := app.NewRegistry()
		v2 := versionedFlow(reg2, "v2")
		eng1, eng2 := h.engine(), secondEngine(t, h, reg2)
		startWorker(t, eng1, app.WorkerOptions{})
		startWorker(t, eng2, app.WorkerOptions{})
		var ids1, ids2 []string
		for i := range 6 {
			id, err := v1.Dispatch(h.ctx(), eng1, i)
			if err != nil {
				t.Fatal(err)
			}
			ids1 = append(ids1, id)
			if id, err = v2.Dispatch(h.ctx(), eng2, i); err != nil {
				t.Fatal(err)
			}
			ids2 = append(ids2, id)
		}
		for i, id := range ids1 {
			if got, err := v1.Await(h.ctx(), eng1, id); err != nil || got != fmt.Sprintf("v1:%d", i) {
				t.Fatalf("v1 run %d = %q, %v; want v1:%d", i, got, err, i)
			}
		}
		for i, id := range ids2 {
			if got, err := v2.Await(h.ctx(), eng2, id); err != nil || got != fmt.Sprintf("v2:%d", i) {
				t.Fatalf("v2 run %d = %q, %v; want v2:%d", i, got, err, i)
			}
			if v, err := eng2.StateOf(h.ctx(), id); err != nil || v.Version != "v2" || v.Progress[0].Version != "v2" {
				t.Fatalf("v2 run %d: execution version %q, root %q (%v); want v2", i, v.Version, v.Progress[0].Version, err)
			}
		}
	})

	t.Run("a v2 run waits with a reason while only v1 workers run, and a VersionAny worker takes it", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		versionedFlow(h.reg, "v1")
		reg2 := app.NewRegistry()
		v2 := versionedFlow(reg2, "v2")
		eng1, eng2 := h.engine(), secondEngine(t, h, reg2)
		startWorker(t, eng1, app.WorkerOptions{}) // strict: v1 only
		id, err := v2.Dispatch(h.ctx(), eng2, 7)  // eng2 runs no worker
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "the wait reason to name the missing version", func() bool {
			v, err := eng1.StateOf(h.ctx(), id)
			return err == nil && v.WaitReason == "no worker registers vflow version v2"
		})
		time.Sleep(100 * time.Millisecond) // several polls of the v1 worker
		if st := rootState(h, id); st != domain.TaskPending {
			t.Fatalf("root state %s; want pending (the v1 worker must not claim a v2 run)", st)
		}
		startWorker(t, eng1, app.WorkerOptions{Versions: app.VersionAny})
		res := h.wait(id)
		if string(res.Value) != `"v1:7"` {
			t.Fatalf("result %s (%v); want the VersionAny v1 worker's \"v1:7\"", res.Value, res.Err())
		}
	})

	t.Run("an unknown version policy is a clear error", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, newStore)
		versionedFlow(h.reg, "v1")
		_, err := h.engine().NewWorker(app.WorkerOptions{Versions: "newest"})
		if !errors.Is(err, domain.ErrInvalidArgument) || !strings.Contains(err.Error(), `"newest"`) {
			t.Fatalf("NewWorker(Versions: newest) = %v; want ErrInvalidArgument naming the policy", err)
		}
	})
}
