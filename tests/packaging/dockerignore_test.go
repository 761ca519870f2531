package packaging

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// dockerignore compiles .dockerignore's patterns (Docker's rules: paths
// from the context root, * within one element, ** across elements, a
// match on a directory excludes what is under it). Exceptions (!) are
// refused so the matcher cannot silently disagree with Docker.
func dockerignore(t *testing.T) []*regexp.Regexp {
	t.Helper()
	var res []*regexp.Regexp
	for n, line := range strings.Split(read(t, ".dockerignore"), "\n") {
		p := strings.TrimSpace(line)
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		if strings.HasPrefix(p, "!") {
			t.Fatalf(".dockerignore line %d: %q: exceptions are not supported by this test's matcher", n+1, p)
		}
		p = strings.Trim(filepath.ToSlash(filepath.Clean(p)), "/")
		var b strings.Builder
		for i := 0; i < len(p); i++ {
			switch {
			case strings.HasPrefix(p[i:], "**/"):
				b.WriteString(`(?:.*/)?`)
				i += 2
			case strings.HasPrefix(p[i:], "**"):
				b.WriteString(`.*`)
				i++
			case p[i] == '*':
				b.WriteString(`[^/]*`)
			case p[i] == '?':
				b.WriteString(`[^/]`)
			default:
				b.WriteString(regexp.QuoteMeta(p[i : i+1]))
			}
		}
		res = append(res, regexp.MustCompile(`^`+b.String()+`(?:/.*)?$`))
	}
	return res
}

func ignored(res []*regexp.Regexp, rel string) bool {
	for _, re := range res {
		if re.MatchString(rel) {
			return true
		}
	}
	return false
}

func TestDockerignore(t *testing.T) {
	t.Parallel()
	res := dockerignore(t)
	dir := root(t)

	t.Run("the matcher follows Docker's rules", func(t *testing.T) {
		t.Parallel()
		if !ignored(res, ".git/config") || !ignored(res, "bin/stentd") || !ignored(res, "adapters/x/stent.sqlite") {
			t.Error(".git, bin/ and SQLite files should be ignored")
		}
		if ignored(res, "cmd/stent/main.go") || ignored(res, "cmd/stentd/main.go") {
			t.Error("the root-anchored stent/stentd patterns match cmd/stent")
		}
	})

	t.Run("no file the image build reads is ignored", func(t *testing.T) {
		t.Parallel()
		words := makeCommand(t, "build-bin")
		args := append([]string{"list", "-deps", "-json=ImportPath,Dir,GoFiles,EmbedFiles,Module"}, buildPackages(words)...)
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		need := []string{"go.mod", "go.sum"}
		dec := json.NewDecoder(strings.NewReader(string(out)))
		for dec.More() {
			var p struct {
				Dir                 string
				GoFiles, EmbedFiles []string
				Module              *struct{ Main bool }
			}
			if err := dec.Decode(&p); err != nil {
				t.Fatal(err)
			}
			if p.Module == nil || !p.Module.Main {
				continue // the standard library and downloaded modules
			}
			for _, f := range append(p.GoFiles, p.EmbedFiles...) {
				rel, err := filepath.Rel(dir, filepath.Join(p.Dir, f))
				if err != nil {
					t.Fatal(err)
				}
				need = append(need, filepath.ToSlash(rel))
			}
		}
		if len(need) < 20 {
			t.Fatalf("go list found only %d files; something is off", len(need))
		}
		for _, f := range need {
			if ignored(res, f) {
				t.Errorf(".dockerignore leaves out %s, which the image build reads", f)
			}
		}
	})
}
