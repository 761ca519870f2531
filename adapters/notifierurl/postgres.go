package notifierurl

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stenthq/stent/adapters/pgnotify"
	"github.com/stenthq/stent/adapters/storeurl"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// openPostgres builds the PostgreSQL LISTEN/NOTIFY notifier on the
// database db names, with a small pool of its own for publishing (the
// listening session is one more connection). An unreachable database is
// not an error: the notifier reconnects in the background and reports
// itself degraded meanwhile.
func openPostgres(db string, log *slog.Logger) (ports.Notifier, error) {
	masked := storeurl.Mask(db)
	pcfg, err := pgxpool.ParseConfig(db)
	if err != nil {
		return nil, fmt.Errorf("notifierurl: %w", domain.InvalidArgument("PostgreSQL notifier on %q: %s", masked,
			storeurl.Scrub(strings.ReplaceAll(err.Error(), db, masked), db)))
	}
	pcfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		return nil, fmt.Errorf("notifierurl: postgres notifier on %s: %w", masked, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := pgnotify.New(ctx, pool, pgnotify.Config{Logger: log.With("component", "pgnotify")})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("notifierurl: postgres notifier on %s: %w", masked, err)
	}
	return &ownedNotifier{Notifier: n, health: n, closeAlso: func() error { pool.Close(); return nil }}, nil
}
