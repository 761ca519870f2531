package stentfx

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stenthq/stent/adapters/pgnotify"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// newPostgresNotifier builds the PostgreSQL LISTEN/NOTIFY notifier on the
// database of cfg.DB, with a small pool of its own for publishing (the
// listening session is one more connection). An unreachable database is
// not an error: the notifier reconnects in the background and reports
// itself degraded meanwhile.
func newPostgresNotifier(cfg Config, log *slog.Logger) (ports.Notifier, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.DB)
	if err != nil {
		return nil, &ConfigError{Source: "STENT_DB", Value: MaskDSN(cfg.DB),
			Err: domain.InvalidArgument("%s", strings.ReplaceAll(err.Error(), cfg.DB, MaskDSN(cfg.DB)))}
	}
	pcfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		return nil, fmt.Errorf("stentfx: postgres notifier on %s: %w", MaskDSN(cfg.DB), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := pgnotify.New(ctx, pool, pgnotify.Config{Logger: log.With("component", "pgnotify")})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("stentfx: postgres notifier on %s: %w", MaskDSN(cfg.DB), err)
	}
	return &ownedNotifier{Notifier: n, health: n, closeAlso: func() error { pool.Close(); return nil }}, nil
}
