package httpapi_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// leak matches what an error meant for people must not show: a wrap
// chain's package prefixes, Go type names and fmt's slips.
var leak = regexp.MustCompile(`stent: |sqlitestore|pgxstore|memstore|sqlstore|\*[a-z]+\.[A-Za-z]|Go (struct|value)|json: |%!|fmt\.|domain\.|app\.`)

func TestErrorsAreMeantForPeople(t *testing.T) {
	t.Parallel()
	e := newAPI(t, apiOptions{})
	done := e.dispatch("api.echo", `"x"`)
	e.result(done)
	for _, tt := range []struct {
		name, method, path, body string
		status                   int
		code, message            string // message: the exact text, or "" to check only for leaks
	}{
		{"an unknown execution", "GET", "/v1/executions/nope", "", 404, "not_found", `execution "nope" not found`},
		{"the result of an unknown execution", "GET", "/v1/executions/nope/result", "", 404, "not_found", `execution "nope" not found`},
		{"a signal to an unknown execution", "POST", "/v1/executions/nope/signals/go", `true`, 404, "not_found", `execution "nope" not found`},
		{"cancelling an unknown execution", "POST", "/v1/executions/nope/cancel", "", 404, "not_found", `execution "nope" not found`},
		{"an unknown dead letter", "GET", "/v1/dead-letters/nope", "", 404, "not_found", `dead letter "nope" not found`},
		{"an unknown task of an execution", "GET", "/v1/executions/" + done + "/tasks/nope", "", 404, "not_found", `task "nope" of execution "` + done + `" not found`},
		{"a wrong method on a schedule names PUT among the allowed", "PATCH", "/v1/schedules/nightly", "", 405, "method_not_allowed", "PATCH is not allowed on /v1/schedules/nightly; allowed: GET, PUT, DELETE"},
		{"replaying an unknown dead letter", "POST", "/v1/dead-letters/nope/replay", "", 404, "not_found", `dead letter "nope" not found`},
		{"a signal to a finished execution", "POST", "/v1/executions/" + done + "/signals/go", `true`, 409, "execution_finished", ""},
		{"an unregistered function", "POST", "/v1/executions", `{"function":"nope"}`, 400, "unregistered_function", ""},
		{"a priority of the wrong type", "POST", "/v1/executions", `{"function":"api.echo","priority":"high"}`, 400, "invalid_argument", `"priority" must be a whole number, not string`},
		{"tags of the wrong type", "POST", "/v1/executions", `{"function":"api.echo","tags":"a"}`, 400, "invalid_argument", `"tags" must be a list, not string`},
		{"a body that is not an object", "POST", "/v1/executions", `[1]`, 400, "invalid_argument", "the request body must be an object, not array"},
		{"a body that is not JSON", "POST", "/v1/executions", `{"function":`, 400, "invalid_argument", ""},
		{"an unknown field", "POST", "/v1/executions", `{"function":"api.echo","colour":"red"}`, 400, "invalid_argument", `the request body does not fit this call: unknown field "colour"`},
		{"a run_at that is not a time", "POST", "/v1/executions", `{"function":"api.echo","run_at":"tomorrow"}`, 400, "invalid_argument", ""},
		{"a bad delay", "POST", "/v1/executions", `{"function":"api.echo","delay":"5x"}`, 400, "invalid_duration", ""},
		{"a wait that is too long", "GET", "/v1/executions/" + done + "/result?wait=2m", "", 400, "invalid_argument", ""},
		{"a bad wait", "GET", "/v1/executions/" + done + "/result?wait=soon", "", 400, "invalid_duration", ""},
		{"a bad limit", "GET", "/v1/executions?limit=0", "", 400, "invalid_argument", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.with(t).do(tt.method, tt.path, tt.body)
			e.with(t).want(r, tt.status, tt.code)
			var shape struct {
				Error map[string]json.RawMessage `json:"error"`
			}
			if err := json.Unmarshal([]byte(r.raw), &shape); err != nil {
				t.Fatal(err)
			}
			for k := range shape.Error {
				if k != "code" && k != "message" && k != "registered" {
					t.Errorf("error body has %q: %s", k, r.raw)
				}
			}
			msg := r.body["error"].(map[string]any)["message"].(string)
			t.Log(msg)
			if tt.message != "" && msg != tt.message {
				t.Errorf("message %q; want %q", msg, tt.message)
			}
			if m := leak.FindString(msg); m != "" {
				t.Errorf("message %q shows %q: a wrap chain or a Go type name", msg, m)
			}
			if strings.HasPrefix(msg, ": ") || strings.Contains(msg, ": : ") {
				t.Errorf("message %q is malformed", msg)
			}
		})
	}
}

func TestIDsMintedOverHTTPAreTimeOrdered(t *testing.T) {
	t.Parallel()
	e := newAPI(t, apiOptions{noWorker: true})
	for range 3 {
		id := e.dispatch("api.echo", `1`)
		if len(id) != 36 || id[14] != '7' {
			t.Fatalf("execution id %q is not a version 7 UUID", id)
		}
	}
	r := e.do("POST", "/v1/executions", `{"function":"api.echo","idempotency_key":"k1"}`)
	e.want(r, http.StatusCreated, "")
	again := e.do("POST", "/v1/executions", `{"function":"api.echo","idempotency_key":"k1"}`)
	e.want(again, http.StatusOK, "")
	if again.body["execution_id"] != r.body["execution_id"] || again.body["created"] != false {
		t.Fatalf("a reused idempotency key answered %s; want the first id, created false", again.raw)
	}
}
