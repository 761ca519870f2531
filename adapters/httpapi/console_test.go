package httpapi_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stenthq/stent/adapters/httpapi"
)

// browser is a cookie-holding client without the bearer token, as the
// console's page is.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	jar := &cookieJar{}
	return &browser{t: t, base: base, c: &http.Client{Jar: jar}}
}

// cookieJar is a minimal jar (net/http/cookiejar would do; this keeps the
// raw Set-Cookie attributes visible to the test).
type cookieJar struct{ cookies []*http.Cookie }

func (j *cookieJar) SetCookies(_ *url.URL, cs []*http.Cookie) {
	for _, c := range cs {
		kept := j.cookies[:0]
		for _, o := range j.cookies {
			if o.Name != c.Name {
				kept = append(kept, o)
			}
		}
		j.cookies = kept
		if c.MaxAge >= 0 && c.Value != "" {
			j.cookies = append(j.cookies, c)
		}
	}
}

func (j *cookieJar) Cookies(*url.URL) []*http.Cookie { return j.cookies }

func (b *browser) do(method, path, body string, hdr ...string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base+path, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, string(raw)
}

func (b *browser) login(token string) *http.Response {
	b.t.Helper()
	resp, raw := b.do("POST", "/console/login", url.Values{"token": {token}}.Encode(), "Content-Type", "application/x-www-form-urlencoded")
	if resp.StatusCode == http.StatusOK {
		_, after, _ := strings.Cut(raw, `"csrf":"`)
		b.csrf, _, _ = strings.Cut(after, `"`)
		if b.csrf == "" {
			b.t.Fatalf("login answered no csrf token: %s", raw)
		}
	}
	return resp
}

func wantStatus(t *testing.T, resp *http.Response, raw string, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, raw)
	}
}

