package packaging

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// testVersion is the VERSION the tests build with.
const testVersion = "v0.0.0-packaging-test"

// root is the repository root (the module directory).
func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("repository root not found from the test's directory: %v", err)
	}
	return dir
}

// read returns a repository file's text.
func read(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// makeCommand is the recipe of a Makefile target as make prints it with
// -n, split into shell words: make itself reads the Makefile.
func makeCommand(t *testing.T, target string) []string {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	cmd := exec.Command("make", "-s", "-n", "-C", root(t), target, "GO=go", "VERSION="+testVersion)
	cmd.Env = append(os.Environ(), "MAKEFLAGS=", "MAKELEVEL=")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make -n %s: %v", target, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 1 {
		t.Fatalf("make -n %s prints %d commands; want one:\n%s", target, len(lines), out)
	}
	words, err := shellWords(lines[0])
	if err != nil {
		t.Fatalf("make -n %s: %v", target, err)
	}
	return words
}

// buildOutput is the -o argument of a go build command and its index.
func buildOutput(t *testing.T, words []string) (int, string) {
	t.Helper()
	for i, w := range words {
		if w == "-o" && i+1 < len(words) {
			return i + 1, words[i+1]
		}
	}
	t.Fatalf("no -o in %q", words)
	return 0, ""
}

// buildPackages is the package arguments of a go build command: the words
// after the last flag and its value.
func buildPackages(words []string) []string {
	var pkgs []string
	for _, w := range words {
		if strings.HasPrefix(w, "./") {
			pkgs = append(pkgs, w)
		}
	}
	return pkgs
}

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// binaries runs the Makefile's build-bin command with its output
// directory moved to a temporary one, once per test binary, and returns
// that directory.
func binaries(t *testing.T) string {
	t.Helper()
	words := makeCommand(t, "build-bin")
	i, _ := buildOutput(t, words)
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "stent-packaging-")
		if err != nil {
			binErr = err
			return
		}
		binDir = dir
		words[i] = dir + string(filepath.Separator)
		var env []string
		for len(words) > 0 && regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`).MatchString(words[0]) {
			env, words = append(env, words[0]), words[1:]
		}
		// A cold build cache on a loaded machine takes minutes: stop in
		// time to say so rather than let the test binary's timeout panic.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		if d, ok := t.Deadline(); ok {
			ctx, cancel = context.WithDeadline(context.Background(), d.Add(-30*time.Second))
		}
		defer cancel()
		cmd := exec.CommandContext(ctx, words[0], words[1:]...)
		cmd.Dir = root(t)
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			if ctx.Err() != nil {
				err = fmt.Errorf("%w (the build outlasted the test deadline; warm the cache with make build-bin or raise go test -timeout)", ctx.Err())
			}
			binErr = fmt.Errorf("%s: %v\n%s", strings.Join(words, " "), err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// runBin runs a built binary and returns its exit code and output.
func runBin(t *testing.T, name string, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binaries(t), name), args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if code < 0 {
		t.Fatalf("%s %q: %v", name, args, err)
	}
	return code, stdout.String(), stderr.String()
}

func TestBuildBin(t *testing.T) {
	words := makeCommand(t, "build-bin")
	t.Run("builds static, stripped, trimmed binaries stamped with VERSION", func(t *testing.T) {
		cmd := strings.Join(words, " ")
		for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-s -w", "-X main.version=" + testVersion} {
			if !strings.Contains(cmd, want) {
				t.Errorf("make build-bin runs %q: no %q", cmd, want)
			}
		}
		if _, out := buildOutput(t, words); out != "bin/" {
			t.Errorf("make build-bin writes to %q; want bin/", out)
		}
		if got, want := buildPackages(words), []string{"./cmd/stentd", "./cmd/stent", "./deploy/stent-healthcheck"}; strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("make build-bin builds %q; want %q", got, want)
		}
	})
	t.Run("the binaries have no dynamic loader and no shared libraries", func(t *testing.T) {
		if runtime.GOOS != "linux" {
			t.Skip("ELF check on Linux only")
		}
		for _, name := range []string{"stentd", "stent", "stent-healthcheck"} {
			f, err := elf.Open(filepath.Join(binaries(t), name))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Errorf("%s has a dynamic loader (PT_INTERP): not static", name)
				}
			}
			if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
				t.Errorf("%s needs shared libraries %q", name, libs)
			}
			f.Close()
		}
	})
	t.Run("stentd --help, stent version and stent-healthcheck --help run", func(t *testing.T) {
		if code, _, stderr := runBin(t, "stentd", nil, "--help"); code != 0 || !strings.Contains(stderr, "--db, STENT_DB") {
			t.Errorf("stentd --help: exit %d, output %q", code, stderr)
		}
		code, stdout, stderr := runBin(t, "stent", nil, "version")
		if code != 0 || !strings.HasPrefix(stdout, "stent ") {
			t.Errorf("stent version: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		// -X main.version reaches `stent version` once cmd/stent has the
		// variable; until then the linker ignores it.
		if hasVersionVar(t, "cmd/stent") && !strings.Contains(stdout, testVersion) {
			t.Errorf("stent version prints %q; want the stamped %s", stdout, testVersion)
		}
		if code, _, stderr := runBin(t, "stent-healthcheck", nil, "--help"); code != 0 || !strings.Contains(stderr, "STENT_HTTP_ADDR") {
			t.Errorf("stent-healthcheck --help: exit %d, output %q", code, stderr)
		}
	})
}

// hasVersionVar reports whether package main in dir declares `version`.
func hasVersionVar(t *testing.T, dir string) bool {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root(t), dir, "*.go"))
	re := regexp.MustCompile(`(?m)^\s*(var\s+)?version\s+(string\b|=)`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err == nil && re.Match(b) {
			return true
		}
	}
	return false
}
