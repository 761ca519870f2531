package memstore_test

import (
	"testing"

	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/ports"
	"github.com/stenthq/stent/tests/contract"
)

func newStore(t *testing.T) ports.Store {
	s := memstore.New()
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestEngine(t *testing.T) {
	contract.RunEngine(t, newStore, contract.EngineCaps{Name: "memstore"})
}
