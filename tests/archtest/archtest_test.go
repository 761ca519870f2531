package archtest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestModuleFollowsTheDependencyRule(t *testing.T) {
	t.Parallel()
	module, pkgs, err := Load(t.Context(), ".")
	if err != nil {
		t.Fatal(err)
	}
	// Guard against a vacuous pass: the core packages must have been seen.
	var own []string
	for _, p := range pkgs {
		if inModule(module, p.ImportPath) && !p.Standard {
			own = append(own, p.ImportPath)
			if p.Error != nil {
				t.Logf("go list reports a problem in %s (not checked here): %s", p.ImportPath, p.Error.Err)
			}
		}
	}
	for _, want := range []string{"domain", "ports", "ports/portsmock"} {
		if !slices.Contains(own, module+"/"+want) {
			t.Fatalf("go list did not report %s/%s; listed: %v", module, want, own)
		}
	}
	for _, v := range Check(module, pkgs, rules) {
		t.Error(v)
	}
	t.Logf("checked %d packages of %s against %d rules", len(own), module, len(rules))
}

// cliNetHTTPImporters are the only packages the CLI links that may
// import net/http: OpenTelemetry's propagation package (through app) names
// http.Header in its HeaderCarrier. No package of this module the CLI
// links may import it: the HTTP server lives in adapters/httpapi.
var cliNetHTTPImporters = []string{"go.opentelemetry.io/otel/propagation"}

// TestTheCLILinksNoServiceCode runs `go list -deps ./cmd/stent` and fails
// on fx, Prometheus, stentfx, the HTTP API or metrics adapters, and on any
// importer of net/http other than cliNetHTTPImporters.
func TestTheCLILinksNoServiceCode(t *testing.T) {
	t.Parallel()
	module, pkgs, err := Load(t.Context(), ".", "./cmd/stent")
	if err != nil {
		t.Fatal(err)
	}
	seen := false
	for _, p := range pkgs {
		seen = seen || p.ImportPath == module+"/cmd/stent/internal/cli"
		if slices.Contains(p.Imports, "net/http") && !slices.Contains(cliNetHTTPImporters, p.ImportPath) {
			t.Errorf("the CLI links %s, which imports net/http", p.ImportPath)
		}
	}
	if !seen {
		t.Fatalf("go list -deps ./cmd/stent did not list %s/cmd/stent/internal/cli", module)
	}
	var cli []Rule
	for _, r := range rules {
		if slices.Contains(r.Packages, "cmd/stent/...") {
			cli = append(cli, r)
		}
	}
	if len(cli) == 0 {
		t.Fatal("no rule covers cmd/stent")
	}
	for _, v := range Check(module, pkgs, cli) {
		t.Error(v)
	}
}

const mod = "github.com/stenthq/stent"

// stdlib marks the standard packages the synthetic graphs use.
var stdlib = []Package{
	{ImportPath: "context", Standard: true},
	{ImportPath: "fmt", Standard: true},
	{ImportPath: "database/sql", Standard: true},
}

