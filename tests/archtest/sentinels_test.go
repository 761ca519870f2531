package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// sentinelReexporters are the only packages (module-relative directories)
// that may re-export the domain sentinels: app, once, for users. Every
// other package uses domain.Err* itself.
var sentinelReexporters = []string{"app"}

// TestSentinelErrorsHaveOneHome fails on a package-level variable that
// re-exports a domain sentinel (var ErrX = domain.ErrX) outside
// sentinelReexporters.
func TestSentinelErrorsHaveOneHome(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		if rel == "domain" {
			return nil
		}
		file, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		seen++
		for _, name := range reexports(file) {
			if !slices.Contains(sentinelReexporters, rel) {
				t.Errorf("%s: %s re-exports domain.%s; use domain.%s (only %v re-export the sentinels, for users)",
					filepath.ToSlash(strings.TrimPrefix(path, root+string(filepath.Separator))), name, name, name, sentinelReexporters)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 50 {
		t.Fatalf("read %d Go files below %s; the walk missed the module", seen, root)
	}
}

// reexports returns the names of the domain sentinels the file's
// package-level variables are set to.
func reexports(file *ast.File) []string {
	domainName := ""
	for _, imp := range file.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == mod+"/domain" {
			domainName = "domain"
			if imp.Name != nil {
				domainName = imp.Name.Name
			}
		}
	}
	if domainName == "" {
		return nil
	}
	var out []string
	for _, decl := range file.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.VAR {
			continue
		}
		for _, spec := range gen.Specs {
			for _, v := range spec.(*ast.ValueSpec).Values {
				sel, ok := v.(*ast.SelectorExpr)
				if !ok {
					continue
				}
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == domainName && strings.HasPrefix(sel.Sel.Name, "Err") {
					out = append(out, sel.Sel.Name)
				}
			}
		}
	}
	return out
}
