package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// timerFuncs are package time's functions that start a timer. The engine
// takes every timer from a ports.Clock (Deps.Clock for stored times,
// sleeps and deadlines; ports.SystemClock for its own pacing), so that a
// fake clock can drive them in tests.
var timerFuncs = map[string]bool{
	"NewTimer": true, "NewTicker": true, "After": true, "AfterFunc": true, "Tick": true, "Sleep": true,
}

// timerRoots are the directories (relative to the module root) whose
// non-test Go files may not call timerFuncs.
var timerRoots = []string{"app"}

// TestTheEngineTakesEveryTimerFromAClock fails on any call of package
// time's timer functions in the engine's non-test files (app and
// app/internal/...).
func TestTheEngineTakesEveryTimerFromAClock(t *testing.T) {
	t.Parallel()
	gomod, err := goCommand(t.Context(), ".", "env", "GOMOD")
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(strings.TrimSpace(gomod))
	checked := 0
	for _, dir := range timerRoots {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			checked++
			for _, v := range directTimerCalls(t, path) {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s:%s calls time.%s; take the timer from a ports.Clock", rel, v.pos, v.name)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked == 0 {
		t.Fatal("no engine file was checked")
	}
}

type timerCall struct{ pos, name string }

// directTimerCalls returns the uses of time's timer functions in one file,
// whatever name package time is imported under.
func directTimerCalls(t *testing.T, path string) []timerCall {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	timeName := ""
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == "time" {
			timeName = "time"
			if imp.Name != nil {
				timeName = imp.Name.Name
			}
		}
	}
	if timeName == "" {
		return nil
	}
	var out []timerCall
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if id, ok := sel.X.(*ast.Ident); ok && id.Name == timeName && timerFuncs[sel.Sel.Name] {
			p := fset.Position(sel.Pos())
			out = append(out, timerCall{pos: strconv.Itoa(p.Line), name: sel.Sel.Name})
		}
		return true
	})
	return out
}

func TestDirectTimerCallsAreFound(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "x.go")
	src := "package x\n\nimport clock \"time\"\n\nfunc f() { <-clock.After(1); clock.Sleep(2); _ = clock.Now() }\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	got := directTimerCalls(t, path)
	if len(got) != 2 || got[0].name != "After" || got[1].name != "Sleep" {
		t.Fatalf("directTimerCalls = %v, want After and Sleep", got)
	}
}
