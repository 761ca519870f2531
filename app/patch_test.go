package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stenthq/stent/app"
)

func TestPatchMarkersOutsideATask(t *testing.T) {
	t.Parallel()
	t.Run("Patched reports true in local mode, so unit tests run the new code", func(t *testing.T) {
		t.Parallel()
		reg := app.NewRegistry()
		receipts := 0
		wf := app.Register(reg, "order", func(ctx context.Context, n int) (int, error) {
			app.Deprecate(ctx, "old-change")
			if app.Patched(ctx, "send-receipt") {
				receipts++
			}
			return n, nil
		})
		if out, err := wf.Call(context.Background(), 7); err != nil || out != 7 {
			t.Fatalf("%d %v", out, err)
		}
		if receipts != 1 {
			t.Fatalf("the new path ran %d times; want 1", receipts)
		}
	})
	t.Run("an invalid change id panics with ErrInvalidArgument", func(t *testing.T) {
		t.Parallel()
		for name, call := range map[string]func(){
			"Patched":   func() { app.Patched(context.Background(), "") },
			"Deprecate": func() { app.Deprecate(context.Background(), "bad\x00id") },
		} {
			func() {
				defer func() {
					err, _ := recover().(error)
					if !errors.Is(err, app.ErrInvalidArgument) {
						t.Errorf("%s: recovered %v; want ErrInvalidArgument", name, err)
					}
				}()
				call()
			}()
		}
	})
}

func TestNonDeterminismErrorHints(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  *app.NonDeterminismError
		want []string
	}{
		{"a changed call names both functions and suggests a patch marker",
			&app.NonDeterminismError{Call: 2, Recorded: "charge", Now: "receipt"},
			[]string{"call #2", `recorded "charge"`, `now "receipt"`, `app.Patched(ctx, "change-id")`}},
		{"a removed patch check names the marker and suggests Deprecate",
			&app.NonDeterminismError{Call: 2, Recorded: "stent.patch/send-receipt", Now: "receipt"},
			[]string{"call #2", `recorded "stent.patch/send-receipt"`, `app.Patched(ctx, "send-receipt")`, `app.Deprecate(ctx, "send-receipt")`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			msg := tc.err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%q does not contain %q", msg, w)
				}
			}
			if !errors.Is(tc.err, app.ErrNonDeterministic) {
				t.Error("does not match ErrNonDeterministic")
			}
		})
	}
}
