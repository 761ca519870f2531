package stentfx_test

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/stenthq/stent/adapters/localwake"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/ports"
	"github.com/stenthq/stent/stentfx"
)

// wakeApp runs WakeModule over an in-process notifier with cfg and
// returns the notifier the rest of the service would get.
func wakeApp(t *testing.T, cfg stentfx.Config) (*fxtest.App, ports.Notifier) {
	t.Helper()
	var n ports.Notifier
	a := fxtest.New(t,
		fx.Supply(cfg),
		fx.Supply(slog.New(slog.DiscardHandler)),
		fx.Provide(func() ports.Notifier { return app.NewLocalNotifier() }),
		stentfx.WakeModule,
		fx.Populate(&n),
	)
	return a, n
}

func TestOnSQLiteTheServiceListensForCLIWakeUps(t *testing.T) {
	t.Parallel()
	cfg := stentfx.DefaultConfig()
	cfg.DB = filepath.Join(t.TempDir(), "wake.sqlite")
	a, n := wakeApp(t, cfg)
	a.RequireStart()
	l, ok := n.(*localwake.Listener)
	if !ok {
		a.RequireStop()
		t.Fatalf("the notifier on SQLite is %T; want a *localwake.Listener", n)
	}
	if _, err := os.Stat(l.File()); err != nil {
		t.Errorf("no wake file beside the database while running: %v", err)
	}
	a.RequireStop()
	if _, err := os.Stat(l.File()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the wake file outlived the service (%v)", err)
	}
}

func TestWithASharedNotifierThereIsNothingToListenFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		set  func(*stentfx.Config)
	}{
		{"PostgreSQL", func(c *stentfx.Config) { c.DB = "postgres://stent@127.0.0.1:1/stent" }},
		{"Redis", func(c *stentfx.Config) { c.RedisURL = "redis://127.0.0.1:1/0" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := stentfx.DefaultConfig()
			cfg.DB = filepath.Join(t.TempDir(), "wake.sqlite")
			tc.set(&cfg)
			a, n := wakeApp(t, cfg)
			a.RequireStart()
			defer a.RequireStop()
			if _, ok := n.(*localwake.Listener); ok {
				t.Errorf("with %s the notifier is wrapped in a loopback listener", tc.name)
			}
		})
	}
}
