package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestAPISchedules(t *testing.T) {
	t.Parallel()
	e := newAPI(t, apiOptions{})

	r := e.do("GET", "/v1/schedules", "")
	e.want(r, http.StatusOK, "")
	if list, ok := r.body["schedules"].([]any); !ok || len(list) != 0 {
		t.Fatalf("empty list %s", r.raw)
	}

	r = e.do("POST", "/v1/schedules", `{"name":"nightly","cron":"0 3 * * *","time_zone":"Europe/Paris","function":"api.echo","input":{"n":1},"catch_up":"all:3","overlap":"queue_one"}`)
	e.want(r, http.StatusCreated, "")
	if r.body["name"] != "nightly" || r.body["catch_up"] != "all:3" || r.body["overlap"] != "queue_one" || r.body["paused"] != false || r.body["next_tick"] == nil {
		t.Fatalf("created %s", r.raw)
	}
	e.want(e.do("POST", "/v1/schedules", `{"name":"nightly","cron":"@daily","function":"api.echo"}`), http.StatusConflict, "conflict")

	r = e.do("GET", "/v1/schedules/nightly", "")
	e.want(r, http.StatusOK, "")
	if r.body["time_zone"] != "Europe/Paris" {
		t.Fatalf("get %s", r.raw)
	}
	r = e.do("PUT", "/v1/schedules/nightly", `{"cron":"30 4 * * *","function":"api.echo","input":"x"}`)
	e.want(r, http.StatusOK, "")
	if r.body["cron"] != "30 4 * * *" || r.body["input"] != "x" || r.body["catch_up"] != "once" {
		t.Fatalf("update %s", r.raw)
	}
	r = e.do("POST", "/v1/schedules/nightly/pause", "")
	e.want(r, http.StatusOK, "")
	if r.body["paused"] != true {
		t.Fatalf("pause %s", r.raw)
	}
	r = e.do("POST", "/v1/schedules/nightly/resume", "")
	e.want(r, http.StatusOK, "")
	if r.body["paused"] != false {
		t.Fatalf("resume %s", r.raw)
	}
	r = e.do("POST", "/v1/schedules/nightly/trigger", "")
	e.want(r, http.StatusAccepted, "")
	id, _ := r.body["execution_id"].(string)
	if !strings.HasPrefix(id, "schedule:nightly@") {
		t.Fatalf("trigger %s", r.raw)
	}
	if res := e.result(id); res.body["value"] != "x" {
		t.Fatalf("the triggered run answered %s; want its input back", res.raw)
	}
	r = e.do("GET", "/v1/schedules", "")
	if list, _ := r.body["schedules"].([]any); len(list) != 1 {
		t.Fatalf("list %s", r.raw)
	}
	e.want(e.do("DELETE", "/v1/schedules/nightly", ""), http.StatusOK, "")
	r = e.do("DELETE", "/v1/schedules/nightly", "")
	e.want(r, http.StatusNotFound, "not_found")
	if msg := r.errorMessage(); !strings.Contains(msg, `schedule "nightly"`) {
		t.Errorf("not found message %q; want it to name the schedule", msg)
	}
	for _, p := range []string{"/v1/schedules/nightly/pause", "/v1/schedules/nightly/resume", "/v1/schedules/nightly/trigger"} {
		e.want(e.do("POST", p, ""), http.StatusNotFound, "not_found")
	}
	e.want(e.do("GET", "/v1/schedules/nightly", ""), http.StatusNotFound, "not_found")
}

func TestAPISchedulesRejectBadInput(t *testing.T) {
	t.Parallel()
	e := newAPI(t, apiOptions{noWorker: true})
	cases := []struct {
		name, body, code string
		words            []string
	}{
		{"an invalid cron expression", `{"name":"a","cron":"61 * * * *","function":"api.echo"}`, "invalid_argument", []string{`"61 * * * *"`}},
		{"an unknown time zone", `{"name":"a","cron":"@daily","time_zone":"Mars/Olympus","function":"api.echo"}`, "invalid_argument", []string{`"Mars/Olympus"`}},
		{"an unknown function", `{"name":"a","cron":"@daily","function":"nobody"}`, "unregistered_function", []string{`"nobody"`}},
		{"a bad catch-up", `{"name":"a","cron":"@daily","function":"api.echo","catch_up":"often"}`, "invalid_argument", []string{"catch_up", `"often"`}},
		{"a bad overlap", `{"name":"a","cron":"@daily","function":"api.echo","overlap":"maybe"}`, "invalid_argument", []string{`"maybe"`}},
		{"an unknown field", `{"name":"a","cron":"@daily","function":"api.echo","every":"day"}`, "invalid_argument", []string{"every"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.with(t).do("POST", "/v1/schedules", c.body)
			e.with(t).want(r, http.StatusBadRequest, c.code)
			for _, w := range c.words {
				if !strings.Contains(r.errorMessage(), w) {
					t.Errorf("message %q does not say %s", r.errorMessage(), w)
				}
			}
		})
	}
	e.want(e.do("POST", "/v1/schedules", `{"name":"a","cron":"@daily","function":"api.echo"}`), http.StatusCreated, "")
	e.want(e.do("PUT", "/v1/schedules/a", `{"name":"b","cron":"@daily","function":"api.echo"}`), http.StatusBadRequest, "invalid_argument")
	e.want(e.do("PUT", "/v1/schedules/zz", `{"cron":"@daily","function":"api.echo"}`), http.StatusNotFound, "not_found")
}

func (r reply) errorMessage() string {
	e, _ := r.body["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}
