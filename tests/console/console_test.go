// Package console_test drives the web console in a real headless Chromium
// (Debian's chromium package, through chromedp) against a seeded SQLite
// store: log in, filter, open an execution and read its timeline and wait
// reason, discard a pending signal, cancel it, replay a dead letter, fork
// and reset, pause a queue and a schedule, log out. Every request the page
// makes is recorded: all must go to the test server. Screenshots of each
// page land in tests/console/out/ (not committed).
package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/stenthq/stent/adapters/httpapi"
	"github.com/stenthq/stent/adapters/sqlstore/sqlitestore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
)

const token = "console-test-token"

// chromiumPath finds the browser, or skips (fails under
// STENT_REQUIRE_SERVICES=1: CI installs it).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("STENT_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "the console browser test needs Chromium: apt-get install -y chromium (or set STENT_CHROMIUM to a Chrome/Chromium binary)"
	if os.Getenv("STENT_REQUIRE_SERVICES") == "1" {
		t.Fatal(msg + "; STENT_REQUIRE_SERVICES=1 forbids skipping")
	}
	t.Skip(msg)
	return ""
}

// seeded is an engine with a worker over a SQLite file holding a few
// executions in every interesting state.
type seeded struct {
	eng      *app.Engine
	waiting  string // shop.order waiting for signal "approval"
	sleeping string // shop.nap sleeping for an hour
	deadExec string // shop.flaky: its first attempt was dead-lettered
	shipped  string // shop.ship (version v2), completed in two steps: to fork
	reports  string // shop.echo pending in queue "reports" (no worker serves it), singleton key
	// labelBroken makes shop.label fail (the bug a reset repairs).
	labelBroken atomic.Bool
}

