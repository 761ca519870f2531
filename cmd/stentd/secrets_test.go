package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stenthq/stent/internal/testenv"
)

// The known password: two words, a quote inside. Every output of a run
// is searched for each of its parts.
const (
	secretA = "S3cretWord"
	secretB = "Pa55phrase"
)

var secretParts = []string{secretA, secretB, url.QueryEscape(secretA + " " + secretB)}

// secretDSNs returns the test database as a URL and as a key=value DSN,
// both carrying the known password (the server's trust authentication
// ignores it), and the same two pointing at a closed port.
func secretDSNs(t *testing.T) (reachable, unreachable map[string]string) {
	t.Helper()
	// Schemas of their own, dropped at cleanup: a fixed name would be
	// shared by parallel runs and left behind by an interrupted one.
	raw, urlSchema := testenv.PostgresSchema(t, "secrets_url_")
	_, kvSchema := testenv.PostgresSchema(t, "secrets_kv_")
	cfg, err := pgx.ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	pw := secretA + " " + secretB + "'s"
	u := &url.URL{Scheme: "postgres", User: url.UserPassword(cfg.User, pw), Host: fmt.Sprintf("%s:%d", cfg.Host, cfg.Port),
		Path: "/" + cfg.Database, RawQuery: "sslmode=disable&search_path=" + urlSchema}
	kv := func(port int) string {
		return fmt.Sprintf(`host=%s port=%d user=%s password='%s\'s' dbname=%s sslmode=disable search_path=%s`,
			cfg.Host, port, cfg.User, secretA+" "+secretB, cfg.Database, kvSchema)
	}
	closed := *u
	closed.Host = cfg.Host + ":1"
	return map[string]string{"url": u.String(), "key=value": kv(int(cfg.Port))},
		map[string]string{"url": closed.String() + "&connect_timeout=1", "key=value": kv(1) + " connect_timeout=1"}
}

func assertNoSecret(t *testing.T, what, out string) {
	t.Helper()
	for _, p := range secretParts {
		if strings.Contains(out, p) {
			t.Errorf("%s shows the password (%q):\n%s", what, p, out)
		}
	}
}

// TestThePasswordNeverShows runs stentd and the stent CLI with a known
// database password, in both DSN forms, through a normal run, an
// unreachable database and a malformed DSN, and searches every log line,
// error, /readyz body and CLI output for it.
func TestThePasswordNeverShows(t *testing.T) {
	t.Parallel()
	reachable, unreachable := secretDSNs(t)
	for form, dsn := range reachable {
		t.Run("stentd on a "+form+" DSN", func(t *testing.T) {
			t.Parallel()
			logs := newLogWatch()
			sigs := make(chan os.Signal, 2)
			base, _, codes := started(t, testEnv(t, map[string]string{"STENT_DB": dsn, "STENT_NOTIFIER": "postgres"}), sigs, logs)
			var bodies strings.Builder
			for _, path := range []string{"/readyz", "/v1/executions/nope", "/v1/stats", "/metrics"} {
				resp, err := http.Get(base + path)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				bodies.WriteString(path + ": " + string(b) + "\n")
			}
			sigs <- syscall.SIGTERM
			if code := <-codes; code != 0 {
				t.Fatalf("exit %d; log:\n%s", code, logs.String())
			}
			if !strings.Contains(logs.String(), "password=xxxxx") && !strings.Contains(logs.String(), ":xxxxx@") {
				t.Errorf("the log never shows the masked DSN:\n%s", logs.String())
			}
			assertNoSecret(t, "the stentd log", logs.String())
			assertNoSecret(t, "the HTTP answers", bodies.String())
		})
	}
	for form, dsn := range unreachable {
		t.Run("stentd on an unreachable "+form+" DSN", func(t *testing.T) {
			t.Parallel()
			logs := newLogWatch()
			listening := logs.Seen("http server listening")
			retrying := logs.Seen("store unreachable; retrying")
			codes := make(chan int, 1)
			var srvAddr string
			go func() {
				codes <- run(nil, testEnv(t, map[string]string{"STENT_DB": dsn, "STENT_STARTUP_TIMEOUT": "3s"}), logs, make(chan os.Signal))
			}()
			waitOrFail(t, listening, "the listener", logs)
			waitOrFail(t, retrying, "a retry", logs)
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, "http server listening") {
					_, after, _ := strings.Cut(line, "addr=")
					srvAddr, _, _ = strings.Cut(after, " ")
				}
			}
			var readyz string
			if resp, err := http.Get("http://" + srvAddr + "/readyz"); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				readyz = string(b)
			}
			if code := <-codes; code != 1 {
				t.Fatalf("exit %d; want 1; log:\n%s", code, logs.String())
			}
			assertNoSecret(t, "the stentd log", logs.String())
			assertNoSecret(t, "/readyz", readyz)
		})
		t.Run("stentd on a malformed "+form+" DSN", func(t *testing.T) {
			t.Parallel()
			bad := strings.Replace(strings.Replace(dsn, "port=1 ", "port=notaport ", 1), ":1/", ":notaport/", 1)
			var stderr bytes.Buffer
			if code := run(nil, testEnv(t, map[string]string{"STENT_DB": bad}), &stderr, nil); code != 2 {
				t.Fatalf("exit %d; want 2; stderr:\n%s", code, stderr.String())
			}
			if strings.Count(stderr.String(), "\n") != 1 || !strings.Contains(stderr.String(), "malformed PostgreSQL DSN") {
				t.Errorf("want one line naming the malformed DSN; got:\n%s", stderr.String())
			}
			assertNoSecret(t, "stderr", stderr.String())
		})
	}
	t.Run("the stent CLI", func(t *testing.T) {
		if testing.Short() {
			t.Skip("builds the CLI (skipped with -short)")
		}
		t.Parallel()
		stent, err := build(t, goTool(t), t.TempDir(), "./cmd/stent", "stent")
		if err != nil {
			t.Fatal(err)
		}
		var all []string
		for _, dsns := range []map[string]string{reachable, unreachable} {
			for _, dsn := range dsns {
				bad := strings.Replace(strings.Replace(dsn, "port=1 ", "port=notaport ", 1), ":1/", ":notaport/", 1)
				for _, args := range [][]string{
					{"--db", dsn, "migrate"}, {"--db", dsn, "migrate", "--status"}, {"--db", dsn, "stats"},
					{"--db", dsn, "show", "nope"}, {"--db", bad, "stats"},
				} {
					ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
					cmd := exec.CommandContext(ctx, stent, append([]string{"--no-color"}, args...)...)
					cmd.Env = processEnv()
					out, _ := cmd.CombinedOutput()
					cancel()
					all = append(all, strings.Join(args[2:], " ")+": "+string(out))
				}
			}
		}
		assertNoSecret(t, "the CLI's output", strings.Join(all, "\n"))
	})
}
