package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestTheMakefileStampsTheVersion checks `make build-bin` stamps
// main.version into ./cmd/stent, then builds stent so and checks `stent
// version` prints the stamped version.
func TestTheMakefileStampsTheVersion(t *testing.T) {
	t.Parallel()
	mk, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^build-bin:.*\n\t.*\$\(GO\) build .*-ldflags "[^"]*-X main\.version=\$\(VERSION\)[^"]*" .*\./cmd/stent\b`).Match(mk) {
		t.Fatalf("the Makefile's build-bin does not build ./cmd/stent with -X main.version=$(VERSION)")
	}
	if testing.Short() {
		t.Skip("-short: not building the binary")
	}
	bin := filepath.Join(t.TempDir(), "stent")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=v9.8.7-test", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("stent version: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "stent v9.8.7-test (schema version ") {
		t.Errorf("stent version printed %q; want the stamped v9.8.7-test", out)
	}
}
