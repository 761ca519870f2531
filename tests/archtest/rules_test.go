package archtest

// The dependency rule of ARCHITECTURE.md, as data.
//
// Patterns: a pattern whose first element has no dot is relative to the
// module root ("domain", "adapters/..."); any other pattern is a full import
// path ("go.uber.org/fx/..."). A trailing "/..." matches the package and
// everything below it; "..." alone matches every package of the module.
var rules = []Rule{
	{
		Name:      "domain imports only the standard library",
		Packages:  []string{"domain/..."},
		AllowOnly: true,
	},
	{
		Name:      "ports imports only domain and the standard library",
		Packages:  []string{"ports/..."},
		Except:    []string{"ports/portsmock/..."},
		AllowOnly: true,
		Allow:     []string{"domain/..."},
	},
	{
		Name:      "ports/portsmock imports only domain, ports, go.uber.org/mock/gomock and the standard library",
		Packages:  []string{"ports/portsmock/..."},
		AllowOnly: true,
		Allow:     []string{"domain/...", "ports", "go.uber.org/mock/gomock"},
	},
	{
		Name:     "adapters never import stentfx or cmd",
		Packages: []string{"adapters/..."},
		Forbid:   []string{"stentfx/...", "cmd/...", "examples/..."},
	},
	{
		// httpapi drives the engine, prommetrics implements its metrics
		// hooks, notifierurl opens its in-process notifier.
		Name:     "driven adapters never import app",
		Packages: []string{"adapters/..."},
		Except:   []string{"adapters/httpapi/...", "adapters/prommetrics/...", "adapters/notifierurl/..."},
		Forbid:   []string{"app/..."},
	},
	{
		Name:     "an adapter never imports another adapter (the SQL driver packages may import the sqlstore core)",
		Packages: []string{"adapters/..."},
		Forbid:   []string{"adapters/..."},
		// Each of these is one adapter: its packages may import each other.
		// The first pattern that matches a package names its adapter; "*"
		// stands for one path element.
		Components: []string{"adapters/sqlstore/sqlitestore", "adapters/sqlstore/pgxstore", "adapters/*"},
		Exempt: []Exemption{
			{From: "adapters/sqlstore/sqlitestore/...", To: "adapters/sqlstore"},
			{From: "adapters/sqlstore/sqlitestore/...", To: "adapters/sqlstore/internal/..."},
			{From: "adapters/sqlstore/pgxstore/...", To: "adapters/sqlstore"},
			{From: "adapters/sqlstore/pgxstore/...", To: "adapters/sqlstore/internal/..."},
			// The openers compose what they open: storeurl the SQL stores,
			// notifierurl the notifiers (and storeurl, to read the store URL).
			{From: "adapters/storeurl/...", To: "adapters/sqlstore/sqlitestore"},
			{From: "adapters/storeurl/...", To: "adapters/sqlstore/pgxstore"},
			{From: "adapters/notifierurl/...", To: "adapters/storeurl"},
			{From: "adapters/notifierurl/...", To: "adapters/pgnotify"},
			{From: "adapters/notifierurl/...", To: "adapters/redisnotify"},
		},
	},
	{
		// The loopback wake-up of SQLite deployments is a driven adapter
		// over the standard library's UDP: stentfx and the CLI compose it.
		Name:      "adapters/localwake imports only ports, domain and the standard library",
		Packages:  []string{"adapters/localwake/..."},
		AllowOnly: true,
		Allow:     []string{"domain/...", "ports"},
	},
	{
		Name:       "app never depends on an adapter, a database or Redis driver, or fx",
		Packages:   []string{"app/..."},
		Transitive: true,
		Forbid: []string{
			"adapters/...", "stentfx/...", "cmd/...",
			"github.com/jackc/pgx/...", "github.com/lib/pq/...",
			"modernc.org/sqlite/...", "github.com/mattn/go-sqlite3/...",
			"github.com/redis/go-redis/...",
			"go.uber.org/fx/...", "go.uber.org/dig/...",
		},
	},
	{
		// The engine's rooms (features/034): app is the public API; the
		// machinery behind it lives in app/internal/*, which sees only the
		// ports, the domain and the rooms below it.
		Name:      "app/internal imports only domain, ports, other app/internal packages and the standard library",
		Packages:  []string{"app/internal/..."},
		AllowOnly: true,
		Allow:     []string{"domain/...", "ports", "app/internal/..."},
	},
	{
		Name:       "the leaf rooms (durable, batch, slots, hint) import no other app/internal package",
		Packages:   []string{"app/internal/durable/...", "app/internal/batch/...", "app/internal/slots/...", "app/internal/hint/..."},
		Forbid:     []string{"app/internal/..."},
		Components: []string{"app/internal/*"},
	},
	{
		Name:       "app/internal/wait imports only the hint room",
		Packages:   []string{"app/internal/wait/..."},
		Forbid:     []string{"app/internal/..."},
		Components: []string{"app/internal/*"},
		Exempt:     []Exemption{{From: "app/internal/wait/...", To: "app/internal/hint"}},
	},
	{
		Name:     "app/internal/run never imports the claim loop (worker imports run, not the reverse)",
		Packages: []string{"app/internal/run/..."},
		Forbid:   []string{"app/internal/worker/..."},
	},
	{
		Name:     "only app imports app/internal/worker",
		Packages: []string{"..."},
		Except:   []string{"app", "app/internal/worker/..."},
		Forbid:   []string{"app/internal/worker/..."},
	},
	{
		// The notifier core serves app's LocalNotifier too, so it may
		// import no more than app's own inner layers.
		Name:      "internal/notifycore imports only domain, ports and the standard library",
		Packages:  []string{"internal/notifycore"},
		AllowOnly: true,
		Allow:     []string{"domain/...", "ports"},
	},
	{
		Name:     "only the three notifiers (app's LocalNotifier, pgnotify, redisnotify) import internal/notifycore",
		Packages: []string{"..."},
		Except:   []string{"app", "adapters/pgnotify", "adapters/redisnotify", "internal/notifycore/..."},
		Forbid:   []string{"internal/notifycore"},
	},
	{
		Name:     "internal/notifycore/notifycoretest is imported only from _test.go files",
		Packages: []string{"..."},
		Except:   []string{"internal/notifycore/notifycoretest"},
		Forbid:   []string{"internal/notifycore/notifycoretest/..."},
	},
	{
		Name:     "only stentfx and cmd import go.uber.org/fx", // and the fx example service
		Packages: []string{"..."},
		Except:   []string{"stentfx/...", "cmd/...", "examples/fxservice"},
		Forbid:   []string{"go.uber.org/fx/...", "go.uber.org/dig/..."},
	},
	{
		// The replayer runs the engine on a throwaway in-memory store: it
		// composes app and memstore, and nothing else (no SQL driver, no fx).
		Name:      "replay imports only app, memstore, ports, domain and the standard library",
		Packages:  []string{"replay/..."},
		AllowOnly: true,
		Allow:     []string{"app", "adapters/memstore", "ports", "domain/..."},
	},
	{
		Name:       "the CLI links no fx, Prometheus or HTTP service code",
		Packages:   []string{"cmd/stent/..."},
		Transitive: true,
		Forbid: []string{
			"go.uber.org/fx/...", "go.uber.org/dig/...", "github.com/prometheus/...",
			"stentfx/...", "adapters/httpapi/...", "adapters/prommetrics/...",
		},
	},
	{
		Name:     "tests/contract is imported only from _test.go files",
		Packages: []string{"..."},
		Except:   []string{"tests/contract/..."},
		Forbid:   []string{"tests/contract/..."},
	},
	{
		// The engine scenarios (tests/contract/scenario) drive app; the
		// port suites check a store or notifier on its own.
		Name:       "the port suites in tests/contract never depend on app",
		Packages:   []string{"tests/contract"},
		Transitive: true,
		Forbid:     []string{"app/...", "stenttest/..."},
	},
	{
		// The test engine for users' own tests (features/047) composes an
		// engine on the in-memory or SQLite store with the fake clock.
		Name:      "stenttest imports only app, domain, ports, memstore, sqlitestore, the clock adapter and the standard library",
		Packages:  []string{"stenttest/..."},
		AllowOnly: true,
		Allow: []string{"app", "domain/...", "ports", "adapters/memstore", "adapters/sqlstore/sqlitestore",
			"adapters/clock"},
	},
	{
		Name:     "stenttest is imported only from _test.go files",
		Packages: []string{"..."},
		Except:   []string{"stenttest/..."},
		Forbid:   []string{"stenttest/..."},
	},
	{
		Name:     "internal/testenv is imported only from _test.go files",
		Packages: []string{"..."},
		Except:   []string{"internal/testenv/..."},
		Forbid:   []string{"internal/testenv/..."},
	},
	{
		Name:       "the tool modules (mockgen, staticcheck) stay out of the runtime graph",
		Packages:   []string{"..."},
		Transitive: true,
		Forbid:     []string{"go.uber.org/mock/mockgen/...", "honnef.co/go/tools/..."},
	},
}
