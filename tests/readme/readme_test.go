package readme

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// common is shared by every scaffold: the user's types and functions the
// README's snippets refer to without declaring them.
const common = `package main

import "context"

type Card struct{ Number string }

type Receipt struct{ ID string }

type Order struct {
	Card     Card
	Customer string
	PSP      string
}

type ReportInput struct{ Kind string }

func chargeCard(context.Context, Order) (Receipt, error)      { return Receipt{}, nil }
func orderV2(context.Context, Order) (Receipt, error)         { return Receipt{}, nil }
func buildReport(context.Context, ReportInput) (string, error) { return "", nil }

func main() {}
`

// scaffold places one README block in a Go file. Source holds the file
// with the block where README stands; Replace rewrites the block's
// deliberate elisions ("{ ... }") into code first, each pair exactly once.
type scaffold struct {
	Source  string
	Replace []string
}

// scaffolds are keyed by the first line of the block. A ```go block whose
// first line is not here fails the test: give it a scaffold.
var scaffolds = map[string]scaffold{
	// Writing a workflow: elided bodies filled in.
	"reg := app.NewRegistry()": {
		Replace: []string{
			"func(ctx context.Context, c Card) (Receipt, error) { ... }",
			"func(ctx context.Context, c Card) (Receipt, error) { return Receipt{}, nil }",
			"\n    ...\n})",
			"\n    _ = ok\n    return r, err\n})",
		},
		Source: `package main

import (
	"context"
	"time"

	"github.com/stenthq/stent/adapters/sqlstore/sqlitestore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
)

func writingAWorkflow(ctx context.Context, o Order, orders []Order) {
README
	_, _, _ = receipt, err, ids
}
`},
	// Concurrency keys and rate limits.
	"charge := app.Register(reg, \"charge\", chargeCard,": {Source: `package main

import (
	"time"

	"github.com/stenthq/stent/app"
)

func concurrencyKeys(reg *app.Registry) {
README
	_ = charge
}
`},
	// Singleton and debounce.
	"var info app.DispatchInfo": {Source: `package main

import (
	"context"
	"time"

	"github.com/stenthq/stent/app"
)

func singletonDebounce(ctx context.Context, eng *app.Engine, report *app.Function[ReportInput, string],
	reindex *app.Function[string, string], in ReportInput, userID string) {
README
	_, _ = id, err
}
`},
	// Changing workflow code safely: a patch marker.
	"if app.Patched(ctx, \"send-receipt\") { // new runs: true; old runs: false": {Source: `package main

import (
	"context"

	"github.com/stenthq/stent/app"
)

func patchedOrder(ctx context.Context, o Order, sendReceipt *app.Function[Order, string],
	charge *app.Function[Card, Receipt]) (Receipt, error) {
README
	return r, err
}
`},
	// Versions.
	"// the new deployment": {Source: `package main

import "github.com/stenthq/stent/app"

func versions(reg *app.Registry) {
README
	_ = order
}
`},
	// The replay check for CI: a complete test function.
	"func TestRecordedHistoriesReplayClean(t *testing.T) {": {Source: `package main

import (
	"context"
	"testing"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/replay"
)

// myworkflows stands for the user's package of workflows.
var myworkflows = struct{ Register func(*app.Registry) }{Register: func(*app.Registry) {}}

README
`},
	// Fork and reset.
	"// Same id: a failed, timed-out or cancelled run, re-run from step 2.": {Source: `package main

import (
	"context"

	"github.com/stenthq/stent/app"
)

func repair(ctx context.Context, eng *app.Engine, id string, order Order) {
README
	_, _ = newID, err
}
`},
	// stenttest: a complete test function.
	"func TestTrial(t *testing.T) {": {Source: `package main

import (
	"context"
	"testing"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/stenttest"
)

var (
	reg   = app.NewRegistry()
	email = app.Register(reg, "email", func(_ context.Context, to string) (string, error) { return to, nil })
	trial = app.Register(reg, "trial", func(ctx context.Context, who string) (string, error) { return who, nil })
)

README
`},
	// Cron schedules.
	"report := app.Register(reg, \"report\", buildReport)": {Source: `package main

import "github.com/stenthq/stent/app"

func schedules(reg *app.Registry) {
README
}
`},
	// The console mounted in a user's mux.
	"mux.Handle(\"/stent/\", http.StripPrefix(\"/stent\", httpapi.Console(eng, httpapi.Options{Token: token})))": {Source: `package main

import (
	"net/http"

	"github.com/stenthq/stent/adapters/httpapi"
	"github.com/stenthq/stent/app"
)

func console(mux *http.ServeMux, eng *app.Engine, token string) {
README
}
`},
}

// block is one ```go block of the README.
type block struct {
	line int // of its first code line, 1-based
	code string
}

var fence = regexp.MustCompile("(?m)^```go\n((?s:.*?))^```\n")

func goBlocks(t *testing.T, readme string) []block {
	t.Helper()
	var out []block
	for _, m := range fence.FindAllStringSubmatchIndex(readme, -1) {
		out = append(out, block{line: strings.Count(readme[:m[2]], "\n") + 1, code: readme[m[2]:m[3]]})
	}
	return out
}

// TestReadmeGoCompiles builds every ```go block of README.md in its
// scaffold, in one go build of a throwaway main package that imports this
// module's packages (so a renamed or removed API breaks the test).
func TestReadmeGoCompiles(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := goBlocks(t, string(b))
	if len(blocks) < len(scaffolds) {
		t.Fatalf("README has %d go blocks, fewer than the %d scaffolds: remove the scaffolds of deleted blocks", len(blocks), len(scaffolds))
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "common.go"), []byte(common), 0o644); err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	files := map[string]int{} // file name -> README line
	for _, bl := range blocks {
		first, _, _ := strings.Cut(bl.code, "\n")
		sc, ok := scaffolds[first]
		if !ok {
			t.Errorf("README.md:%d: a go block without a scaffold in tests/readme (first line %q)", bl.line, first)
			continue
		}
		if used[first] {
			t.Errorf("README.md:%d: two go blocks start with %q; scaffolds are keyed by the first line", bl.line, first)
			continue
		}
		used[first] = true
		code := bl.code
		for i := 0; i+1 < len(sc.Replace); i += 2 {
			if n := strings.Count(code, sc.Replace[i]); n != 1 {
				t.Errorf("README.md:%d: the elision %q appears %d times, want once", bl.line, sc.Replace[i], n)
			}
			code = strings.Replace(code, sc.Replace[i], sc.Replace[i+1], 1)
		}
		name := fmt.Sprintf("readme_line_%d.go", bl.line)
		src := strings.Replace(sc.Source, "README\n", code, 1)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		files[name] = bl.line
	}
	for first := range scaffolds {
		if !used[first] {
			t.Errorf("the scaffold for %q matches no README block", first)
		}
	}
	if t.Failed() {
		return
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the README's code: %v", err)
	}
	args := []string{"build", "-o", os.DevNull}
	names, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	args = append(args, names...)
	cmd := exec.Command(gobin, args...)
	cmd.Dir = root // resolve this module's packages
	out, err := cmd.CombinedOutput()
	if err != nil {
		// Name the README line of each failing file.
		msg := string(out)
		for name, line := range files {
			msg = strings.ReplaceAll(msg, name, fmt.Sprintf("%s (README.md block at line %d)", name, line))
		}
		t.Fatalf("the README's Go code does not compile: %v\n%s", err, msg)
	}
	t.Logf("built %d README go blocks", len(files))
}
