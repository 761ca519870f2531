package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// ids lists the execution ids of a list answer.
func ids(r reply) []string {
	var out []string
	list, _ := r.body["executions"].([]any)
	for _, x := range list {
		out = append(out, x.(map[string]any)["id"].(string))
	}
	return out
}

func errMessage(r reply) string {
	m, _ := r.body["error"].(map[string]any)
	s, _ := m["message"].(string)
	return s
}

func TestAPIExecutionFilters(t *testing.T) {
	t.Parallel()
	e := newAPI(t, apiOptions{})
	post := func(body string) string {
		r := e.do("POST", "/v1/executions", body)
		e.want(r, http.StatusCreated, "")
		return r.body["execution_id"].(string)
	}
	ada := post(`{"function":"api.echo","input":{"customer":"Ada Lovelace"},"tags":["red","vip"]}`)
	e.result(ada)
	mid := time.Now().UTC()
	bob := post(`{"function":"api.echo","input":{"customer":"Bob"},"tags":["red"]}`)
	e.result(bob)
	fail := post(`{"function":"api.fail","input":{"customer":"Cy"}}`)
	e.result(fail)

	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"tag=red", []string{bob, ada}},
		{"tag=red&tag=vip", []string{ada}},
		{"id_prefix=" + ada[:24], []string{ada}}, // past the v7 time bits: runs minted in the same ms share the first 12
		{"text=ADA", []string{ada}},
		{"text=card_declined", []string{fail}},
		{"text=" + url.QueryEscape("%"), nil},
		{"created_from=" + url.QueryEscape(mid.Format(time.RFC3339Nano)), []string{fail, bob}},
		{"created_before=" + url.QueryEscape(mid.Format(time.RFC3339Nano)), []string{ada}},
		{"tag=red&created_from=" + url.QueryEscape(mid.Format(time.RFC3339Nano)), []string{bob}},
	} {
		r := e.do("GET", "/v1/executions?"+tc.query, "")
		e.want(r, http.StatusOK, "")
		if got := ids(r); strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("?%s = %v; want %v", tc.query, got, tc.want)
		}
	}

	// The cursor keeps the filters' order: two pages of tag=red.
	r := e.do("GET", "/v1/executions?tag=red&limit=1", "")
	e.want(r, http.StatusOK, "")
	next, _ := r.body["next"].(string)
	if got := ids(r); len(got) != 1 || got[0] != bob || next == "" {
		t.Fatalf("first page %v next %q; want [%s] and a cursor", got, next, bob)
	}
	r = e.do("GET", "/v1/executions?tag=red&limit=1&cursor="+next, "")
	e.want(r, http.StatusOK, "")
	if got := ids(r); len(got) != 1 || got[0] != ada || r.body["next"] != nil {
		t.Fatalf("second page %v next %v; want [%s] and no cursor", got, r.body["next"], ada)
	}

	// Bad values are 400 naming the parameter or filter and the format.
	for _, tc := range []struct{ query, says string }{
		{"created_from=yesterday", `created_from "yesterday" is not an RFC 3339 time`},
		{"created_before=2026-12-06", `created_before "2026-12-06" is not an RFC 3339 time`},
		{"created_from=2030-01-02T00:00:00Z&created_before=2030-01-01T00:00:00Z", "created from"},
		{"text=" + strings.Repeat("x", 1025), "text filter"},
		{"text=a%00b", "NUL"},
		{"text=%FF", "UTF-8"},
		{"id_prefix=%00", "id prefix filter"},
		{"tag=%C3", "tag filter"},
	} {
		r := e.do("GET", "/v1/executions?"+tc.query, "")
		e.want(r, http.StatusBadRequest, "invalid_argument")
		if msg := errMessage(r); !strings.Contains(msg, tc.says) {
			t.Errorf("?%.60s answered %q; want it to say %q", tc.query, msg, tc.says)
		}
	}
}

func TestAPIThroughput(t *testing.T) {
	t.Parallel()
	e := newAPI(t, apiOptions{})
	e.result(e.dispatch("api.echo", `1`))
	e.result(e.dispatch("api.echo", `2`))
	e.result(e.dispatch("api.fail", `3`))

	r := e.do("GET", "/v1/stats/throughput?window=10m&bucket=1m", "")
	e.want(r, http.StatusOK, "")
	buckets := r.body["buckets"].([]any)
	if len(buckets) != 10 {
		t.Fatalf("%d buckets; want 10: %s", len(buckets), r.raw)
	}
	total := r.body["total"].(map[string]any)
	if total["completed"] != 2.0 || total["failed"] != 1.0 || r.body["read"] != 3.0 || r.body["truncated"] != false {
		t.Fatalf("total %v read %v truncated %v; want 2 completed, 1 failed, 3 read, not truncated", total, r.body["read"], r.body["truncated"])
	}
	if p50, ok := total["p50_ms"].(float64); !ok || p50 < 0 {
		t.Fatalf("p50_ms %v; want a latency", total["p50_ms"])
	}
	var counted float64
	for _, b := range buckets {
		m := b.(map[string]any)
		counted += m["completed"].(float64) + m["failed"].(float64)
		if m["completed"].(float64) == 0 && m["failed"].(float64) == 0 && m["p50_ms"] != nil {
			t.Fatalf("an empty bucket has a latency: %v", m)
		}
	}
	if counted != 3 {
		t.Fatalf("buckets count %v executions; want 3", counted)
	}
	from, _ := time.Parse(time.RFC3339, r.body["from"].(string))
	to, _ := time.Parse(time.RFC3339, r.body["to"].(string))
	if to.Sub(from) != 10*time.Minute || to.Truncate(time.Minute) != to {
		t.Fatalf("from %s to %s; want 10 whole minutes", from, to)
	}
	e.want(e.do("GET", "/v1/stats/throughput", ""), http.StatusOK, "")

	for _, tc := range []struct{ query, says string }{
		{"window=soon", "window"},
		{"bucket=0s", "bucket 0s is shorter than 1s"},
		{"window=1h&bucket=7m", "not a whole number of buckets"},
		{"window=8d&bucket=1h", "longer than"},
		{"window=1d&bucket=1s", "at most 1440 buckets"},
		{"window=1m&bucket=1h", "shorter than the bucket"},
	} {
		r := e.do("GET", "/v1/stats/throughput?"+tc.query, "")
		e.want(r, http.StatusBadRequest, "") // invalid_duration for an unreadable one
		if msg := errMessage(r); !strings.Contains(msg, tc.says) {
			t.Errorf("?%s answered %q; want it to say %q", tc.query, msg, tc.says)
		}
	}
}