func TestCheckerCatchesViolations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		pkg  Package
		// want lists the broken rules as "rule name | import"; empty: clean.
		want []string
	}{
		{
			name: "domain importing only the standard library is clean",
			pkg:  Package{ImportPath: mod + "/domain", Imports: []string{"fmt", "context"}},
		},
		{
			name: "domain importing a third-party module is caught",
			pkg:  Package{ImportPath: mod + "/domain", Imports: []string{"fmt", "github.com/google/uuid"}},
			want: []string{"domain imports only the standard library | github.com/google/uuid"},
		},
		{
			name: "domain importing ports is caught",
			pkg:  Package{ImportPath: mod + "/domain", Imports: []string{mod + "/ports"}},
			want: []string{"domain imports only the standard library | " + mod + "/ports"},
		},
		{
			name: "ports importing domain is clean",
			pkg:  Package{ImportPath: mod + "/ports", Imports: []string{"context", mod + "/domain"}},
		},
		{
			name: "ports importing an adapter is caught",
			pkg:  Package{ImportPath: mod + "/ports", Imports: []string{mod + "/domain", mod + "/adapters/memstore"}},
			want: []string{"ports imports only domain and the standard library | " + mod + "/adapters/memstore"},
		},
		{
			name: "ports/portsmock importing gomock is clean",
			pkg:  Package{ImportPath: mod + "/ports/portsmock", Imports: []string{mod + "/ports", mod + "/domain", "go.uber.org/mock/gomock"}},
		},
		{
			name: "ports/portsmock importing another mocking library is caught",
			pkg:  Package{ImportPath: mod + "/ports/portsmock", Imports: []string{"github.com/stretchr/testify/mock"}},
			want: []string{"ports/portsmock imports only domain, ports, go.uber.org/mock/gomock and the standard library | github.com/stretchr/testify/mock"},
		},
		{
			name: "an adapter importing ports, domain and its driver is clean",
			pkg:  Package{ImportPath: mod + "/adapters/sqlstore/pgxstore", Imports: []string{mod + "/ports", mod + "/domain", mod + "/adapters/sqlstore", "github.com/jackc/pgx/v5"}},
		},
		{
			name: "a driven adapter importing app is caught",
			pkg:  Package{ImportPath: mod + "/adapters/memstore", Imports: []string{mod + "/app"}},
			want: []string{"driven adapters never import app | " + mod + "/app"},
		},
		{
			name: "an adapter importing stentfx is caught",
			pkg:  Package{ImportPath: mod + "/adapters/redisnotify", Imports: []string{mod + "/stentfx"}},
			want: []string{"adapters never import stentfx or cmd | " + mod + "/stentfx"},
		},
		{
			name: "the HTTP API importing app, ports and net/http is clean",
			pkg:  Package{ImportPath: mod + "/adapters/httpapi", Imports: []string{mod + "/app", mod + "/ports", mod + "/domain", "net/http"}},
		},
		{
			name: "the HTTP API importing fx or stentfx is caught",
			pkg:  Package{ImportPath: mod + "/adapters/httpapi", Imports: []string{"go.uber.org/fx", mod + "/stentfx"}},
			want: []string{
				"adapters never import stentfx or cmd | " + mod + "/stentfx",
				"only stentfx and cmd import go.uber.org/fx | go.uber.org/fx",
			},
		},
		{
			name: "the HTTP API importing a store adapter is caught",
			pkg:  Package{ImportPath: mod + "/adapters/httpapi", Imports: []string{mod + "/adapters/sqlstore/pgxstore"}},
			want: []string{"an adapter never imports another adapter (the SQL driver packages may import the sqlstore core) | " + mod + "/adapters/sqlstore/pgxstore"},
		},
		{
			name: "prommetrics implementing app's metrics hooks is clean",
			pkg:  Package{ImportPath: mod + "/adapters/prommetrics", Imports: []string{mod + "/app", mod + "/ports", "github.com/prometheus/client_golang/prometheus"}},
		},
		{
			name: "storeurl opening both SQL stores is clean",
			pkg:  Package{ImportPath: mod + "/adapters/storeurl", Imports: []string{mod + "/adapters/sqlstore/sqlitestore", mod + "/adapters/sqlstore/pgxstore", mod + "/ports"}},
		},
		{
			name: "storeurl importing app or a notifier is caught",
			pkg:  Package{ImportPath: mod + "/adapters/storeurl", Imports: []string{mod + "/app", mod + "/adapters/redisnotify"}},
			want: []string{
				"an adapter never imports another adapter (the SQL driver packages may import the sqlstore core) | " + mod + "/adapters/redisnotify",
				"driven adapters never import app | " + mod + "/app",
			},
		},
		{
			name: "notifierurl opening the notifiers is clean",
			pkg: Package{ImportPath: mod + "/adapters/notifierurl", Imports: []string{mod + "/app", mod + "/adapters/storeurl",
				mod + "/adapters/pgnotify", mod + "/adapters/redisnotify"}},
		},
		{
			name: "ports importing the HTTP API or storeurl is caught",
			pkg:  Package{ImportPath: mod + "/ports", Imports: []string{mod + "/domain", mod + "/adapters/httpapi", mod + "/adapters/storeurl"}},
			want: []string{
				"ports imports only domain and the standard library | " + mod + "/adapters/httpapi",
				"ports imports only domain and the standard library | " + mod + "/adapters/storeurl",
			},
		},
		{
			name: "app depending on the HTTP API or prommetrics is caught",
			pkg: Package{ImportPath: mod + "/app", Imports: []string{mod + "/adapters/prommetrics"},
				Deps: []string{mod + "/adapters/prommetrics", mod + "/adapters/httpapi"}},
			want: []string{
				"app never depends on an adapter, a database or Redis driver, or fx | " + mod + "/adapters/httpapi",
				"app never depends on an adapter, a database or Redis driver, or fx | " + mod + "/adapters/prommetrics",
			},
		},
		{
			name: "the CLI linking storeurl, notifierurl and app is clean",
			pkg: Package{ImportPath: mod + "/cmd/stent/internal/cli", Imports: []string{mod + "/adapters/storeurl", mod + "/adapters/notifierurl", mod + "/app"},
				Deps: []string{mod + "/adapters/storeurl", mod + "/adapters/notifierurl", mod + "/app", "github.com/redis/go-redis/v9"}},
		},
		{
			name: "the CLI linking fx through stentfx is caught",
			pkg: Package{ImportPath: mod + "/cmd/stent/internal/cli", Imports: []string{mod + "/stentfx"},
				Deps: []string{mod + "/stentfx", "go.uber.org/fx", "github.com/prometheus/client_golang/prometheus", mod + "/adapters/httpapi"}},
			want: []string{
				"the CLI links no fx, Prometheus or HTTP service code | " + mod + "/adapters/httpapi",
				"the CLI links no fx, Prometheus or HTTP service code | " + mod + "/stentfx",
				"the CLI links no fx, Prometheus or HTTP service code | github.com/prometheus/client_golang/prometheus",
				"the CLI links no fx, Prometheus or HTTP service code | go.uber.org/fx",
			},
		},
		{
			name: "localwake over ports, domain and UDP is clean",
			pkg:  Package{ImportPath: mod + "/adapters/localwake", Imports: []string{mod + "/ports", mod + "/domain", "net", "os"}},
		},
		{
			name: "localwake importing app or a driver is caught",
			pkg:  Package{ImportPath: mod + "/adapters/localwake", Imports: []string{mod + "/app", "github.com/redis/go-redis/v9"}},
			want: []string{
				"adapters/localwake imports only ports, domain and the standard library | " + mod + "/app",
				"adapters/localwake imports only ports, domain and the standard library | github.com/redis/go-redis/v9",
				"driven adapters never import app | " + mod + "/app",
			},
		},
		{
			name: "an adapter importing another adapter is caught",
			pkg:  Package{ImportPath: mod + "/adapters/memstore", Imports: []string{mod + "/adapters/clock"}},
			want: []string{"an adapter never imports another adapter (the SQL driver packages may import the sqlstore core) | " + mod + "/adapters/clock"},
		},
		{
			name: "one SQL driver package importing the other is caught",
			pkg:  Package{ImportPath: mod + "/adapters/sqlstore/sqlitestore", Imports: []string{mod + "/adapters/sqlstore", mod + "/adapters/sqlstore/pgxstore"}},
			want: []string{"an adapter never imports another adapter (the SQL driver packages may import the sqlstore core) | " + mod + "/adapters/sqlstore/pgxstore"},
		},
		{
			name: "the SQL core importing a driver package is caught",
			pkg:  Package{ImportPath: mod + "/adapters/sqlstore", Imports: []string{mod + "/adapters/sqlstore/sqlitestore"}},
			want: []string{"an adapter never imports another adapter (the SQL driver packages may import the sqlstore core) | " + mod + "/adapters/sqlstore/sqlitestore"},
		},
		{
			name: "an adapter's own subpackages may import each other",
			pkg:  Package{ImportPath: mod + "/adapters/memstore/internal/index", Imports: []string{mod + "/adapters/memstore/internal/tree"}},
		},
		{
			name: "app importing ports and domain is clean",
			pkg:  Package{ImportPath: mod + "/app", Imports: []string{mod + "/ports", mod + "/domain"}, Deps: []string{"context", mod + "/domain", mod + "/ports"}},
		},
		{
			name: "app importing an adapter is caught",
			pkg:  Package{ImportPath: mod + "/app", Imports: []string{mod + "/adapters/memstore"}, Deps: []string{mod + "/adapters/memstore"}},
			want: []string{"app never depends on an adapter, a database or Redis driver, or fx | " + mod + "/adapters/memstore"},
		},
		{
			name: "app depending on a driver indirectly is caught",
			pkg:  Package{ImportPath: mod + "/app/worker", Imports: []string{"example.com/orm"}, Deps: []string{"example.com/orm", "github.com/jackc/pgx/v5", "github.com/jackc/pgx/v5/pgconn"}},
			want: []string{
				"app never depends on an adapter, a database or Redis driver, or fx | github.com/jackc/pgx/v5",
				"app never depends on an adapter, a database or Redis driver, or fx | github.com/jackc/pgx/v5/pgconn",
			},
		},
		{
			name: "app importing fx is caught twice",
			pkg:  Package{ImportPath: mod + "/app", Imports: []string{"go.uber.org/fx"}, Deps: []string{"go.uber.org/fx"}},
			want: []string{
				"app never depends on an adapter, a database or Redis driver, or fx | go.uber.org/fx",
				"only stentfx and cmd import go.uber.org/fx | go.uber.org/fx",
			},
		},
		{
			name: "stentfx and cmd may import fx and adapters",
			pkg:  Package{ImportPath: mod + "/cmd/stentd", Imports: []string{"go.uber.org/fx", mod + "/stentfx", mod + "/adapters/sqlstore/sqlitestore"}},
		},
		{
			name: "an example importing fx is caught",
			pkg:  Package{ImportPath: mod + "/examples/orders", Imports: []string{"go.uber.org/fx/fxevent"}},
			want: []string{"only stentfx and cmd import go.uber.org/fx | go.uber.org/fx/fxevent"},
		},
		{
			name: "a non-test import of tests/contract is caught",
			pkg:  Package{ImportPath: mod + "/adapters/memstore", Imports: []string{mod + "/tests/contract"}},
			want: []string{"tests/contract is imported only from _test.go files | " + mod + "/tests/contract"},
		},
		{
			name: "the notifier core importing an adapter or app is caught",
			pkg:  Package{ImportPath: mod + "/internal/notifycore", Imports: []string{mod + "/domain", mod + "/ports", mod + "/app", "github.com/redis/go-redis/v9"}},
			want: []string{
				"internal/notifycore imports only domain, ports and the standard library | " + mod + "/app",
				"internal/notifycore imports only domain, ports and the standard library | github.com/redis/go-redis/v9",
			},
		},
		{
			name: "the three notifiers may import the notifier core",
			pkg:  Package{ImportPath: mod + "/app", Imports: []string{mod + "/internal/notifycore", mod + "/ports"}},
		},
		{
			name: "another package importing the notifier core or its test helpers is caught",
			pkg:  Package{ImportPath: mod + "/adapters/memstore", Imports: []string{mod + "/internal/notifycore", mod + "/internal/notifycore/notifycoretest"}},
			want: []string{
				"internal/notifycore/notifycoretest is imported only from _test.go files | " + mod + "/internal/notifycore/notifycoretest",
				"only the three notifiers (app's LocalNotifier, pgnotify, redisnotify) import internal/notifycore | " + mod + "/internal/notifycore",
			},
		},
		{
			name: "the engine scenarios importing app and tests/contract is clean",
			pkg: Package{ImportPath: mod + "/tests/contract/scenario", Imports: []string{mod + "/app", mod + "/ports"},
				Deps: []string{mod + "/app", mod + "/ports", mod + "/domain"}},
		},
		{
			name: "the port suites depending on app is caught",
			pkg: Package{ImportPath: mod + "/tests/contract", Imports: []string{mod + "/tests/contract/scenario"},
				Deps: []string{mod + "/tests/contract/scenario", mod + "/app"}},
			want: []string{"the port suites in tests/contract never depend on app | " + mod + "/app"},
		},
		{
			name: "a non-test import of internal/testenv is caught",
			pkg:  Package{ImportPath: mod + "/stentfx", Imports: []string{mod + "/internal/testenv/teststore"}},
			want: []string{"internal/testenv is imported only from _test.go files | " + mod + "/internal/testenv/teststore"},
		},
		{
			name: "a tool module in the runtime graph is caught",
			pkg:  Package{ImportPath: mod + "/ports", Imports: []string{mod + "/domain"}, Deps: []string{mod + "/domain", "honnef.co/go/tools/lintcmd", "go.uber.org/mock/mockgen/model"}},
			want: []string{
				"the tool modules (mockgen, staticcheck) stay out of the runtime graph | go.uber.org/mock/mockgen/model",
				"the tool modules (mockgen, staticcheck) stay out of the runtime graph | honnef.co/go/tools/lintcmd",
			},
		},
		{
			name: "packages outside the module are not checked",
			pkg:  Package{ImportPath: "example.com/other/domain", Imports: []string{"go.uber.org/fx"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pkgs := append(slices.Clone(stdlib), tc.pkg)
			var got []string
			for _, v := range Check(mod, pkgs, rules) {
				got = append(got, v.Rule+" | "+v.Import)
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(got, want) {
				t.Fatalf("violations:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
		})
	}
}

func TestViolationMessageNamesThePackageTheImportAndTheRule(t *testing.T) {
	t.Parallel()
	pkgs := append(slices.Clone(stdlib), Package{
		ImportPath: mod + "/app",
		Imports:    []string{mod + "/ports"},
		Deps:       []string{mod + "/ports", "modernc.org/sqlite"},
	}, Package{
		ImportPath: mod + "/domain",
		Imports:    []string{"database/sql", "github.com/google/uuid"},
	})
	var got []string
	for _, v := range Check(mod, pkgs, rules) {
		got = append(got, v.String())
	}
	want := []string{
		mod + `/app depends on modernc.org/sqlite, which breaks the rule "app never depends on an adapter, a database or Redis driver, or fx"`,
		mod + `/domain imports github.com/google/uuid, which breaks the rule "domain imports only the standard library"`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("messages:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestUnlistedImportsAreClassifiedByTheirPath(t *testing.T) {
	t.Parallel()
	// An import go list could not resolve (e.g. a module missing from
	// go.mod) is still judged: a dotted first element is not standard.
	pkgs := []Package{{ImportPath: mod + "/domain", Imports: []string{"strings", "example.com/x", "C"}}}
	var got []string
	for _, v := range Check(mod, pkgs, rules) {
		got = append(got, v.Import)
	}
	if want := []string{"C", "example.com/x"}; !slices.Equal(got, want) {
		t.Fatalf("violations for unlisted imports = %v, want %v", got, want)
	}
}

func TestPatterns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"domain", mod + "/domain", true},
		{"domain", mod + "/domain/x", false},
		{"domain/...", mod + "/domain", true},
		{"domain/...", mod + "/domain/x/y", true},
		{"domain/...", mod + "/domainx", false},
		{"...", mod, true},
		{"...", mod + "/anything/below", true},
		{"...", "github.com/other/mod", false},
		{"go.uber.org/fx/...", "go.uber.org/fx", true},
		{"go.uber.org/fx/...", "go.uber.org/fxtest", false},
		{"go.uber.org/mock/gomock", "go.uber.org/mock/gomock", true},
	}
	for _, tc := range tests {
		if got := match(mod, tc.pattern, tc.path); got != tc.want {
			t.Errorf("match(%q, %q) = %v, want %v", tc.pattern, tc.path, got, tc.want)
		}
	}
	comps := []string{"adapters/sqlstore/sqlitestore", "adapters/*"}
	for path, want := range map[string]string{
		mod + "/adapters/sqlstore/sqlitestore/x": mod + "/adapters/sqlstore/sqlitestore",
		mod + "/adapters/sqlstore/dialect":       mod + "/adapters/sqlstore",
		mod + "/adapters/memstore":               mod + "/adapters/memstore",
		mod + "/adapters":                        "",
		mod + "/app":                             "",
	} {
		if got := component(mod, comps, path); got != want {
			t.Errorf("component(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestLoadAndCheckCatchAViolationInARealModule(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":                             "module " + mod + "\n\ngo 1.26\n",
		"domain/domain.go":                   "package domain\n\nimport _ \"" + mod + "/ports\"\n",
		"ports/ports.go":                     "package ports\n\nimport _ \"fmt\"\n",
		"app/app.go":                         "package app\n\nimport _ \"" + mod + "/adapters/memstore\"\n",
		"adapters/memstore/memstore.go":      "package memstore\n\nimport _ \"" + mod + "/ports\"\n",
		"adapters/memstore/memstore_test.go": "package memstore\n\nimport _ \"" + mod + "/tests/contract\"\n",
		"tests/contract/contract.go":         "package contract\n\nimport _ \"" + mod + "/ports\"\n",
	}
	for name, body := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	module, pkgs, err := Load(t.Context(), filepath.Join(dir, "adapters"))
	if err != nil {
		t.Fatal(err)
	}
	if module != mod {
		t.Fatalf("module = %q, want %q", module, mod)
	}
	var got []string
	for _, v := range Check(module, pkgs, rules) {
		got = append(got, v.String())
	}
	// The test-only import of tests/contract is fine; the two real
	// violations are reported.
	want := []string{
		mod + `/app depends on ` + mod + `/adapters/memstore, which breaks the rule "app never depends on an adapter, a database or Redis driver, or fx"`,
		mod + `/domain imports ` + mod + `/ports, which breaks the rule "domain imports only the standard library"`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("violations:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