func TestConsoleSession(t *testing.T) {
	t.Parallel()
	e := newAPI(t, apiOptions{token: "s3cret", console: true, noWorker: true})
	id := e.dispatch("api.echo", `{"n":1}`)

	t.Run("without a login the API answers 401 and the page still loads", func(t *testing.T) {
		b := newBrowser(t, e.http.URL)
		resp, raw := b.do("GET", "/v1/executions", "")
		wantStatus(t, resp, raw, http.StatusUnauthorized)
		resp, raw = b.do("GET", "/", "")
		wantStatus(t, resp, raw, http.StatusOK)
		if !strings.Contains(raw, "console/assets/app.js") {
			t.Fatalf("the page does not load its script: %s", raw)
		}
	})

	t.Run("a wrong token is refused and sets no cookie", func(t *testing.T) {
		b := newBrowser(t, e.http.URL)
		resp := b.login("nope")
		if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
			t.Fatalf("login with a wrong token: status %d, cookies %v", resp.StatusCode, resp.Cookies())
		}
	})

	t.Run("a login sets an HttpOnly SameSite=Strict cookie that reads the API", func(t *testing.T) {
		b := newBrowser(t, e.http.URL)
		resp := b.login("s3cret")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("login: status %d", resp.StatusCode)
		}
		sc := resp.Header.Get("Set-Cookie")
		for _, want := range []string{httpapi.SessionCookie + "=", "HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="} {
			if !strings.Contains(sc, want) {
				t.Errorf("Set-Cookie %q lacks %q", sc, want)
			}
		}
		if strings.Contains(sc, "s3cret") {
			t.Fatalf("the cookie carries the token itself: %q", sc)
		}
		resp, raw := b.do("GET", "/v1/executions/"+id, "")
		wantStatus(t, resp, raw, http.StatusOK)
		resp, raw = b.do("GET", "/console/session", "")
		wantStatus(t, resp, raw, http.StatusOK)
		if !strings.Contains(raw, `"authenticated":true`) || !strings.Contains(raw, b.csrf) {
			t.Fatalf("session report %s; want authenticated with csrf %q", raw, b.csrf)
		}
	})

	t.Run("a state-changing request with the cookie needs the CSRF header", func(t *testing.T) {
		b := newBrowser(t, e.http.URL)
		b.login("s3cret")
		target := e.dispatch("api.block", `null`)
		resp, raw := b.do("POST", "/v1/executions/"+target+"/cancel", "")
		wantStatus(t, resp, raw, http.StatusForbidden)
		if !strings.Contains(raw, `"forbidden"`) || !strings.Contains(raw, httpapi.CSRFHeader) {
			t.Fatalf("403 body %s does not name the header", raw)
		}
		resp, raw = b.do("POST", "/v1/executions/"+target+"/cancel", "", httpapi.CSRFHeader, b.csrf+"x")
		wantStatus(t, resp, raw, http.StatusForbidden)
		resp, raw = b.do("DELETE", "/v1/dead-letters/nothing", "")
		wantStatus(t, resp, raw, http.StatusForbidden)
		resp, raw = b.do("POST", "/v1/executions/"+target+"/cancel", "", httpapi.CSRFHeader, b.csrf)
		wantStatus(t, resp, raw, http.StatusOK)
		if !strings.Contains(raw, `"cancelled"`) {
			t.Fatalf("cancel answered %s", raw)
		}
	})

	t.Run("another session's CSRF token is refused", func(t *testing.T) {
		a, b := newBrowser(t, e.http.URL), newBrowser(t, e.http.URL)
		a.login("s3cret")
		b.login("s3cret")
		resp, raw := b.do("POST", "/v1/executions", `{"function":"api.echo"}`, httpapi.CSRFHeader, a.csrf)
		wantStatus(t, resp, raw, http.StatusForbidden)
	})

	t.Run("a bearer-token client needs no CSRF header, cookie or not", func(t *testing.T) {
		r := e.do("POST", "/v1/executions", `{"function":"api.echo","input":1}`)
		e.with(t).want(r, http.StatusCreated, "")
		b := newBrowser(t, e.http.URL)
		b.login("s3cret")
		resp, raw := b.do("POST", "/v1/executions", `{"function":"api.echo"}`, "Authorization", "Bearer s3cret")
		wantStatus(t, resp, raw, http.StatusCreated)
	})

	t.Run("a tampered cookie or one signed for another token is refused", func(t *testing.T) {
		b := newBrowser(t, e.http.URL)
		b.login("s3cret")
		jar := b.c.Jar.(*cookieJar)
		good := jar.cookies[0].Value
		jar.cookies[0].Value = good[:len(good)-2] + "AA"
		resp, raw := b.do("GET", "/v1/stats", "")
		wantStatus(t, resp, raw, http.StatusUnauthorized)

		other := newAPI(t, apiOptions{token: "other", console: true, noWorker: true})
		ob := newBrowser(t, other.http.URL)
		ob.login("other")
		jar.cookies[0].Value = ob.c.Jar.(*cookieJar).cookies[0].Value
		resp, raw = b.do("GET", "/v1/stats", "")
		wantStatus(t, resp, raw, http.StatusUnauthorized)
	})

	t.Run("logout clears the cookie", func(t *testing.T) {
		b := newBrowser(t, e.http.URL)
		b.login("s3cret")
		resp, raw := b.do("POST", "/console/logout", "")
		wantStatus(t, resp, raw, http.StatusOK)
		if sc := resp.Header.Get("Set-Cookie"); !strings.Contains(sc, "Max-Age=0") || !strings.Contains(sc, "HttpOnly") {
			t.Fatalf("logout Set-Cookie %q; want an expired cookie", sc)
		}
		resp, raw = b.do("GET", "/v1/stats", "")
		wantStatus(t, resp, raw, http.StatusUnauthorized)
	})
}

