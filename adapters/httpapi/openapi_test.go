package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/stenthq/stent/adapters/httpapi"
)

// The OpenAPI document (adapters/httpapi/openapi.json) is checked against
// the handler three ways:
//
//   - it is a valid OpenAPI 3.1 document (kin-openapi) whose examples fit
//     their schemas (santhosh-tekuri/jsonschema, JSON Schema 2020-12);
//   - every route the handler serves (Handler.Routes) is documented, and
//     every documented route is served: a route added without docs fails
//     TestOpenAPIDocumentsEveryRoute with a message naming it;
//   - real responses of a seeded server, for every documented operation
//     and the error statuses they answer, fit the documented schema of
//     their status, and the documented security (bearer or public) is what
//     the server enforces.

var openAPIMethods = []string{"get", "put", "post", "delete", "patch", "head", "options"}

// openAPIDoc is the served document as plain JSON.
func openAPIDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(httpapi.OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	return doc
}

// routeKey is "METHOD /path" as OpenAPI spells the route of a ServeMux
// pattern: a pattern without a method counts as GET, {name...} is
// {name}, and a trailing {$} is dropped.
func routeKey(pattern string) string {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "GET", pattern
	}
	path = strings.TrimSpace(path)
	if i := strings.Index(path, "/"); i > 0 { // a host in the pattern
		path = path[i:]
	}
	path = strings.TrimSuffix(path, "{$}")
	path = strings.ReplaceAll(path, "...}", "}")
	return strings.ToUpper(method) + " " + path
}

// documentedRoutes lists "METHOD /path" for every operation of doc.
func documentedRoutes(doc map[string]any) []string {
	var out []string
	for p, item := range doc["paths"].(map[string]any) {
		for _, m := range openAPIMethods {
			if _, ok := item.(map[string]any)[m]; ok {
				out = append(out, strings.ToUpper(m)+" "+p)
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	t.Parallel()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpapi.OpenAPI())
	if err != nil {
		t.Fatalf("openapi.json does not load: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi.json is OpenAPI %s; want 3.1", doc.OpenAPI)
	}
	// The examples are checked by TestOpenAPIExamplesFitTheirSchemas with
	// a JSON Schema 2020-12 validator: kin-openapi v0.153's example check
	// rejects null for a schema without a type ("any value"), which 2020-12
	// allows.
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI 3.1 document: %v", err)
	}
	if _, ok := doc.Components.SecuritySchemes["bearerAuth"]; !ok {
		t.Fatal("openapi.json has no bearerAuth security scheme")
	}
}

// consoleOperation reports whether the operation key ("GET /console/session")
// is one of the console's, documented under the tag "console": served only
// when Options.Console is set.
func consoleOperation(doc map[string]any, key string) bool {
	method, path, _ := strings.Cut(key, " ")
	op, _ := doc["paths"].(map[string]any)[path].(map[string]any)[strings.ToLower(method)].(map[string]any)
	tags, _ := op["tags"].([]any)
	return slices.Contains(tags, any("console"))
}

// The console's routes (its page, assets and session endpoints) are not
// JSON API but they are served by the same handler, so they are
// documented too (public, text/html etc., tag "console"). They are served
// only when Options.Console is set: with it every documented operation
// must be served; without it every one but the console's.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	t.Parallel()
	for _, console := range []bool{false, true} {
		t.Run(fmt.Sprintf("console=%v", console), func(t *testing.T) {
			t.Parallel()
			e := newAPI(t, apiOptions{noWorker: true, console: console}) // with a Metrics handler: every route
			served := map[string]string{}
			for _, p := range e.handler.Routes() {
				served[routeKey(p)] = p
			}
			doc := openAPIDoc(t)
			documented := documentedRoutes(doc)
			for _, key := range slices.Sorted(maps.Keys(served)) {
				if !slices.Contains(documented, key) {
					method, path, _ := strings.Cut(key, " ")
					t.Errorf("route %q (pattern %q) is served but not documented: add paths[%q].%s to adapters/httpapi/openapi.json (parameters, request body, responses with examples, security)",
						key, served[key], path, strings.ToLower(method))
				}
			}
			for _, key := range documented {
				if _, ok := served[key]; !ok && (console || !consoleOperation(doc, key)) {
					t.Errorf("openapi.json documents %q but the handler serves no such route (remove it or register it)", key)
				}
				if _, ok := served[key]; ok && !console && consoleOperation(doc, key) {
					t.Errorf("%q is tagged console but served without the console", key)
				}
			}
		})
	}
}

