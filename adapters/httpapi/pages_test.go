package httpapi_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
)

// walkPages follows "next" from path (which has a query) and returns the
// key field of every row of every page, calling between after each page.
func (e *apiEnv) walkPages(path, list, key string, between func()) []string {
	e.t.Helper()
	var keys []string
	next := ""
	for range 100 {
		p := path
		if next != "" {
			p += "&cursor=" + url.QueryEscape(next)
		}
		r := e.do("GET", p, "")
		e.want(r, http.StatusOK, "")
		rows, ok := r.body[list].([]any)
		if !ok {
			e.t.Fatalf("GET %s: no %s list: %s", p, list, r.raw)
		}
		for _, row := range rows {
			m, _ := row.(map[string]any)
			keys = append(keys, fmt.Sprint(m[key]))
		}
		n, has := r.body["next"]
		if !has {
			return keys
		}
		if next, _ = n.(string); next == "" || len(rows) == 0 {
			e.t.Fatalf("GET %s: next %v with %d rows; want a cursor after a full page", p, n, len(rows))
		}
		if between != nil {
			between()
		}
	}
	e.t.Fatalf("GET %s: more than 100 pages", path)
	return nil
}

func noRepeats(t *testing.T, what string, keys []string) {
	t.Helper()
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] {
			t.Errorf("%s: %s repeated across pages (%v)", what, k, keys)
		}
		seen[k] = true
	}
}

