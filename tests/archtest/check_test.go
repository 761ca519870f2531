package archtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Rule restricts what the module's packages import. See rules_test.go for
// the pattern syntax.
type Rule struct {
	// Name states the rule; every violation quotes it.
	Name string
	// Packages are the importing packages the rule covers.
	Packages []string
	// Except removes packages from Packages.
	Except []string
	// Transitive checks every dependency (go list's Deps) instead of the
	// direct imports.
	Transitive bool
	// AllowOnly makes Allow exhaustive: any import that is neither in the
	// standard library nor matched by Allow breaks the rule.
	AllowOnly bool
	Allow     []string
	// Forbid lists imports that break the rule.
	Forbid []string
	// Components, when set, groups packages into units that may import
	// each other freely (see the adapters rule).
	Components []string
	// Exempt lists importer/import pairs Forbid does not apply to.
	Exempt []Exemption
}

// Exemption lets packages matching From import packages matching To.
type Exemption struct{ From, To string }

// Package is what the checker needs of `go list -json`.
type Package struct {
	ImportPath string
	Standard   bool
	DepOnly    bool
	Imports    []string
	Deps       []string
	Module     *struct {
		Path string
		Main bool
	}
	Error *struct{ Err string }
}

// Violation is one import that breaks one rule.
type Violation struct {
	Rule       string
	Package    string
	Import     string
	Transitive bool
}

func (v Violation) String() string {
	verb := "imports"
	if v.Transitive {
		verb = "depends on"
	}
	return fmt.Sprintf("%s %s %s, which breaks the rule %q", v.Package, verb, v.Import, v.Rule)
}

// Check applies rules to the packages of module found in pkgs (the output
// of `go list -deps -json`, so that standard packages are marked) and
// returns every violation, sorted.
func Check(module string, pkgs []Package, rules []Rule) []Violation {
	std := map[string]bool{}
	for _, p := range pkgs {
		std[p.ImportPath] = p.Standard
	}
	isStd := func(path string) bool {
		if s, known := std[path]; known {
			return s
		}
		// Not listed (e.g. a module missing from go.mod): fall back on the
		// standard library's naming, no dot in the first element.
		first, _, _ := strings.Cut(path, "/")
		return path != "C" && !strings.Contains(first, ".")
	}
	var out []Violation
	for _, p := range pkgs {
		if p.Standard || !inModule(module, p.ImportPath) {
			continue
		}
		for _, r := range rules {
			if !matchAny(module, r.Packages, p.ImportPath) || matchAny(module, r.Except, p.ImportPath) {
				continue
			}
			imports := p.Imports
			if r.Transitive {
				imports = p.Deps
			}
			for _, imp := range imports {
				if r.breaks(module, p.ImportPath, imp, isStd(imp)) {
					out = append(out, Violation{Rule: r.Name, Package: p.ImportPath, Import: imp, Transitive: r.Transitive})
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b Violation) int {
		return strings.Compare(a.String(), b.String())
	})
	return out
}

func (r Rule) breaks(module, pkg, imp string, std bool) bool {
	if r.AllowOnly && !std && !matchAny(module, r.Allow, imp) {
		return true
	}
	if !matchAny(module, r.Forbid, imp) {
		return false
	}
	if len(r.Components) > 0 {
		if c := component(module, r.Components, pkg); c != "" && c == component(module, r.Components, imp) {
			return false
		}
	}
	for _, e := range r.Exempt {
		if match(module, e.From, pkg) && match(module, e.To, imp) {
			return false
		}
	}
	return true
}

// component returns the first of patterns ("*" = one path element) that
// pkg falls under, with "*" filled in from pkg, or "" if none does.
func component(module string, patterns []string, pkg string) string {
	for _, pat := range patterns {
		want := strings.Split(resolve(module, pat), "/")
		got := strings.Split(pkg, "/")
		if len(got) < len(want) {
			continue
		}
		ok := true
		for i, w := range want {
			if w != "*" && w != got[i] {
				ok = false
				break
			}
		}
		if ok {
			return strings.Join(got[:len(want)], "/")
		}
	}
	return ""
}

func inModule(module, path string) bool {
	return path == module || strings.HasPrefix(path, module+"/")
}

// resolve turns a module-relative pattern into a full one.
func resolve(module, pattern string) string {
	if pattern == "..." {
		return module + "/..."
	}
	first, _, _ := strings.Cut(pattern, "/")
	if strings.Contains(first, ".") {
		return pattern
	}
	return module + "/" + pattern
}

func match(module, pattern, path string) bool {
	full := resolve(module, pattern)
	if prefix, ok := strings.CutSuffix(full, "/..."); ok {
		return path == prefix || strings.HasPrefix(path, prefix+"/")
	}
	return path == full
}

func matchAny(module string, patterns []string, path string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return match(module, p, path) })
}

// Load lists the module rooted at (or containing) dir with
// `go list -e -deps -json`: the module's packages with their non-test
// imports and dependencies, plus every dependency, standard ones marked.
// patterns (relative to the module root) narrow the listing to some
// packages and what they link; none means ./...
func Load(ctx context.Context, dir string, patterns ...string) (module string, pkgs []Package, err error) {
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}
	gomod, err := goCommand(ctx, dir, "env", "GOMOD")
	if err != nil {
		return "", nil, err
	}
	gomod = strings.TrimSpace(gomod)
	if gomod == "" || gomod == "/dev/null" {
		return "", nil, fmt.Errorf("archtest: %s is not inside a module", dir)
	}
	root := filepath.Dir(gomod)
	module, err = goCommand(ctx, root, "list", "-m")
	if err != nil {
		return "", nil, err
	}
	module = strings.TrimSpace(module)
	out, err := goCommand(ctx, root, append([]string{"list", "-e", "-deps",
		"-json=ImportPath,Standard,DepOnly,Imports,Deps,Module,Error"}, patterns...)...)
	if err != nil {
		return "", nil, err
	}
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var p Package
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return "", nil, fmt.Errorf("archtest: decode go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
	return module, pkgs, nil
}

func goCommand(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("archtest: go %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}