// schemaSet compiles schemas at JSON pointers of the document (JSON
// Schema 2020-12, formats asserted).
type schemaSet struct {
	c     *jsonschema.Compiler
	cache map[string]*jsonschema.Schema
}

const docURL = "mem:///openapi.json"

func newSchemaSet(t *testing.T) *schemaSet {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(httpapi.OpenAPI()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(docURL, doc); err != nil {
		t.Fatal(err)
	}
	return &schemaSet{c: c, cache: map[string]*jsonschema.Schema{}}
}

func pointer(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString("/" + strings.ReplaceAll(strings.ReplaceAll(p, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

// validate checks v against the schema at ptr.
func (s *schemaSet) validate(ptr string, v any) error {
	sch, ok := s.cache[ptr]
	if !ok {
		var err error
		if sch, err = s.c.Compile(docURL + "#" + ptr); err != nil {
			return fmt.Errorf("schema %s does not compile: %w", ptr, err)
		}
		s.cache[ptr] = sch
	}
	return sch.Validate(v)
}

// resolve follows a local $ref ("#/components/responses/NotFound") and
// returns the object and its JSON pointer.
func resolve(doc map[string]any, v map[string]any, ptr string) (map[string]any, string) {
	for {
		ref, ok := v["$ref"].(string)
		if !ok {
			return v, ptr
		}
		ptr = strings.TrimPrefix(ref, "#")
		var cur any = doc
		for _, p := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
			p = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
			cur = cur.(map[string]any)[p]
		}
		v = cur.(map[string]any)
	}
}

// mediaTypes visits every media type object of the document (request
// bodies and responses, refs resolved) with its pointer and what it is.
func mediaTypes(doc map[string]any, visit func(what, ptr string, mt map[string]any)) {
	for p, item := range doc["paths"].(map[string]any) {
		for _, m := range openAPIMethods {
			op, ok := item.(map[string]any)[m].(map[string]any)
			if !ok {
				continue
			}
			opPtr := pointer("paths", p, m)
			if rb, ok := op["requestBody"].(map[string]any); ok {
				rb, ptr := resolve(doc, rb, opPtr+pointer("requestBody"))
				for ct, mt := range rb["content"].(map[string]any) {
					visit(fmt.Sprintf("%s %s request body (%s)", strings.ToUpper(m), p, ct), ptr+pointer("content", ct), mt.(map[string]any))
				}
			}
			for status, r := range op["responses"].(map[string]any) {
				r, ptr := resolve(doc, r.(map[string]any), opPtr+pointer("responses", status))
				content, _ := r["content"].(map[string]any)
				for ct, mt := range content {
					visit(fmt.Sprintf("%s %s response %s (%s)", strings.ToUpper(m), p, status, ct), ptr+pointer("content", ct), mt.(map[string]any))
				}
			}
		}
	}
}

func TestOpenAPIExamplesFitTheirSchemas(t *testing.T) {
	t.Parallel()
	doc := openAPIDoc(t)
	schemas := newSchemaSet(t)
	n := 0
	mediaTypes(doc, func(what, ptr string, mt map[string]any) {
		if _, ok := mt["schema"]; !ok {
			t.Errorf("%s has no schema", what)
			return
		}
		var examples []any
		if ex, ok := mt["example"]; ok {
			examples = append(examples, ex)
		}
		if exs, ok := mt["examples"].(map[string]any); ok {
			for _, ex := range exs {
				examples = append(examples, ex.(map[string]any)["value"])
			}
		}
		if len(examples) == 0 && strings.Contains(what, "application/json") && !strings.HasPrefix(what, "GET /v1/openapi.json") {
			t.Errorf("%s has no example", what)
		}
		for _, ex := range examples {
			n++
			// Through JSON, so numbers are json.Number as the validator wants.
			raw, _ := json.Marshal(ex)
			v, _ := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			if err := schemas.validate(ptr+"/schema", v); err != nil {
				t.Errorf("the example of %s does not fit its schema: %v", what, err)
			}
		}
	})
	if n < 20 {
		t.Fatalf("only %d examples checked", n)
	}
}

// apiCall is one request of the seeded server.
type apiCall struct {
	method, path, body string
}

// matchOperation finds the documented path template of a request path:
// the one that matches with the most literal segments.
func matchOperation(doc map[string]any, method, path string) (string, map[string]any) {
	segs := strings.Split(path, "/")
	best, bestLit := "", -1
	var bestOp map[string]any
	for tmpl, item := range doc["paths"].(map[string]any) {
		op, ok := item.(map[string]any)[strings.ToLower(method)].(map[string]any)
		if !ok {
			continue
		}
		ts := strings.Split(tmpl, "/")
		if len(ts) != len(segs) {
			continue
		}
		lit := 0
		match := true
		for i := range ts {
			switch {
			case strings.HasPrefix(ts[i], "{") && strings.HasSuffix(ts[i], "}") && segs[i] != "":
			case ts[i] == segs[i]:
				lit++
			default:
				match = false
			}
		}
		if match && lit > bestLit {
			best, bestLit, bestOp = tmpl, lit, op
		}
	}
	return best, bestOp
}

func TestOpenAPIRealResponsesFitTheDocument(t *testing.T) {
	t.Parallel()
	e := newAPI(t, apiOptions{token: "s3cret", console: true})
	doc := openAPIDoc(t)
	schemas := newSchemaSet(t)

	// Seed: a waiting run with a pending signal, a failed run (a dead
	// letter), a finished one and a step of it, a second dead letter to
	// replay, a failed run to reset. Schedules and queues are made by the
	// calls themselves (create, then read and change).
	waiting := e.dispatch("api.approve", `{"order":1}`)
	e.want(e.do("POST", "/v1/executions/"+waiting+"/signals/note", `{"n":1}`), http.StatusAccepted, "")
	e.want(e.do("POST", "/v1/executions/"+waiting+"/signals/note", `2`), http.StatusAccepted, "")
	failed := e.dispatch("api.fail", `null`)
	e.result(failed)
	done := e.dispatch("api.echo", `{"ok":true}`)
	e.result(done)
	r := e.do("GET", "/v1/dead-letters?execution_id="+failed, "")
	dl := r.body["dead_letters"].([]any)[0].(map[string]any)["task_id"].(string)
	failed2 := e.dispatch("api.fail", `null`)
	e.result(failed2)
	r = e.do("GET", "/v1/dead-letters?execution_id="+failed2, "")
	dl2 := r.body["dead_letters"].([]any)[0].(map[string]any)["task_id"].(string)
	toReset := e.dispatch("api.fail", `null`)
	e.result(toReset)
	r = e.do("GET", "/v1/executions/"+done, "")
	step := r.body["progress"].([]any)[0].(map[string]any)["task_id"].(string)
	// A rate-limited run leaves its start in the window (GET /v1/limits).
	e.result(e.dispatch("api.limited", `"c7"`))
	// The console's login posts a form.
	headers := map[string][]string{"/console/login": {"Content-Type", "application/x-www-form-urlencoded"}}

	calls := []apiCall{
		{"GET", "/healthz", ""},
		{"GET", "/readyz", ""},
		{"GET", "/metrics", ""},
		{"GET", "/v1/openapi.json", ""},
		{"POST", "/v1/executions", `{"function":"api.approve","input":null,"idempotency_key":"k-1"}`},
		{"POST", "/v1/executions", `{"function":"api.approve","input":null,"idempotency_key":"k-1"}`},
		{"POST", "/v1/executions", `{"function":"nope"}`},
		{"POST", "/v1/executions", `{"function":"api.echo","input":"` + strings.Repeat("x", 5000) + `"}`},
		{"GET", "/v1/executions?limit=1", ""},
		{"GET", "/v1/executions?limit=0", ""},
		{"GET", "/v1/executions?state=running,failed&function=api.fail&queue=default", ""},
		{"GET", "/v1/executions/" + waiting, ""},
		{"GET", "/v1/executions/" + failed, ""},
		{"GET", "/v1/executions/" + done, ""},
		{"GET", "/v1/executions/missing", ""},
		{"GET", "/v1/executions/" + done + "/result", ""},
		{"GET", "/v1/executions/" + failed + "/result", ""},
		{"GET", "/v1/executions/" + waiting + "/result", ""},
		{"GET", "/v1/executions/" + waiting + "/result?wait=forever", ""},
		{"GET", "/v1/executions/" + waiting + "/signals?limit=1", ""},
		{"GET", "/v1/executions/" + waiting + "/signals?cursor=bad!", ""},
		{"POST", "/v1/executions/" + waiting + "/signals/note", `{"n":3}`},
		{"POST", "/v1/executions/" + done + "/signals/note", `1`},
		{"DELETE", "/v1/executions/" + waiting + "/signals/note/1", ""},
		{"DELETE", "/v1/executions/" + waiting + "/signals/note/1", ""},
		{"DELETE", "/v1/executions/" + waiting + "/signals/note/0", ""},
		{"GET", "/v1/dead-letters?limit=1", ""},
		{"GET", "/v1/dead-letters/" + dl, ""},
		{"GET", "/v1/dead-letters/missing", ""},
		{"POST", "/v1/dead-letters/" + dl2 + "/replay", `{"keep_attempts":true}`},
		{"POST", "/v1/dead-letters/missing/replay", ""},
		{"POST", "/v1/dead-letters/replay-all?function=nothing-here", `{}`},
		{"POST", "/v1/dead-letters/replay-all", `{"bogus":1}`},
		{"DELETE", "/v1/dead-letters/" + dl, ""},
		{"DELETE", "/v1/dead-letters/" + dl, ""},
		{"GET", "/v1/stats", ""},
		{"GET", "/v1/stats/throughput", ""},
		{"GET", "/v1/stats/throughput?window=10m&bucket=30s", ""},
		{"GET", "/v1/stats/throughput?window=1h&bucket=7m", ""},
		{"GET", "/v1/stats/throughput?window=soon", ""},
		{"GET", "/v1/executions?tag=a&tag=b&id_prefix=01&text=sku&created_from=2030-01-01T00:00:00Z&created_before=2031-01-01T00:00:00%2B01:00", ""},
		{"GET", "/v1/executions?created_from=yesterday", ""},
		{"GET", "/v1/executions?text=%00", ""},
		{"GET", "/v1/workers?limit=1", ""},
		{"GET", "/v1/workers?state=zombie", ""},
		{"POST", "/v1/executions/" + waiting + "/cancel", ""},
		{"POST", "/v1/executions/missing/cancel", ""},
		{"POST", "/v1/executions", `{"function":"api.v2","input":1}`},
		{"GET", "/v1/executions?version=v2", ""},
		{"POST", "/v1/executions", `{"function":"api.approve","singleton_key":"one"}`},
		{"POST", "/v1/executions", `{"function":"api.approve","singleton_key":"one"}`},
		{"POST", "/v1/executions", `{"function":"api.echo","input":2,"debounce_key":"d","debounce":"1h"}`},
		{"POST", "/v1/executions", `{"function":"api.echo","input":3,"debounce_key":"d","debounce":"1h"}`},
		{"POST", "/v1/executions", `{"function":"api.echo","debounce_key":"d"}`},
		{"GET", "/v1/executions/" + done + "/tasks/" + step, ""},
		{"GET", "/v1/executions/" + waiting + "/tasks/" + step, ""},
		{"POST", "/v1/executions/" + done + "/fork", `{"from_step":1,"input":{"again":true}}`},
		{"POST", "/v1/executions/" + done + "/fork", `{"from_step":0}`},
		{"POST", "/v1/executions/missing/fork", `{"from_step":1}`},
		{"POST", "/v1/executions/" + toReset + "/reset", `{"from_step":1}`},
		{"POST", "/v1/executions/" + done + "/reset", `{"from_step":1}`},
		{"POST", "/v1/executions/" + toReset + "/reset", `{"from_step":1,"input":1}`},
		{"POST", "/v1/executions/missing/reset", `{"from_step":1}`},
		{"POST", "/v1/schedules", `{"name":"nightly","cron":"0 3 * * *","time_zone":"Europe/Paris","function":"api.echo","input":{"n":1},"catch_up":"all:3","overlap":"queue_one"}`},
		{"POST", "/v1/schedules", `{"name":"nightly","cron":"@daily","function":"api.echo"}`},
		{"POST", "/v1/schedules", `{"name":"other","cron":"61 * * * *","function":"api.echo"}`},
		{"POST", "/v1/schedules", `{"name":"other","cron":"@daily","function":"nobody"}`},
		{"POST", "/v1/schedules", `{"name":"second","cron":"@hourly","function":"api.echo","paused":true}`},
		{"GET", "/v1/schedules?limit=1", ""},
		{"GET", "/v1/schedules?cursor=bad!", ""},
		{"GET", "/v1/schedules/nightly", ""},
		{"GET", "/v1/schedules/missing", ""},
		{"PUT", "/v1/schedules/nightly", `{"cron":"30 4 * * *","function":"api.echo","input":"x"}`},
		{"PUT", "/v1/schedules/nightly", `{"name":"renamed","cron":"30 4 * * *","function":"api.echo"}`},
		{"PUT", "/v1/schedules/missing", `{"cron":"@daily","function":"api.echo"}`},
		{"POST", "/v1/schedules/nightly/pause", ""},
		{"POST", "/v1/schedules/nightly/resume", ""},
		{"POST", "/v1/schedules/missing/pause", ""},
		{"POST", "/v1/schedules/missing/resume", ""},
		{"POST", "/v1/schedules/nightly/trigger", ""},
		{"POST", "/v1/schedules/missing/trigger", ""},
		{"DELETE", "/v1/schedules/nightly", ""},
		{"DELETE", "/v1/schedules/nightly", ""},
		{"POST", "/v1/queues/held/pause", ""},
		{"POST", "/v1/queues/held/pause", ""},
		{"GET", "/v1/queues?limit=1", ""},
		{"GET", "/v1/limits", ""},
		{"GET", "/v1/limits?limit=0", ""},
		{"GET", "/v1/queues?cursor=bad!", ""},
		{"POST", "/v1/queues/held/resume", ""},
		{"POST", "/v1/queues/bad%01name/pause", ""},
		{"GET", "/", ""},
		{"GET", "/console/assets/app.js", ""},
		{"GET", "/console/assets/style.css", ""},
		{"GET", "/console/assets/favicon.svg", ""},
		{"GET", "/console/assets/missing.js", ""},
		{"GET", "/console/session", ""},
		{"POST", "/console/login", "token=s3cret"},
		{"POST", "/console/login", "token=wrong"},
		{"POST", "/console/logout", ""},
	}
	exercised := map[string]bool{}
	for _, c := range calls {
		tmpl, op := matchOperation(doc, c.method, strings.SplitN(c.path, "?", 2)[0])
		if op == nil {
			t.Errorf("%s %s: no documented operation", c.method, c.path)
			continue
		}
		key := c.method + " " + tmpl
		exercised[key] = true
		hdr := headers[c.path]
		r := e.do(c.method, c.path, c.body, hdr...)
		checkResponse(t, doc, schemas, key, c, r)

		// Without the token: a public operation answers as it did with
		// it, every other one 401 as documented.
		anon := *e
		anon.token = ""
		ra := anon.do(c.method, c.path, c.body, hdr...)
		if sec, ok := op["security"].([]any); ok && len(sec) == 0 {
			if ra.status != r.status {
				t.Errorf("%s is documented public but answered %d without a token and %d with it", key, ra.status, r.status)
			}
		} else {
			if ra.status != http.StatusUnauthorized {
				t.Errorf("%s is documented as needing the bearer token but answered %d without one", key, ra.status)
			}
			checkResponse(t, doc, schemas, key, c, ra)
		}
	}
	for _, key := range documentedRoutes(doc) {
		if !exercised[key] {
			t.Errorf("documented operation %q has no real response checked: add a request for it to TestOpenAPIRealResponsesFitTheDocument", key)
		}
	}
}

// checkResponse fails unless r's status is documented for the operation
// and its JSON body fits that status's schema.
func checkResponse(t *testing.T, doc map[string]any, schemas *schemaSet, key string, c apiCall, r reply) {
	t.Helper()
	method, tmpl, _ := strings.Cut(key, " ")
	opPtr := pointer("paths", tmpl, strings.ToLower(method))
	op := doc["paths"].(map[string]any)[tmpl].(map[string]any)[strings.ToLower(method)].(map[string]any)
	status := fmt.Sprint(r.status)
	resp, ok := op["responses"].(map[string]any)[status].(map[string]any)
	if !ok {
		t.Errorf("%s %s answered %d, which %s does not document: %s", c.method, shortPath(c.path), r.status, key, shorten(r.raw))
		return
	}
	resp, ptr := resolve(doc, resp, opPtr+pointer("responses", status))
	ct := strings.TrimSpace(strings.Split(r.header.Get("Content-Type"), ";")[0])
	content, _ := resp["content"].(map[string]any)
	if _, ok := content[ct]; !ok {
		t.Errorf("%s %s answered %d with Content-Type %q; documented: %v", c.method, shortPath(c.path), r.status, ct, keysOf(content))
		return
	}
	if ct != "application/json" {
		return
	}
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(r.raw))
	if err != nil {
		t.Errorf("%s %s: body is not JSON: %v", c.method, shortPath(c.path), err)
		return
	}
	if err := schemas.validate(ptr+pointer("content", ct, "schema"), v); err != nil {
		t.Errorf("%s %s answered %d with a body that does not fit the documented schema: %v\nbody: %s", c.method, shortPath(c.path), r.status, err, shorten(r.raw))
	}
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func shorten(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

func shortPath(p string) string {
	if u, err := url.Parse(p); err == nil && len(u.RawQuery) > 80 {
		return u.Path + "?..."
	}
	return shorten(p)
}

func TestOpenAPIIsServedWithoutAToken(t *testing.T) {
	t.Parallel()
	e := newAPI(t, apiOptions{token: "s3cret", noWorker: true})
	anon := *e
	anon.token = ""
	r := anon.do("GET", "/v1/openapi.json", "")
	e.want(r, http.StatusOK, "")
	if r.body["openapi"] != "3.1.0" || !bytes.Equal([]byte(r.raw), httpapi.OpenAPI()) {
		t.Fatalf("GET /v1/openapi.json answered %.200s; want the embedded document", r.raw)
	}
}
