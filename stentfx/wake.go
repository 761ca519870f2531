package stentfx

import (
	"context"
	"log/slog"

	"go.uber.org/fx"

	"github.com/stenthq/stent/adapters/localwake"
	"github.com/stenthq/stent/adapters/notifierurl"
	"github.com/stenthq/stent/adapters/storeurl"
	"github.com/stenthq/stent/ports"
)

// WakeModule lets `stent` commands on the service's SQLite file wake it
// at once (dispatch, signal, cancel, dlq replay): when the notifier is
// in-process and the store SQLite, it decorates the notifier with a
// localwake.Listener, which reads events on a loopback UDP port recorded
// beside the database (DB-wake-PORT) and publishes them in-process. On
// PostgreSQL or with Redis the shared notifier already carries them, and
// the module does nothing. A listener that cannot start is logged and
// skipped: the service then hears CLI commands on its next poll.
//
// It is an fx.Decorate at the level it is included, so Module puts it
// beside NotifierModule.
var WakeModule = fx.Options(fx.Decorate(decorateWake))

type wakeIn struct {
	fx.In
	Config    Config
	Logger    *slog.Logger
	Lifecycle fx.Lifecycle
	Notifier  ports.Notifier
}

func decorateWake(p wakeIn) ports.Notifier {
	if notifierurl.KindOf(p.Config.notifierOptions(nil)) != notifierurl.Local {
		return p.Notifier
	}
	if b, err := storeurl.Parse(p.Config.DB); err != nil || b != storeurl.SQLite {
		return p.Notifier
	}
	path, err := storeurl.SQLitePath(p.Config.DB)
	if err != nil {
		return p.Notifier
	}
	log := p.Logger.With("component", "localwake")
	l, err := localwake.Listen(p.Notifier, localwake.Config{DBPath: path, Logger: log})
	if err != nil {
		log.Warn("CLI commands on this SQLite file will wait for the next poll: no loopback wake-ups", "error", err)
		return p.Notifier
	}
	log.Info("listening for CLI wake-ups", "addr", l.Addr(), "file", l.File())
	p.Lifecycle.Append(fx.StopHook(func(context.Context) error { return l.Close() }))
	return l
}
