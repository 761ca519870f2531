package stenttest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/stenttest"
)

// A trial that ends after 30 days, tested in milliseconds: the virtual
// clock skips ahead while the workflow sleeps, and the email step is
// stubbed for the test. In a real test, pass the *testing.T:
//
//	func TestTrial(t *testing.T) { env := stenttest.New(t, reg); ... }
func Example() {
	reg := app.NewRegistry()
	email := app.Register(reg, "email", func(_ context.Context, to string) (string, error) {
		return "", errors.New("no mail server in tests")
	})
	trial := app.Register(reg, "trial", func(ctx context.Context, user string) (string, error) {
		if err := app.Sleep(ctx, 30*24*time.Hour); err != nil {
			return "", err
		}
		return email.Call(ctx, user)
	})

	t := &exampleT{}
	defer t.done()
	env := stenttest.New(t, reg)
	stenttest.Stub(env, email, func(_ context.Context, to string) (string, error) {
		return "sent to " + to, nil
	})
	start := env.Now()
	got, err := stenttest.Run(env, trial, "ada")
	fmt.Println(got, err)
	fmt.Println("days passed:", int(env.Now().Sub(start)/(24*time.Hour)))
	// Output:
	// sent to ada <nil>
	// days passed: 30
}

// exampleT stands in for the *testing.T an Example has not got.
type exampleT struct {
	cleanups []func()
	dirs     []string
}

func (*exampleT) Helper()                   {}
func (t *exampleT) Cleanup(f func())        { t.cleanups = append(t.cleanups, f) }
func (*exampleT) Errorf(f string, a ...any) { fmt.Printf(f+"\n", a...) }
func (*exampleT) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }
func (t *exampleT) TempDir() string {
	dir, err := os.MkdirTemp("", "stenttest")
	if err != nil {
		panic(err)
	}
	t.dirs = append(t.dirs, dir)
	return dir
}

func (t *exampleT) done() {
	for _, f := range slices.Backward(t.cleanups) {
		f()
	}
	for _, d := range t.dirs {
		_ = os.RemoveAll(d)
	}
}
