package cli_test

import (
	"encoding/json"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/cmd/stent/internal/cli"
)

func TestCleanupKeepsWhatTheServiceKeeps(t *testing.T) {
	t.Parallel()
	h := newSeeded(t, sqliteBackend)
	r := h.run(t, "--json", "cleanup", "--dry-run")
	expect(t, r, 0)
	var v struct {
		Before time.Time `json:"before"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("cleanup --json: %v\n%s", err, r.stdout)
	}
	if want := cliNow.Add(-app.DefaultRetention); !v.Before.Equal(want) {
		t.Errorf("cleanup without --older-than deletes before %s; want now - app.DefaultRetention (%s), stentd's retention", v.Before, want)
	}
	if app.DefaultRetention != 7*24*time.Hour {
		t.Errorf("app.DefaultRetention = %s; the documented default is 7d", app.DefaultRetention)
	}
}

func TestVersionNeverPrintsABareDevel(t *testing.T) {
	t.Parallel()
	info := func(bi *debug.BuildInfo) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) { return bi, bi != nil }
	}
	vcs := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2030-01-02T03:04:05Z"},
		{Key: "vcs.modified", Value: "true"}}}
	for _, tc := range []struct {
		name    string
		stamped string
		info    func() (*debug.BuildInfo, bool)
		want    string
	}{
		{"stamped at build wins", "v1.2.3", info(vcs), "v1.2.3"},
		{"go install module@version", "", info(&debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}), "v1.4.0"},
		{"go build in a checkout", "", info(vcs), "devel-0123456789ab+dirty (2030-01-02T03:04:05Z)"},
		{"no VCS information", "", info(&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}), "devel (no VCS information; build with `make binaries` to stamp a version)"},
		{"no build information", "", info(nil), "devel (no build information)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cli.Version(tc.stamped, tc.info); got != tc.want {
				t.Errorf("Version = %q; want %q", got, tc.want)
			}
		})
	}
}

func TestCompletionScriptsForEveryShell(t *testing.T) {
	t.Parallel()
	h := bare(t, "completion.sqlite")
	for shell, marker := range map[string]string{
		"bash": "# bash completion", "zsh": "#compdef stent", "fish": "complete -c stent", "powershell": "Register-ArgumentCompleter",
	} {
		r := h.exec(t, call{args: []string{"completion", shell}, noDB: true})
		expect(t, r, 0)
		if !strings.Contains(r.stdout, marker) {
			t.Errorf("completion %s: no %q in %.200s", shell, marker, r.stdout)
		}
		if r.spy.opens != 0 {
			t.Errorf("completion %s opened the store", shell)
		}
	}
	// Commands complete dynamically through cobra's __complete.
	r := h.exec(t, call{args: []string{"__complete", "dl"}, noDB: true})
	if !strings.Contains(r.stdout, "dlq") {
		t.Errorf("__complete dl: %q; want dlq", r.stdout)
	}
}
