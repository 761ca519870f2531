package httpapi_test

import (
	"context"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// workerStates returns the workers GET /v1/workers+query lists: id to
// state.
func (e *apiEnv) workerStates(query string) map[string]string {
	e.t.Helper()
	r := e.do("GET", "/v1/workers"+query, "")
	e.want(r, http.StatusOK, "")
	list, ok := r.body["workers"].([]any)
	if !ok {
		e.t.Fatalf("GET /v1/workers%s: no workers list: %s", query, r.raw)
	}
	out := map[string]string{}
	for _, item := range list {
		w, _ := item.(map[string]any)
		id, _ := w["id"].(string)
		state, _ := w["state"].(string)
		out[id] = state
	}
	return out
}

func TestAPIWorkers(t *testing.T) {
	t.Parallel()
	e := newAPI(t, apiOptions{})
	ctx := context.Background()
	now := time.Now().UTC()
	for _, w := range []domain.WorkerInfo{
		{ID: "api-stopped", Name: "old", Host: "elsewhere", PID: 1, Process: "p-stopped"},
		{ID: "api-dead", Host: "elsewhere", PID: 2, Process: "p-dead", Queues: []string{"q"}},
	} {
		if err := e.store.RegisterWorker(ctx, w, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.store.StopWorker(ctx, "api-stopped", now); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.ExpireWorkers(ctx, ports.ExpireWorkersParams{IDs: []string{"api-dead"}, Now: now}); err != nil {
		t.Fatal(err)
	}

	t.Run("the registry lists every worker, this process's own as live", func(t *testing.T) {
		e := e.with(t)
		r := e.do("GET", "/v1/workers", "")
		e.want(r, http.StatusOK, "")
		list, _ := r.body["workers"].([]any)
		var own map[string]any
		for _, item := range list {
			if w, _ := item.(map[string]any); w["id"] == "api-worker" {
				own = w
			}
		}
		if own == nil || own["state"] != "live" || own["pid"] != float64(os.Getpid()) || own["host"] == "" ||
			own["started_at"] == nil || own["heartbeat_at"] == nil {
			t.Fatalf("the serving worker is missing or incomplete: %s", r.raw)
		}
		got := e.workerStates("")
		want := map[string]string{"api-worker": "live", "api-stopped": "stopped", "api-dead": "dead"}
		for id, st := range want {
			if got[id] != st {
				t.Errorf("worker %s is %q; want %q (all: %v)", id, got[id], st, got)
			}
		}
		if first, _ := list[0].(map[string]any); first["state"] != "live" {
			t.Errorf("live workers come first: %s", r.raw)
		}
	})
	t.Run("?state= keeps the workers in those states", func(t *testing.T) {
		e := e.with(t)
		if got := e.workerStates("?state=dead"); len(got) != 1 || got["api-dead"] != "dead" {
			t.Errorf("state=dead: %v", got)
		}
		got := e.workerStates("?state=live,stopped")
		ids := make([]string, 0, len(got))
		for id := range got {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		if strings.Join(ids, ",") != "api-stopped,api-worker" {
			t.Errorf("state=live,stopped: %v", got)
		}
		if got := e.workerStates("?state=stopped&state=dead"); len(got) != 2 {
			t.Errorf("repeated state: %v", got)
		}
	})
	t.Run("an unknown state is 400 naming the allowed ones", func(t *testing.T) {
		e := e.with(t)
		r := e.do("GET", "/v1/workers?state=live,zombie", "")
		e.want(r, http.StatusBadRequest, "invalid_argument")
		if msg, _ := r.body["error"].(map[string]any)["message"].(string); !strings.Contains(msg, `"zombie"`) ||
			!strings.Contains(msg, "live, stopped, dead") {
			t.Errorf("message %q", msg)
		}
	})
}

func TestAPIExecutionViewOfAParkedExecution(t *testing.T) {
	t.Parallel()
	e := newAPI(t, apiOptions{})
	id := e.dispatch("api.sleep", `null`)
	r := e.do("GET", "/v1/executions/"+id, "")
	e.want(r, http.StatusOK, "")
	rootID, _ := r.body["root_task_id"].(string)

	deadline := time.Now().Add(30 * time.Second)
	for {
		tk, err := e.store.GetTask(context.Background(), rootID)
		if err != nil {
			t.Fatal(err)
		}
		if tk.State == domain.TaskWaiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the root task is still %s; want it parked (waiting)", tk.State)
		}
		time.Sleep(10 * time.Millisecond)
	}

	r = e.do("GET", "/v1/executions/"+id, "")
	e.want(r, http.StatusOK, "")
	reason, _ := r.body["wait_reason"].(string)
	if r.body["state"] != "running" || !strings.HasPrefix(reason, "sleeping until ") {
		t.Fatalf("view of a sleeping execution: state %v, wait_reason %q; want running, sleeping until ...: %s",
			r.body["state"], reason, r.raw)
	}
	wake, err := time.Parse(time.RFC3339, strings.TrimPrefix(reason, "sleeping until "))
	if err != nil || wake.Before(time.Now().Add(59*time.Minute)) {
		t.Errorf("wake time in %q: %v; want about an hour from now", reason, err)
	}
	if rec, ok := r.body["root_recoveries"].(float64); !ok || rec != 0 {
		t.Errorf("root_recoveries %v; want 0", r.body["root_recoveries"])
	}
	progress, _ := r.body["progress"].([]any)
	if len(progress) == 0 {
		t.Fatalf("no progress: %s", r.raw)
	}
	if root, _ := progress[0].(map[string]any); root["state"] != "waiting" || root["wake_at"] == nil {
		t.Errorf("the root step is %v with wake_at %v; want waiting with a wake time", root["state"], root["wake_at"])
	}
	e.want(e.do("POST", "/v1/executions/"+id+"/cancel", ""), http.StatusOK, "")
}
