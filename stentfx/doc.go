// Package stentfx wires Stent's adapters and engine with go.uber.org/fx,
// and holds the helpers the binaries share (opening a store by DSN). Every
// constructor is exported and usable without fx.
package stentfx

import "github.com/stenthq/stent/ports"

// MigratingStore is a store with a versioned schema: both SQL stores.
type MigratingStore interface {
	ports.Store
	ports.Migrator
}
