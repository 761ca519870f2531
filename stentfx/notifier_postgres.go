package stentfx

import (
	"fmt"
	"log/slog"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// newPostgresNotifier builds the PostgreSQL LISTEN/NOTIFY notifier on
// cfg.DB.
func newPostgresNotifier(Config, *slog.Logger) (ports.Notifier, error) {
	return nil, &ConfigError{Source: "STENT_NOTIFIER", Value: NotifierPostgres,
		Err: fmt.Errorf("%w: the PostgreSQL notifier is not available in this build; use redis or local", domain.ErrInvalidArgument)}
}
