package packaging

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// unit is a parsed systemd unit: section -> key -> values in order.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, text string) unit {
	t.Helper()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		case section == "":
			t.Fatalf("line %d: %q outside a section", n, line)
		case strings.HasSuffix(line, `\`):
			t.Fatalf("line %d: continuation lines are not supported by this parser", n)
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("line %d: %q is not key=value", n, line)
			}
			k = strings.TrimSpace(k)
			u[section][k] = append(u[section][k], strings.TrimSpace(v))
		}
	}
	return u
}

// last is the value in effect of a single-valued key.
func (u unit) last(section, key string) string {
	vs := u[section][key]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// unitName is the name the unit is installed under (%N expands to it).
const unitName = "stentd"

// execStart is the unit's ExecStart split into words, prefixes and %N
// resolved.
func execStart(t *testing.T, u unit) []string {
	t.Helper()
	v := strings.TrimLeft(u.last("Service", "ExecStart"), "-@:+!")
	words, err := shellWords(strings.ReplaceAll(v, "%N", unitName))
	if err != nil || len(words) == 0 {
		t.Fatalf("ExecStart=%s: %v", v, err)
	}
	return words
}

// envFile parses an EnvironmentFile: KEY=value lines, and the commented
// #KEY=value examples separately.
func envFile(t *testing.T, text string) (set, examples map[string][]string) {
	t.Helper()
	set, examples = map[string][]string{}, map[string][]string{}
	re := regexp.MustCompile(`^(#?)([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		m := re.FindStringSubmatch(line)
		switch {
		case m != nil && m[1] == "":
			set[m[2]] = append(set[m[2]], m[3])
		case m != nil:
			examples[m[2]] = append(examples[m[2]], m[3])
		case line != "" && !strings.HasPrefix(line, "#"):
			t.Fatalf("stentd.env.example line %d: %q is not KEY=value", n+1, line)
		}
	}
	return set, examples
}

// unitEnv is the environment stentd gets: Environment= then the env file
// (which systemd applies after, so it wins).
func unitEnv(t *testing.T, u unit, file map[string][]string) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, v := range u["Service"]["Environment"] {
		words, err := shellWords(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range words {
			k, val, _ := strings.Cut(w, "=")
			env[k] = val
		}
	}
	for k, vs := range file {
		env[k] = vs[len(vs)-1]
	}
	return env
}

// stopGrace is cmd/stentd's stopGrace: fx's stop deadline is the shutdown
// timeout plus this.
const stopGrace = 10 * time.Second

func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	text := read(t, "deploy/stentd.service")
	u := parseUnit(t, text)
	set, examples := envFile(t, read(t, "deploy/stentd.env.example"))
	env := unitEnv(t, u, set)

	t.Run("systemd-analyze verify accepts it", func(t *testing.T) {
		t.Parallel()
		if _, err := exec.LookPath("systemd-analyze"); err != nil {
			t.Skip("systemd-analyze is not installed; the key checks below still run")
		}
		// verify checks that ExecStart's binary exists: point it at the
		// one build-bin made.
		dir := t.TempDir()
		installed := execStart(t, u)[0]
		local := strings.ReplaceAll(text, installed, filepath.Join(binaries(t), filepath.Base(installed)))
		file := filepath.Join(dir, unitName+".service")
		if err := os.WriteFile(file, []byte(local), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "systemd-analyze", "verify", file).CombinedOutput()
		// verify exits 0 on unknown keys and bad values but prints them.
		if err != nil || strings.Contains(string(out), unitName+".service") {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
		out, err = exec.CommandContext(ctx, "systemd-analyze", "security", "--offline=true", file).CombinedOutput()
		m := regexp.MustCompile(`Overall exposure level for \S+: (\d+\.\d+)`).FindSubmatch(out)
		if err != nil || m == nil {
			t.Logf("systemd-analyze security --offline unavailable: %v", err)
			return
		}
		if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 2.0 {
			t.Errorf("systemd-analyze security: exposure %s; the hardening in the unit keeps it at 2.0 or below\n%s", m[1], out)
		} else {
			t.Logf("systemd-analyze security: exposure %s", m[1])
		}
	})

	t.Run("ExecStart runs the installed stentd with flags it accepts", func(t *testing.T) {
		t.Parallel()
		argv := execStart(t, u)
		if argv[0] != "/usr/local/bin/stentd" {
			t.Errorf("ExecStart runs %s; the documented install puts stentd in /usr/local/bin", argv[0])
		}
		known := stentdSettings(t)
		for _, a := range argv[1:] {
			name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if !strings.HasPrefix(a, "-") || !known.flags[name] {
				t.Errorf("ExecStart argument %q is not a stentd flag", a)
			}
		}
		if _, err := loadConfig(argv[1:], env); err != nil {
			t.Errorf("stentd rejects the unit's flags and environment: %v", err)
		}
	})

	t.Run("the environment names only stentd settings, and every example loads", func(t *testing.T) {
		t.Parallel()
		known := stentdSettings(t)
		for k := range env {
			if !known.envs[k] {
				t.Errorf("%s (unit or env example) is not a stentd setting", k)
			}
		}
		for k, vs := range examples {
			if !known.envs[k] {
				t.Errorf("the env example's #%s is not a stentd setting", k)
				continue
			}
			for _, v := range vs {
				if _, err := loadConfig(nil, map[string]string{k: v}); err != nil {
					t.Errorf("the env example's #%s=%s does not load: %v", k, v, err)
				}
			}
		}
		if got := u.last("Service", "EnvironmentFile"); strings.TrimPrefix(got, "-") != "/etc/stent/stentd.env" {
			t.Errorf("EnvironmentFile=%s; the docs install deploy/stentd.env.example as /etc/stent/stentd.env", got)
		}
	})

	t.Run("it is hardened and keeps its SQLite file in its state directory", func(t *testing.T) {
		t.Parallel()
		for key, want := range map[string]string{
			"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
			"PrivateTmp": "yes", "Restart": "on-failure", "RestartPreventExitStatus": "2",
		} {
			if got := u.last("Service", key); got != want {
				t.Errorf("%s=%q; want %q", key, got, want)
			}
		}
		if u.last("Service", "DynamicUser") != "yes" && (u.last("Service", "User") == "" || u.last("Service", "User") == "root") {
			t.Error("the unit runs as root: want DynamicUser=yes or a User")
		}
		state := u.last("Service", "StateDirectory")
		if state == "" {
			t.Fatal("no StateDirectory: ProtectSystem=strict leaves stentd nowhere to write")
		}
		cfg, err := loadConfig(nil, env)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(cfg.DB, "postgres") && filepath.Dir(cfg.DB) != filepath.Join("/var/lib", state) {
			t.Errorf("STENT_DB=%s is outside the state directory /var/lib/%s (the only writable place)", cfg.DB, state)
		}
	})

	t.Run("TimeoutStopSec outlasts stentd's drain", func(t *testing.T) {
		t.Parallel()
		stop, err := time.ParseDuration(u.last("Service", "TimeoutStopSec"))
		if err != nil {
			t.Fatalf("TimeoutStopSec=%s: %v", u.last("Service", "TimeoutStopSec"), err)
		}
		cfg, err := loadConfig(nil, env)
		if err != nil {
			t.Fatal(err)
		}
		if need := cfg.ShutdownTimeout + stopGrace; stop <= need {
			t.Errorf("TimeoutStopSec=%s: systemd kills stentd before its stop deadline (shutdown timeout %s + %s)", stop, cfg.ShutdownTimeout, stopGrace)
		}
	})
}