func seed(t *testing.T) *seeded {
	t.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "console.sqlite")})
	if err != nil {
		t.Fatal(err)
	}
	reg := app.NewRegistry()
	charge := app.Register(reg, "shop.charge", func(_ context.Context, cents int) (string, error) {
		time.Sleep(30 * time.Millisecond)
		return fmt.Sprintf("ch_%d", cents), nil
	})
	reserve := app.Register(reg, "shop.reserve", func(_ context.Context, sku string) (int, error) {
		time.Sleep(20 * time.Millisecond)
		return 3, nil
	})
	type order struct {
		ID    string `json:"id"`
		SKU   string `json:"sku"`
		Cents int    `json:"cents"`
	}
	app.Register(reg, "shop.order", func(ctx context.Context, o order) (string, error) {
		if _, err := reserve.Call(ctx, o.SKU); err != nil {
			return "", err
		}
		receipt, err := charge.Call(ctx, o.Cents)
		if err != nil {
			return "", err
		}
		ok, err := app.WaitForSignal[bool](ctx, "approval")
		if err != nil || !ok {
			return "", err
		}
		return receipt, nil
	})
	app.Register(reg, "shop.nap", func(ctx context.Context, _ json.RawMessage) (string, error) {
		return "rested", app.Sleep(ctx, time.Hour)
	})
	var flakyRuns atomic.Int32
	app.Register(reg, "shop.flaky", func(context.Context, string) (string, error) {
		if flakyRuns.Add(1) == 1 {
			return "", app.NewError("carrier_down", "the carrier's API answered 503")
		}
		return "shipped", nil
	}, app.WithRetry(domain.RetryPolicy{MaxAttempts: 1}))
	app.Register(reg, "shop.echo", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil })
	s := &seeded{}
	label := app.Register(reg, "shop.label", func(_ context.Context, parcel string) (string, error) {
		if s.labelBroken.Load() {
			return "", app.NewError("printer_jam", "the label printer rejected "+parcel)
		}
		return "label:" + parcel, nil
	}, app.WithRetry(domain.RetryPolicy{MaxAttempts: 1}))
	app.Register(reg, "shop.ship", func(ctx context.Context, parcel string) (string, error) {
		if _, err := reserve.Call(ctx, parcel); err != nil {
			return "", err
		}
		return label.Call(ctx, parcel)
	}, app.WithVersion("v2"), app.WithRetry(domain.RetryPolicy{MaxAttempts: 1}))

	eng, err := app.New(app.Deps{Store: st, Registry: reg},
		app.Config{PollInterval: 20 * time.Millisecond, PollIntervalMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	w, err := eng.NewWorker(app.WorkerOptions{ID: "console-worker", MaxConcurrency: 8, Queues: []string{domain.DefaultQueue},
		PollInterval: 20 * time.Millisecond, PollIntervalMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	var running sync.WaitGroup
	running.Go(func() { _ = w.Run(runCtx) })
	t.Cleanup(func() {
		dctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = w.Drain(dctx)
		cancel()
		stop()
		running.Wait()
		_ = eng.Close()
		_ = st.Close()
	})
	if err := eng.WaitUntilReady(ctx); err != nil {
		t.Fatal(err)
	}

	s.eng = eng
	dispatch := func(fn string, in any) string {
		raw, _ := json.Marshal(in)
		id, err := eng.DispatchByName(ctx, fn, raw)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	var done []string
	for i := range 6 {
		done = append(done, dispatch("shop.echo", map[string]any{"invoice": 1000 + i}))
	}
	s.deadExec = dispatch("shop.flaky", "parcel-77")
	s.sleeping = dispatch("shop.nap", nil)
	s.waiting = dispatch("shop.order", order{ID: "ord-4711", SKU: "blue-mug", Cents: 1299})
	s.shipped = dispatch("shop.ship", "parcel-12")
	done = append(done, s.shipped)
	// Queue "reports" has pending work no worker claims: one run with a
	// singleton key, one debounced for an hour.
	rep, err := eng.DispatchByName(ctx, "shop.echo", json.RawMessage(`{"report":"daily"}`), app.WithQueue("reports"), app.WithSingleton("daily-report"))
	if err != nil {
		t.Fatal(err)
	}
	s.reports = rep
	if _, err := eng.DispatchByName(ctx, "shop.echo", json.RawMessage(`{"report":"digest"}`), app.WithQueue("reports"), app.WithDebounce("digest", time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, def := range []app.ScheduleDef{
		{Name: "nightly-report", Cron: "0 3 * * *", TimeZone: "Europe/Berlin", Function: "shop.echo", Input: json.RawMessage(`{"report":"nightly"}`)},
		{Name: "weekly-digest", Cron: "@weekly", Function: "shop.echo", Input: json.RawMessage(`{"report":"weekly"}`), Paused: true},
	} {
		if _, err := eng.CreateSchedule(ctx, def); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range done {
		if _, err := eng.WaitFor(ctx, id, app.WithWaitTimeout(10*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := eng.WaitFor(ctx, s.deadExec, app.WithWaitTimeout(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the order to wait for its signal and the nap to sleep", func() bool {
		o, err1 := eng.StateOf(ctx, s.waiting)
		n, err2 := eng.StateOf(ctx, s.sleeping)
		return err1 == nil && err2 == nil && strings.Contains(o.WaitReason, "signal approval") && strings.Contains(n.WaitReason, "sleeping")
	})
	waitFor(t, "the flaky step's dead letter", func() bool {
		st, err := eng.Stats(ctx)
		return err == nil && st.DeadLetters == 1
	})
	return s
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestConsoleInABrowser(t *testing.T) {
	chromium := chromiumPath(t)
	s := seed(t)
	srv := httptest.NewServer(httpapi.Console(s.eng, httpapi.Options{Token: token}))
	defer srv.Close()
	base, _ := url.Parse(srv.URL)

	outDir := "out"
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		t.Fatal(err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.WindowSize(1360, 900),
		chromedp.Flag("lang", "en-GB"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	defer cancelCtx()

	var (
		mu       sync.Mutex
		requests []string
		failures []string
	)
	// Listen starts the browser; every request of the tab is recorded.
	if err := chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			mu.Lock()
			requests = append(requests, e.Request.URL)
			mu.Unlock()
		case *network.EventLoadingFailed:
			mu.Lock()
			failures = append(failures, e.ErrorText)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}

	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			buf, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(outDir, name+".png"), buf, 0o644)
		})
	}
	run := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(rctx, actions...); err != nil {
			// A picture of the page as it was helps more than the timeout.
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			_ = chromedp.Do(sctx, shot("failed"))
			t.Fatalf("%s: %v (the page as it was: %s)", step, err, filepath.Join(outDir, "failed.png"))
		}
	}
	// text reads an element's text.
	text := func(sel string) string {
		t.Helper()
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		s, err := chromedp.Run(rctx, chromedp.Text(css(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	eval := func(js string, opts ...chromedp.EvaluateOption) any {
		t.Helper()
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		v, err := chromedp.Run(rctx, chromedp.Evaluate[any](js, opts...))
		if err != nil {
			t.Fatalf("evaluate %s: %v", js, err)
		}
		return v
	}
	// eventually polls a JavaScript condition.
	eventually := func(what, js string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			ok, err := chromedp.Run(rctx, chromedp.Evaluate[bool](js))
			cancel()
			if err == nil && ok {
				return
			}
			if time.Now().After(deadline) {
				sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_ = chromedp.Do(sctx, shot("failed"))
				cancel()
				t.Fatalf("timed out waiting until %s (%s; last error %v; the page as it was: %s)", what, js, err, filepath.Join(outDir, "failed.png"))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// setValue sets a form field's value as typing would (an input event
	// follows).
	setValue := func(sel, v string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			js := fmt.Sprintf(`(() => { const e = document.querySelector(%s); e.value = %s;
				e.dispatchEvent(new Event("input", {bubbles: true})); return e.value === %[2]s })()`, jsString(sel), jsString(v))
			ok, err := chromedp.Evaluate[bool](js)(ctx, tg)
			if err == nil && !ok {
				err = fmt.Errorf("could not set %s to %q", sel, v)
			}
			return err
		})
	}
	confirm := chromedp.Steps(chromedp.WaitVisible(css("#confirm-yes")), chromedp.Click(css("#confirm-yes")))

	t.Log("log in")
	run("open the login page",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(css("#login-form")),
		shot("01-login"))
	run("a wrong token is refused",
		chromedp.SendKeys(css("#token"), "wrong"),
		chromedp.Click(css("#login-submit")))
	eventually("the login form says the token is wrong", `document.querySelector("#login-error").textContent.includes("wrong token")`)
	run("log in with the token",
		setValue("#token", token),
		chromedp.Click(css("#login-submit")),
		chromedp.WaitVisible(css("#executions")))
	eventually("the live counts show", `document.querySelector("#count-dead-letters") !== null && document.querySelector("#count-dead-letters").textContent === "1"`)
	if eval(`document.cookie.includes("stent_session")`) == true {
		t.Fatal("the page's script can read the session cookie: it must be HttpOnly")
	}
	eventually("the list shows every execution", `document.querySelectorAll("#executions tbody tr").length === 12`)
	run("screenshot the list", shot("02-executions"))

	t.Log("filter")
	run("filter by function",
		setValue(`#exec-filters input[name="function"]`, "shop.order"),
		chromedp.Click(css("#apply-filters")))
	eventually("only the order is listed", `(() => { const r = [...document.querySelectorAll("#executions tbody tr")];
		return r.length === 1 && r[0].dataset.id === `+jsString(s.waiting)+` })()`)
	run("filter by text in the input",
		setValue(`#exec-filters input[name="function"]`, ""),
		setValue(`#exec-filters input[name="q"]`, "1003"),
		chromedp.Click(css("#apply-filters")))
	eventually("the text search finds one invoice", `(() => { const r = [...document.querySelectorAll("#executions tbody tr")];
		return r.length === 1 && r[0].textContent.includes("1003") && document.querySelector("#search-note") !== null })()`)
	run("screenshot the text search", shot("03-search"))
	run("filter by state",
		chromedp.Navigate(srv.URL+"/#/executions?state=failed"),
		chromedp.WaitVisible(css("#executions")))
	eventually("only the failed run is listed", `(() => { const r = [...document.querySelectorAll("#executions tbody tr")];
		return r.length === 1 && r[0].dataset.state === "failed" })()`)
	run("screenshot the state filter", shot("03-filter-failed"))
	run("filter by function again",
		chromedp.Navigate(srv.URL+"/#/executions?function=shop.order"),
		chromedp.WaitVisible(css(`#executions tr[data-id="`+s.waiting+`"] a`)))

	t.Log("open the waiting execution")
	run("open it",
		chromedp.Click(css(`#executions tr[data-id="`+s.waiting+`"] a`)),
		chromedp.WaitVisible(css("#wait-reason")),
		chromedp.WaitVisible(css("#timeline")))
	if got := text("#wait-reason"); !strings.Contains(got, "waiting for signal approval") {
		t.Fatalf("wait reason %q; want it to say it waits for signal approval", got)
	}
	lanes := fmt.Sprint(eval(`[...document.querySelectorAll("#timeline .lane")].map(g => g.dataset.step + ":" + g.dataset.state).join(" ")`))
	for _, w := range []string{"shop.reserve:completed", "shop.charge:completed", "signal:approval:"} {
		if !strings.Contains(lanes, w) {
			t.Fatalf("timeline lanes %q lack %q", lanes, w)
		}
	}
	run("open the charge step",
		chromedp.Click(css(`#timeline .lane[data-step="shop.charge"] rect.bar`)),
		chromedp.WaitVisible(css("#step-detail .step-output")))
	if got := text("#step-detail .step-output"); !strings.Contains(got, "ch_1299") {
		t.Fatalf("the charge step's output reads %q; want ch_1299", got)
	}
	if got := text("#step-detail .step-input"); !strings.Contains(got, "1299") {
		t.Fatalf("the charge step's input reads %q; want 1299", got)
	}
	run("the signal form refuses bad JSON",
		setValue("#signal-name", "approval"),
		setValue("#signal-payload", "{nope"))
	eventually("the send button is disabled with a message", `document.querySelector("#signal-send").disabled &&
		document.querySelector("#signal-json-error").textContent.startsWith("Not valid JSON")`)
	run("screenshot the execution", shot("04-execution"))

	t.Log("discard a pending signal")
	// Two messages of a name the order never waits for: they stay pending
	// in its mailbox. The first (a payload no wait could decode) is
	// discarded from the signals panel; the second stays.
	for _, payload := range []any{map[string]any{"oops": "not a bool"}, "keep me"} {
		if err := s.eng.SendSignal(context.Background(), s.waiting, "note", payload); err != nil {
			t.Fatal(err)
		}
	}
	run("reload the execution", chromedp.Reload(), chromedp.WaitVisible(css("#signals table")))
	firstSignal := "#signals tbody tr:first-child"
	eventually("the signals panel lists both pending messages with a Discard button each", `(() => {
		const r = [...document.querySelectorAll("#signals tbody tr")];
		return r.length === 2 && r.every((x) => x.textContent.includes("pending") && x.querySelector("button") !== null) &&
			r[0].children[1].textContent === "1" && r[0].textContent.includes("oops") })()`)
	run("discard the first",
		chromedp.Click(css(firstSignal+" button")),
		chromedp.WaitVisible(css("#confirm-yes")),
		shot("04b-confirm-discard-signal"),
		confirm)
	eventually("only the second message is left", `(() => { const r = [...document.querySelectorAll("#signals tbody tr")];
		return r.length === 1 && r[0].children[1].textContent === "2" && r[0].textContent.includes("keep me") })()`)
	run("screenshot the signals after the discard", shot("04c-signal-discarded"))
	if sigs, err := s.eng.Signals(context.Background(), s.waiting); err != nil || len(sigs) != 1 || sigs[0].Seq != 2 || sigs[0].ConsumedBy != "" {
		t.Fatalf("after the console's discard the store lists %+v, %v; want only the pending message 2", sigs, err)
	}

	t.Log("cancel it")
	run("cancel", chromedp.Click(css("#cancel")), chromedp.WaitVisible(css("#confirm-yes")), shot("05-confirm-cancel"), confirm)
	eventually("the state shows cancelled", `(() => { const e = document.querySelector("#exec-state"); return e !== null && e.textContent.includes("cancelled") })()`)
	run("screenshot the cancelled execution", shot("06-cancelled"))
	if v, err := s.eng.StateOf(context.Background(), s.waiting); err != nil || v.State != domain.ExecutionCancelled {
		t.Fatalf("after the console's cancel the store says %v, %v", v.State, err)
	}

	t.Log("the sleeping one says until when")
	run("open the nap", chromedp.Navigate(srv.URL+"/#/executions/"+s.sleeping), chromedp.WaitVisible(css("#wait-reason")))
	if got := text("#wait-reason"); !strings.Contains(got, "sleeping until") {
		t.Fatalf("wait reason %q; want sleeping until ...", got)
	}
	run("screenshot the sleeping execution", shot("06-sleeping"))

	t.Log("replay the dead letter")
	run("open the dead letters",
		chromedp.Click(css(`#nav a[data-page="dead-letters"]`)),
		chromedp.WaitVisible(css("#dead-letters button.replay")),
		shot("07-dead-letters"),
		chromedp.Click(css("#dead-letters button.replay")),
		confirm)
	eventually("the dead letter is gone", `document.querySelector("#dead-letters") === null && document.querySelector(".empty") !== null`)
	waitFor(t, "the replayed execution to complete", func() bool {
		v, err := s.eng.StateOf(context.Background(), s.deadExec)
		return err == nil && v.State == domain.ExecutionCompleted
	})
	run("screenshot the empty dead letters", shot("08-dead-letters-empty"))

	t.Log("fork the completed shipment from step 2 with a new input")
	run("open the shipment", chromedp.Navigate(srv.URL+"/#/executions/"+s.shipped), chromedp.WaitVisible(css("#timeline")))
	if got := text("#exec-version"); got != "v2" {
		t.Fatalf("the shipment's version reads %q; want v2", got)
	}
	if eval(`document.querySelector("#reset") === null`) != true {
		t.Fatal("a completed execution offers Reset; only failed, timed-out and cancelled ones may")
	}
	run("open the fork dialog",
		chromedp.Click(css("#fork")),
		chromedp.WaitVisible(css("#repair-step")),
		setValue("#repair-step", "2"),
		setValue("#repair-input", `"parcel-99"`))
	if got := text("#repair-note"); !strings.Contains(got, "#1 shop.reserve") {
		t.Fatalf("the fork dialog's note reads %q; want it to say step #1 shop.reserve is kept", got)
	}
	run("screenshot the fork dialog", shot("12-confirm-fork"), confirm)
	eventually("the new execution's page opens", `(() => { const f = document.querySelector("#forked-from a");
		return f !== null && f.textContent === `+jsString(s.shipped)+` && !location.hash.includes(`+jsString(s.shipped)+`) })()`)
	eventually("the fork completes", `document.querySelector("#exec-state").textContent.includes("completed")`)
	if got := text("#exec-result"); !strings.Contains(got, "label:parcel-99") {
		t.Fatalf("the fork's result reads %q; want label:parcel-99 (step 2 ran again with the new input)", got)
	}
	run("screenshot the fork", shot("13-forked"))
	forkID := strings.TrimPrefix(fmt.Sprint(eval(`decodeURIComponent(location.hash)`)), "#/executions/")
	if v, err := s.eng.StateOf(context.Background(), forkID); err != nil || v.ForkedFrom != s.shipped {
		t.Fatalf("the store's fork %q: forked_from %q, %v; want %s", forkID, v.ForkedFrom, err, s.shipped)
	}

	t.Log("reset a failed shipment from step 2 after the fix")
	s.labelBroken.Store(true)
	broken, err := s.eng.DispatchByName(context.Background(), "shop.ship", json.RawMessage(`"parcel-13"`))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the broken shipment to fail", func() bool {
		v, err := s.eng.StateOf(context.Background(), broken)
		return err == nil && v.State == domain.ExecutionFailed
	})
	s.labelBroken.Store(false) // the fix is deployed
	run("open the failed shipment",
		chromedp.Navigate(srv.URL+"/#/executions/"+broken),
		chromedp.WaitVisible(css("#reset")),
		chromedp.Click(css(`#timeline .lane[data-step="shop.label"] text`)),
		chromedp.WaitVisible(css("#step-detail .reset-here")),
		shot("14-failed"),
		chromedp.Click(css("#step-detail .reset-here")),
		chromedp.WaitVisible(css("#repair-step")))
	if got := eval(`document.querySelector("#repair-step").value`); got != "2" {
		t.Fatalf("the reset dialog from the step panel picked step %v; want 2", got)
	}
	run("screenshot the reset dialog", shot("15-confirm-reset"), confirm)
	eventually("the reset run completes", `(() => { const e = document.querySelector("#exec-state"); return e !== null && e.textContent.includes("completed") })()`)
	if got := text("#exec-result"); !strings.Contains(got, "label:parcel-13") {
		t.Fatalf("the reset run's result reads %q; want label:parcel-13", got)
	}
	run("screenshot the reset execution", shot("16-reset"))
	if st, err := s.eng.Stats(context.Background()); err != nil || st.DeadLetters != 0 {
		t.Fatalf("after the reset %d dead letters (%v); the reset deletes the dropped steps' and the root's", st.DeadLetters, err)
	}

	t.Log("filter by version")
	run("filter by version v2",
		chromedp.Navigate(srv.URL+"/#/executions?version=v2"),
		chromedp.WaitVisible(css("#executions")))
	eventually("the three shipments are listed with their version", `(() => { const r = [...document.querySelectorAll("#executions tbody tr")];
		return r.length === 3 && r.every((x) => x.querySelector("td.version").textContent === "v2") })()`)
	run("screenshot the version filter", shot("17-filter-version"))

	t.Log("the singleton key shows")
	run("open the report run", chromedp.Navigate(srv.URL+"/#/executions/"+s.reports), chromedp.WaitVisible(css("#timeline")))
	if got := text(".kv"); !strings.Contains(got, "daily-report") {
		t.Fatalf("the report run's summary reads %q; want its singleton key daily-report", got)
	}

	t.Log("queues: pause and resume")
	run("open queues", chromedp.Click(css(`#nav a[data-page="queues"]`)), chromedp.WaitVisible(css("#throughput-chart")))
	reportsRow := `#queues tr[data-queue="reports"]`
	eventually("queue reports lists its two pending tasks", `(() => { const r = document.querySelector(`+jsString(reportsRow)+`);
		return r !== null && r.dataset.paused === "false" && r.querySelector("td.depth").textContent === "2" })()`)
	run("pause it", chromedp.Click(css(reportsRow+" button.pause")), chromedp.WaitVisible(css("#confirm-yes")), shot("18-confirm-pause"), confirm)
	eventually("the queue shows paused", `(() => { const r = document.querySelector(`+jsString(reportsRow)+`);
		return r !== null && r.dataset.paused === "true" && r.querySelector("td.queue-state").textContent === "paused" })()`)
	if qs, err := s.eng.Queues(context.Background()); err != nil || !queuePaused(qs, "reports") {
		t.Fatalf("after the console's pause the store lists %+v, %v", qs, err)
	}
	eventually("the throughput chart draws lines", `document.querySelectorAll("#throughput-chart polyline").length === 3`)
	run("screenshot the paused queue", shot("09-queues"))
	run("resume it", chromedp.Click(css(reportsRow+" button.resume")), confirm)
	eventually("the queue shows active again", `(() => { const r = document.querySelector(`+jsString(reportsRow)+`);
		return r !== null && r.dataset.paused === "false" && r.querySelector("td.queue-state").textContent === "active" })()`)
	if qs, err := s.eng.Queues(context.Background()); err != nil || queuePaused(qs, "reports") {
		t.Fatalf("after the console's resume the store lists %+v, %v", qs, err)
	}

	t.Log("schedules")
	run("open schedules", chromedp.Click(css(`#nav a[data-page="schedules"]`)), chromedp.WaitVisible(css("#schedules")))
	if got := text("#schedules"); !strings.Contains(got, "nightly-report") || !strings.Contains(got, "Europe/Berlin") || !strings.Contains(got, "0 3 * * *") {
		t.Fatalf("the schedules page reads %q", got)
	}
	run("screenshot schedules", shot("19-schedules"))
	nightly := `#schedules tr[data-schedule="nightly-report"]`
	run("pause the nightly report", chromedp.Click(css(nightly+" button.pause")), confirm)
	eventually("the schedule shows paused", `(() => { const r = document.querySelector(`+jsString(nightly)+`);
		return r !== null && r.dataset.paused === "true" })()`)
	if sc, err := s.eng.Schedule(context.Background(), "nightly-report"); err != nil || !sc.Paused {
		t.Fatalf("after the console's pause the schedule is %+v, %v", sc, err)
	}
	run("open workers", chromedp.Click(css(`#nav a[data-page="workers"]`)), chromedp.WaitVisible(css("#workers")))
	if got := text("#workers"); !strings.Contains(got, "console-worker") || !strings.Contains(got, "live") {
		t.Fatalf("workers page reads %q", got)
	}
	run("screenshot workers", shot("10-workers"))

	t.Log("log out")
	run("log out", chromedp.Click(css("#logout")), chromedp.WaitVisible(css("#login-form")), shot("11-logged-out"))
	if status := eval(`fetch("v1/stats").then(r => r.status)`, chromedp.EvalAwaitPromise); status != float64(401) {
		t.Fatalf("after logout GET v1/stats answered %v; want 401", status)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(requests) < 10 {
		t.Fatalf("only %d requests recorded: the network domain is not listened to", len(requests))
	}
	var outside []string
	for _, raw := range requests {
		u, err := url.Parse(raw)
		if err != nil || u.Host != base.Host || (u.Scheme != "http" && u.Scheme != "https") {
			outside = append(outside, raw)
		}
	}
	if len(outside) > 0 {
		t.Fatalf("requests left the server: %v", outside)
	}
	t.Logf("%d requests, all to %s; screenshots in %s", len(requests), base.Host, outDir)
	if len(failures) > 0 {
		t.Logf("failed loads: %v", failures)
	}
}

func queuePaused(qs []domain.QueueInfo, name string) bool {
	for _, q := range qs {
		if q.Name == name {
			return q.Paused
		}
	}
	return false
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
