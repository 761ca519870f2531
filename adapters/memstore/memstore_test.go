package memstore_test

import (
	"testing"

	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/ports"
	"github.com/stenthq/stent/tests/contract"
)

func TestContract(t *testing.T) {
	contract.RunStore(t, func(t *testing.T) ports.Store {
		s := memstore.New()
		t.Cleanup(func() { _ = s.Close() })
		return s
	}, contract.StoreCaps{Name: "memstore"})
}
