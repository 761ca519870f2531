package packaging

import (
	"regexp"
	"testing"

	"github.com/stenthq/stent/stentfx"
)

// settings are stentd's flags and environment variables as its --help
// lists them.
type settings struct {
	flags, envs map[string]bool
}

func stentdSettings(t *testing.T) settings {
	t.Helper()
	code, _, help := runBin(t, "stentd", nil, "--help")
	if code != 0 {
		t.Fatalf("stentd --help: exit %d", code)
	}
	s := settings{flags: map[string]bool{}, envs: map[string]bool{}}
	for _, m := range regexp.MustCompile(`(?m)^  --([a-z0-9-]+), (STENT_[A-Z0-9_]+)`).FindAllStringSubmatch(help, -1) {
		s.flags[m[1]], s.envs[m[2]] = true, true
	}
	if len(s.flags) < 10 {
		t.Fatalf("stentd --help lists %d settings; the parser no longer understands it:\n%s", len(s.flags), help)
	}
	return s
}

// loadConfig is what stentd makes of args and env (the same function
// cmd/stentd calls).
func loadConfig(args []string, env map[string]string) (stentfx.Config, error) {
	return stentfx.LoadConfig(args, func(k string) string { return env[k] })
}
