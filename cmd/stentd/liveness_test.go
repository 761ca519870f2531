package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/storeurl"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/stentfx"
)

// napper contributes test.nap, a workflow that sleeps an hour.
var napper = stentfx.Functions(func(reg *app.Registry) {
	app.Register(reg, "test.nap", func(ctx context.Context, _ json.RawMessage) (string, error) {
		if err := app.Sleep(ctx, time.Hour); err != nil {
			return "", err
		}
		return "rested", nil
	})
})

// napState dispatches test.nap and returns its root task's state once
// it is no longer pending (or after the timeout).
func napState(t *testing.T, eng *app.Engine, settle time.Duration) domain.TaskState {
	t.Helper()
	ctx := context.Background()
	id, err := eng.DispatchByName(ctx, "test.nap", nil)
	if err != nil {
		t.Fatal(err)
	}
	view, err := eng.StateOf(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(settle)
	for {
		tk, err := eng.Task(ctx, view.RootTaskID)
		if err != nil {
			t.Fatal(err)
		}
		if tk.State == domain.TaskWaiting || time.Now().After(deadline) {
			return tk.State
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTheWorkerRegistersUnderItsNameAndSleepersPark(t *testing.T) {
	t.Parallel()
	logs := newLogWatch()
	sigs := make(chan os.Signal, 2)
	env := testEnv(t, map[string]string{"STENT_WORKER_NAME": "svc-1", "STENT_LIVENESS_INTERVAL": "1s", "STENT_DEAD_AFTER": "5s"})
	base, eng, codes := started(t, env, sigs, logs, napper)

	resp, err := http.Get(base + "/v1/workers?state=live")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Workers []domain.WorkerInfo `json:"workers"`
	}
	err = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(body.Workers) != 1 || body.Workers[0].Name != "svc-1" || body.Workers[0].PID != os.Getpid() {
		t.Fatalf("live workers %+v; want this process's worker, named svc-1", body.Workers)
	}
	if got := napState(t, eng, 30*time.Second); got != domain.TaskWaiting {
		t.Fatalf("a workflow sleeping an hour is %s; want it parked (waiting)", got)
	}
	sigs <- syscall.SIGTERM
	if code := <-codes; code != 0 {
		t.Fatalf("exit %d after SIGTERM; log:\n%s", code, logs.String())
	}
	st, err := storeurl.Open(context.Background(), env("STENT_DB"), storeurl.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ws, err := st.ListWorkers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || ws[0].Name != "svc-1" || ws[0].State != domain.WorkerStopped {
		t.Fatalf("after SIGTERM the registry holds %+v; want svc-1 stopped", ws)
	}
}

func TestParkingCanBeTurnedOff(t *testing.T) {
	t.Parallel()
	logs := newLogWatch()
	sigs := make(chan os.Signal, 2)
	env := testEnv(t, map[string]string{"STENT_PARK_AFTER": "off", "STENT_SHUTDOWN_TIMEOUT": "1s"})
	_, eng, codes := started(t, env, sigs, logs, napper)
	if got := napState(t, eng, time.Second); got != domain.TaskRunning {
		t.Fatalf("with STENT_PARK_AFTER=off a sleeping workflow is %s after 1s; want it still running (in memory)", got)
	}
	sigs <- syscall.SIGTERM
	if code := <-codes; code != 0 {
		t.Fatalf("exit %d after SIGTERM; log:\n%s", code, logs.String())
	}
}
