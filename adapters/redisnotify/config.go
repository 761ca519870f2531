package redisnotify

import "github.com/stenthq/stent/internal/notifycore"

// DefaultPrefix is the channel prefix used when Config.Prefix is empty.
const DefaultPrefix = notifycore.DefaultPrefix

// Config tunes the notifier; the zero value works. It is the settings
// both networked notifiers share: Prefix is prepended to every topic to
// form its Redis channel ("stent:task:<id>"); ConfirmTimeout bounds the
// wait for Redis to confirm a SUBSCRIBE; HealthCheckInterval paces the
// PING probe; ApplicationName must stay empty (name the client with
// redis.Options.ClientName). See notifycore.Config for every field.
type Config = notifycore.Config
