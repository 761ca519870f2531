package stentfx_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/stenthq/stent/adapters/httpapi"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/stentfx"
)

// TestTheModuleNeverReadsTheProgramsFlags runs Module with its own
// configuration (from the environment) in a program whose command line
// holds flags Stent does not know.
func TestTheModuleNeverReadsTheProgramsFlags(t *testing.T) {
	// Not parallel: it sets os.Args and the environment.
	saved := os.Args
	os.Args = []string{"myservice", "--port", "9090", "--verbose"}
	t.Cleanup(func() { os.Args = saved })
	t.Setenv("STENT_DB", filepath.Join(t.TempDir(), "env.sqlite"))
	t.Setenv("STENT_MAX_CONCURRENCY", "3")

	var cfg stentfx.Config
	fxApp := fxtest.New(t, stentfx.Module, fx.Supply(&stentfx.LogWriter{Writer: io.Discard}), fx.Populate(&cfg))
	if err := fxApp.Err(); err != nil {
		t.Fatalf("the program's own flags broke the module: %v", err)
	}
	if cfg.MaxConcurrency != 3 || !strings.HasSuffix(cfg.DB, "env.sqlite") {
		t.Fatalf("the environment was not read: %+v", cfg)
	}
}

func TestTheHTTPServerIsAnOptionNotASideEffect(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	var srv *httpapi.Server
	bare := fx.New(stentfx.Module, fx.Replace(cfg), fx.Supply(&stentfx.LogWriter{Writer: io.Discard}), fx.Populate(&srv))
	if bare.Err() == nil {
		t.Fatal("Module alone provides an HTTP server; want none without WithHTTP")
	}

	fxApp := fxtest.New(t, stentfx.Module, stentfx.WithHTTP("127.0.0.1:0"), fx.Replace(cfg),
		fx.Supply(&stentfx.LogWriter{Writer: io.Discard}), fx.Populate(&srv))
	fxApp.RequireStart()
	defer fxApp.RequireStop()
	if code, _ := get(t, "http://"+srv.Addr()+"/healthz"); code != 200 {
		t.Fatalf("/healthz on the WithHTTP address: %d", code)
	}
}

func TestTheStopTimeoutIsLongerThanTheDrain(t *testing.T) {
	t.Parallel()
	fxApp := fx.New(stentfx.Module, fx.Replace(testConfig(t)), fx.Supply(&stentfx.LogWriter{Writer: io.Discard}))
	if err := fxApp.Err(); err != nil {
		t.Fatal(err)
	}
	drain := stentfx.DefaultConfig().ShutdownTimeout
	if got := fxApp.StopTimeout(); got <= drain || got != stentfx.DefaultStopTimeout {
		t.Fatalf("fx stop timeout %s; want %s, longer than the %s drain", got, stentfx.DefaultStopTimeout, drain)
	}
}

// doubler is a user's own service built by fx from a typed handle.
type doubler struct {
	eng *app.Engine
	fn  *app.Function[int, int]
}

func (d *doubler) Double(ctx context.Context, n int) (int, error) {
	id, err := d.fn.Dispatch(ctx, d.eng, n)
	if err != nil {
		return 0, err
	}
	return d.fn.Await(ctx, d.eng, id)
}

func TestTypedHandlesAreProvidedToTheUsersConstructors(t *testing.T) {
	t.Parallel()
	var svc *doubler
	fxApp := fxtest.New(t, stentfx.Module, fx.Replace(testConfig(t)), fx.Supply(&stentfx.LogWriter{Writer: io.Discard}),
		stentfx.Function("fx.double", func(_ context.Context, n int) (int, error) { return 2 * n, nil }),
		fx.Provide(func(eng *app.Engine, fn *app.Function[int, int]) *doubler { return &doubler{eng: eng, fn: fn} }),
		fx.Populate(&svc))
	fxApp.RequireStart()
	defer fxApp.RequireStop()
	if svc.fn == nil || svc.fn.Name() != "fx.double" {
		t.Fatalf("the handle given to the constructor is %+v", svc.fn)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if got, err := svc.Double(ctx, 21); err != nil || got != 42 {
		t.Fatalf("Double(21) = %d, %v; want 42", got, err)
	}
}

func TestCORSAndInsecureSettings(t *testing.T) {
	t.Parallel()
	env := map[string]string{"STENT_CORS_ORIGINS": "https://a.example, http://b.example:8080/", "STENT_HTTP_ADDR": "0.0.0.0:8080",
		"STENT_INSECURE_NO_AUTH": "true"}
	cfg, err := stentfx.LoadConfig(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.CORSOrigins, " ") != "https://a.example http://b.example:8080" || !cfg.InsecureNoAuth {
		t.Fatalf("config %+v", cfg)
	}
	if def := stentfx.DefaultConfig(); len(def.CORSOrigins) != 0 || def.InsecureNoAuth {
		t.Fatalf("CORS or no-auth on by default: %+v", def)
	}
	if _, err := stentfx.LoadConfig([]string{"--http-addr=0.0.0.0:8080"}, nil); err == nil || !strings.Contains(err.Error(), "STENT_INSECURE_NO_AUTH") {
		t.Fatalf("a non-loopback address without a token: %v", err)
	}
	if _, err := stentfx.LoadConfig([]string{"--http-addr=0.0.0.0:8080", "--http-token=t"}, nil); err != nil {
		t.Fatalf("with a token: %v", err)
	}
}
