package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestAPIForkAndReset(t *testing.T) {
	t.Parallel()
	e := newAPI(t, apiOptions{})

	t.Run("a fork is 201 with the new execution, which runs on the new input and names its source", func(t *testing.T) {
		e := e.with(t)
		src := e.dispatch("api.echo", `{"n":1}`)
		e.result(src)
		r := e.do("POST", "/v1/executions/"+src+"/fork", `{"from_step": 1, "input": {"n": 2}}`)
		e.want(r, http.StatusCreated, "")
		id, _ := r.body["execution_id"].(string)
		if id == "" || id == src || r.body["forked_from"] != src || r.body["from_step"] != float64(1) || r.body["state"] == "" {
			t.Fatalf("fork answered %s", r.raw)
		}
		if res := e.result(id); res.body["value"].(map[string]any)["n"] != float64(2) {
			t.Fatalf("fork result %s; want the new input echoed", res.raw)
		}
		got := e.do("GET", "/v1/executions/"+id, "")
		e.want(got, http.StatusOK, "")
		if got.body["forked_from"] != src {
			t.Fatalf("GET fork: %s; want forked_from %s", got.raw, src)
		}
		again := e.do("POST", "/v1/executions/"+src+"/fork", `{"from_step": 1}`)
		e.want(again, http.StatusCreated, "")
		if res := e.result(again.body["execution_id"].(string)); res.body["value"].(map[string]any)["n"] != float64(1) {
			t.Fatalf("fork without input %s; want the source's input", res.raw)
		}
	})
	t.Run("a failed execution is reset (200) and runs again; a completed one is 409 naming its state", func(t *testing.T) {
		e := e.with(t)
		id := e.dispatch("api.fail", `null`)
		if res := e.result(id); res.body["state"] != "failed" {
			t.Fatalf("first run %s", res.raw)
		}
		r := e.do("POST", "/v1/executions/"+id+"/reset", `{"from_step": 1}`)
		e.want(r, http.StatusOK, "")
		if r.body["execution_id"] != id || r.body["state"] == "" { // pending, or already claimed

			t.Fatalf("reset answered %s", r.raw)
		}
		if res := e.result(id); res.body["state"] != "failed" {
			t.Fatalf("after the reset %s; want it to run (and fail) again", res.raw)
		}
		done := e.dispatch("api.echo", `1`)
		e.result(done)
		r = e.do("POST", "/v1/executions/"+done+"/reset", `{"from_step": 1}`)
		e.want(r, http.StatusConflict, "invalid_transition")
		if !strings.Contains(r.raw, "is completed; only a failed, timed_out or cancelled execution can be reset") {
			t.Fatalf("reset of a completed run: %s", r.raw)
		}
	})
	t.Run("bad steps, bodies and ids are 400 or 404 with the rule named", func(t *testing.T) {
		e := e.with(t)
		id := e.dispatch("api.fail", `null`)
		e.result(id)
		for _, path := range []string{"/fork", "/reset"} {
			e.want(e.do("POST", "/v1/executions/"+id+path, `{}`), http.StatusBadRequest, "invalid_argument")
			r := e.do("POST", "/v1/executions/"+id+path, `{"from_step": 0}`)
			e.want(r, http.StatusBadRequest, "invalid_argument")
			if !strings.Contains(r.raw, "from step 0: steps are numbered from 1") {
				t.Fatalf("%s from step 0: %s", path, r.raw)
			}
			r = e.do("POST", "/v1/executions/"+id+path, `{"from_step": 3}`)
			e.want(r, http.StatusBadRequest, "invalid_argument")
			if !strings.Contains(r.raw, "has 0 recorded steps; choose a step from 1 to 1") {
				t.Fatalf("%s from step 3: %s", path, r.raw)
			}
			e.want(e.do("POST", "/v1/executions/missing"+path, `{"from_step": 1}`), http.StatusNotFound, "not_found")
		}
		e.want(e.do("POST", "/v1/executions/"+id+"/reset", `{"from_step": 1, "input": 2}`), http.StatusBadRequest, "invalid_argument")
	})
	t.Run(`"input": null is the same as no input (JSON clients send null for absent)`, func(t *testing.T) {
		e := e.with(t)
		id := e.dispatch("api.fail", `null`)
		e.result(id)
		e.want(e.do("POST", "/v1/executions/"+id+"/reset", `{"from_step": 1, "input": null}`), http.StatusOK, "")
		src := e.dispatch("api.echo", `{"n": 1}`)
		e.result(src)
		r := e.do("POST", "/v1/executions/"+src+"/fork", `{"from_step": 1, "input": null}`)
		e.want(r, http.StatusCreated, "")
		fork, _ := r.body["execution_id"].(string)
		if res := e.result(fork); res.body["value"].(map[string]any)["n"] != float64(1) {
			t.Fatalf("fork with input null %s; want the source's input", res.raw)
		}
	})
}