func TestConsoleAssets(t *testing.T) {
	t.Parallel()
	e := newAPI(t, apiOptions{console: true, noWorker: true})

	t.Run("every console response carries a strict Content-Security-Policy", func(t *testing.T) {
		for _, p := range []string{"/", "/console/assets/app.js", "/console/assets/style.css", "/console/session"} {
			r := e.do("GET", p, "")
			csp := r.header.Get("Content-Security-Policy")
			if r.status != http.StatusOK || !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe") {
				t.Errorf("GET %s: status %d, CSP %q", p, r.status, csp)
			}
		}
		if ct := e.do("GET", "/console/assets/app.js", "").header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
			t.Errorf("app.js Content-Type %q", ct)
		}
	})

	t.Run("the page loads nothing from outside the server", func(t *testing.T) {
		for _, p := range []string{"/", "/console/assets/app.js", "/console/assets/style.css"} {
			raw := e.do("GET", p, "").raw
			for _, bad := range []string{`src="http`, `href="http`, `src="//`, `href="//`, "url(http", "@import", "fetch(\"http", "fetch(\"/"} {
				if strings.Contains(raw, bad) {
					t.Errorf("%s contains %q", p, bad)
				}
			}
		}
	})

	t.Run("an unknown asset is 404 and a dot path is refused", func(t *testing.T) {
		e.with(t).want(e.do("GET", "/console/assets/nope.js", ""), http.StatusNotFound, "not_found")
		e.with(t).want(e.do("GET", "/console/assets/..%2fconsole.go", ""), http.StatusNotFound, "")
	})

	t.Run("without the token the console needs no login", func(t *testing.T) {
		r := e.do("GET", "/console/session", "")
		if !strings.Contains(r.raw, `"auth_required":false`) || !strings.Contains(r.raw, `"authenticated":true`) {
			t.Fatalf("session %s", r.raw)
		}
	})

	t.Run("the plain API handler serves no console", func(t *testing.T) {
		plain := httptest.NewServer(httpapi.New(e.eng, httpapi.Options{}))
		defer plain.Close()
		r := e.doURL(plain.URL, "GET", "/", "")
		e.with(t).want(r, http.StatusNotFound, "not_found")
	})
}

func TestConsoleUnderAPrefix(t *testing.T) {
	t.Parallel()
	e := newAPI(t, apiOptions{noWorker: true, noHTTP: true})
	mux := http.NewServeMux()
	mux.Handle("/ops/stent/", http.StripPrefix("/ops/stent", httpapi.Console(e.eng, httpapi.Options{Token: "tok"})))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	b := newBrowser(t, srv.URL+"/ops/stent")
	resp := b.login("tok")
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Set-Cookie"), "Path=/ops/stent/") {
		t.Fatalf("login under a prefix: status %d, Set-Cookie %q; want Path=/ops/stent/", resp.StatusCode, resp.Header.Get("Set-Cookie"))
	}
	r, raw := b.do("GET", "/v1/stats", "")
	wantStatus(t, r, raw, http.StatusOK)
	r, raw = b.do("GET", "/", "")
	wantStatus(t, r, raw, http.StatusOK)
}

func TestAPITaskDetail(t *testing.T) {
	t.Parallel()
	e := newAPI(t, apiOptions{})
	id := e.dispatch("api.echo", `{"order":42}`)
	e.want(e.result(id), http.StatusOK, "")
	st := e.do("GET", "/v1/executions/"+id, "")
	root, _ := st.body["root_task_id"].(string)

	t.Run("a step's record has its input and output and no claim token", func(t *testing.T) {
		e := e.with(t)
		r := e.do("GET", "/v1/executions/"+id+"/tasks/"+root, "")
		e.want(r, http.StatusOK, "")
		if !strings.Contains(r.raw, `"input":{"order":42}`) || !strings.Contains(r.raw, `"result":{"order":42}`) {
			t.Fatalf("task %s", r.raw)
		}
		if tok, _ := r.body["claim_token"].(string); tok != "" {
			t.Fatalf("claim token exposed: %s", r.raw)
		}
	})

	t.Run("a task of another execution or an unknown one is 404", func(t *testing.T) {
		e := e.with(t)
		other := e.dispatch("api.echo", `1`)
		e.want(e.do("GET", "/v1/executions/"+other+"/tasks/"+root, ""), http.StatusNotFound, "not_found")
		e.want(e.do("GET", "/v1/executions/"+id+"/tasks/nope", ""), http.StatusNotFound, "not_found")
	})
}
