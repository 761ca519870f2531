package cli_test

import (
	"context"
	"encoding/json"
	"github.com/stenthq/stent/adapters/clock"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/ports"
	"github.com/stenthq/stent/replay"
)

// orderRegistry registers "order" as deployed: v1 reserves then charges;
// v2 inserts a receipt between them without a patch marker.
func orderRegistry(v string) *app.Registry {
	reg := app.NewRegistry()
	step := func(name string) *app.Function[string, string] {
		return app.Register(reg, name, func(ctx context.Context, in string) (string, error) { return name + ":" + in, nil })
	}
	reserve, charge, receipt := step("reserve"), step("charge"), step("receipt")
	app.Register(reg, "order", func(ctx context.Context, in string) (string, error) {
		if _, err := reserve.Call(ctx, in); err != nil {
			return "", err
		}
		if v == "v2" {
			if _, err := receipt.Call(ctx, in); err != nil {
				return "", err
			}
		}
		return charge.Call(ctx, in)
	})
	return reg
}

// runOrder records one finished execution "order-1" of v1 in st.
func runOrder(t *testing.T, st ports.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	eng, err := app.New(app.Deps{Store: st, Registry: orderRegistry("v1")}, app.Config{})
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = eng.Serve(sctx, app.WorkerOptions{PollInterval: 5 * time.Millisecond}) }()
	defer func() { stop(); <-done; _ = eng.Close() }()
	id, err := eng.DispatchByName(ctx, "order", []byte(`"o1"`), app.WithExecutionID("order-1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.WaitFor(ctx, id); err != nil {
		t.Fatal(err)
	}
}

// TestGoldenReplayAndExport: export writes the history as JSON; replay
// reports an unchanged workflow clean and names the diverging call of an
// unguarded insertion (exit 1); without the function registered it says
// so.
func TestGoldenReplayAndExport(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dsn, st := b.newDB(t)
			runOrder(t, st)
			h := &harness{dsn: dsn, st: st, clock: clock.NewFake(cliNow)}
			cases := []struct {
				name string
				c    call
			}{
				{"export", args("export", "order-1")},
				{"export-unknown", args("export", "no-such-execution")},
				{"replay-clean", call{args: []string{"replay", "order-1"}, reg: orderRegistry("v1")}},
				{"replay-diverged", call{args: []string{"replay", "--function", "order"}, reg: orderRegistry("v2")}},
				{"replay-diverged-json", call{args: []string{"--json", "replay", "--last", "5"}, reg: orderRegistry("v2")}},
				{"replay-unregistered", args("replay", "order-1")},
				{"replay-no-target", call{args: []string{"replay"}, reg: orderRegistry("v1")}},
			}
			for _, c := range cases {
				checkGolden(t, b, c.name, h.normalise(render(h.exec(t, c.c))))
			}
			// -o writes the file; it reads back as a History that replays clean.
			path := filepath.Join(t.TempDir(), "order-1.json")
			if r := h.run(t, "export", "order-1", "-o", path); r.code != 0 || r.stdout != "" {
				t.Fatalf("export -o: %+v", r)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var hist replay.History
			if err := json.Unmarshal(raw, &hist); err != nil || hist.Function != "order" || len(hist.Steps) != 2 {
				t.Fatalf("%v %s", err, raw)
			}
			reps, err := replay.ReplayDir(context.Background(), orderRegistry("v1"), filepath.Dir(path))
			if err != nil || len(reps) != 1 || !reps[0].OK() {
				t.Fatalf("%+v %v", reps, err)
			}
			if !strings.Contains(string(raw), `"charge"`) {
				t.Fatalf("%s", raw)
			}
		})
	}
}
