package pgnotify

import "github.com/stenthq/stent/internal/notifycore"

// DefaultPrefix is the channel prefix used when Config.Prefix is empty.
const DefaultPrefix = notifycore.DefaultPrefix

// DefaultApplicationName is the application_name of the listening
// connection when Config.ApplicationName is empty.
const DefaultApplicationName = "stent-notifier"

// Config tunes the notifier; the zero value works. It is the settings
// both networked notifiers share: Prefix is prepended to a topic's kind
// to form its channel ("stent:task" carries every task:<id> topic; see
// the package doc); ApplicationName names the listening connection;
// ConfirmTimeout bounds each LISTEN, UNLISTEN and health probe;
// HealthCheckInterval paces the idle probe, which also unlistens the
// channels nobody wants any more. See notifycore.Config for every field.
type Config = notifycore.Config