func TestEveryListPagesByCursor(t *testing.T) {
	t.Parallel()
	e := newAPI(t, apiOptions{})

	t.Run("executions page newest first; one dispatched between pages is not seen and nothing repeats", func(t *testing.T) {
		e := e.with(t)
		var ids []string
		for range 5 {
			ids = append(ids, e.dispatch("api.approve", `null`))
		}
		slices.Reverse(ids)
		var added []string
		got := e.walkPages("/v1/executions?function=api.approve&limit=2", "executions", "id", func() {
			added = append(added, e.dispatch("api.approve", `null`))
		})
		noRepeats(t, "executions", got)
		if !slices.Equal(got, ids) {
			t.Fatalf("pages hold %v; want %v (newest first, none of %v)", got, ids, added)
		}
		r := e.do("GET", "/v1/executions?function=api.approve&limit=100", "")
		if _, has := r.body["next"]; has {
			t.Fatalf("a last page has next: %s", r.raw)
		}
		// Signals of one execution, by name then seq.
		id := ids[0]
		for _, name := range []string{"b", "a", "b", "a", "c"} {
			e.want(e.do("POST", "/v1/executions/"+id+"/signals/"+name, `1`), http.StatusAccepted, "")
		}
		var sigs []string
		r = e.do("GET", "/v1/executions/"+id+"/signals?limit=2", "")
		e.want(r, http.StatusOK, "")
		for next := ""; ; {
			p := "/v1/executions/" + id + "/signals?limit=2"
			if next != "" {
				p += "&cursor=" + next
			}
			r := e.do("GET", p, "")
			for _, s := range r.body["signals"].([]any) {
				m := s.(map[string]any)
				sigs = append(sigs, fmt.Sprint(m["name"], m["seq"]))
			}
			n, ok := r.body["next"].(string)
			if !ok {
				break
			}
			next = n
		}
		if want := []string{"a1", "a2", "b1", "b2", "c1"}; !slices.Equal(sigs, want) {
			t.Fatalf("signal pages %v; want %v", sigs, want)
		}
	})

	t.Run("dead letters page newest first", func(t *testing.T) {
		e := e.with(t)
		for range 3 {
			e.result(e.dispatch("api.fail", `null`))
		}
		got := e.walkPages("/v1/dead-letters?function=api.fail&limit=1", "dead_letters", "task_id", nil)
		noRepeats(t, "dead letters", got)
		if len(got) != 3 {
			t.Fatalf("dead letter pages %v; want 3 entries", got)
		}
	})

	t.Run("workers page live first, then by id", func(t *testing.T) {
		e := e.with(t)
		for _, id := range []string{"api-w2", "api-w1"} {
			if err := e.store.RegisterWorker(context.Background(), domain.WorkerInfo{ID: id, Host: "h", PID: 1, Process: "p-" + id}, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.store.StopWorker(context.Background(), "api-w1", time.Now()); err != nil {
			t.Fatal(err)
		}
		got := e.walkPages("/v1/workers?limit=1", "workers", "id", nil)
		all := e.walkPages("/v1/workers?limit=1000", "workers", "id", nil)
		if !slices.Equal(got, all) || !slices.Equal(got, []string{"api-w2", "api-worker", "api-w1"}) {
			t.Fatalf("worker pages %v; want %v", got, all)
		}
	})

	t.Run("schedules and queues page by name; one created between pages after the cursor is seen", func(t *testing.T) {
		e := e.with(t)
		for _, n := range []string{"pg-c", "pg-a", "pg-e"} {
			e.want(e.do("POST", "/v1/schedules", `{"name":"`+n+`","cron":"@daily","function":"api.echo","paused":true}`), http.StatusCreated, "")
		}
		added := false
		got := e.walkPages("/v1/schedules?limit=2", "schedules", "name", func() {
			if !added { // after pg-c: pg-b is behind the cursor, pg-d ahead of it
				added = true
				for _, n := range []string{"pg-b", "pg-d"} {
					e.want(e.do("POST", "/v1/schedules", `{"name":"`+n+`","cron":"@daily","function":"api.echo","paused":true}`), http.StatusCreated, "")
				}
			}
		})
		if want := []string{"pg-a", "pg-c", "pg-d", "pg-e"}; !slices.Equal(got, want) {
			t.Fatalf("schedule pages %v; want %v", got, want)
		}
		for _, q := range []string{"pq-b", "pq-a", "pq-c"} {
			e.want(e.do("POST", "/v1/queues/"+q+"/pause", ""), http.StatusOK, "")
		}
		var ours []string
		for _, q := range e.walkPages("/v1/queues?limit=1", "queues", "name", nil) {
			if strings.HasPrefix(q, "pq-") {
				ours = append(ours, q)
			}
		}
		if want := []string{"pq-a", "pq-b", "pq-c"}; !slices.Equal(ours, want) {
			t.Fatalf("queue pages %v; want %v", ours, want)
		}
		r := e.do("GET", "/v1/schedules?cursor="+base64.RawURLEncoding.EncodeToString([]byte(`{"l":"queues","i":"pq-a"}`)), "")
		e.want(r, http.StatusBadRequest, "invalid_argument")
		if !strings.Contains(r.raw, "pages queues, not schedules") {
			t.Fatalf("a queue cursor on schedules: %s", r.raw)
		}
	})

	t.Run("a bad cursor is 400 naming the problem", func(t *testing.T) {
		e := e.with(t)
		workers := e.do("GET", "/v1/workers?limit=1", "")
		wc, _ := workers.body["next"].(string)
		enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
		for _, c := range []struct{ path, says string }{
			{"/v1/executions?cursor=%25%25%25", "not base64url"},
			{"/v1/executions?cursor=" + enc(`[1,2]`), "not a cursor of this API"},
			{"/v1/executions?cursor=" + enc(`{"l":"executions"}`), "names no row"},
			{"/v1/executions?cursor=" + enc(`{"l":"executions","i":"x"}`), "has no time"},
			{"/v1/dead-letters?cursor=" + enc(`{"l":"executions","i":"x","t":"2030-01-02T15:04:05Z"}`), "pages executions, not dead-letters"},
			{"/v1/executions?offset=2&cursor=" + enc(`{"l":"executions","i":"x","t":"2030-01-02T15:04:05Z"}`), "cannot be combined"},
			{"/v1/executions?cursor=" + strings.Repeat("A", 3000), "longer than"},
		} {
			r := e.do("GET", c.path, "")
			e.want(r, http.StatusBadRequest, "invalid_argument")
			if msg := r.body["error"].(map[string]any)["message"].(string); !strings.Contains(msg, c.says) || !strings.Contains(msg, "cursor") {
				t.Errorf("GET %s: message %q; want it to name the cursor and say %q", c.path, msg, c.says)
			}
		}
		if wc != "" {
			r := e.do("GET", "/v1/executions/x/signals?cursor="+wc, "")
			e.want(r, http.StatusBadRequest, "invalid_argument")
		}
	})
}
