package pgxstore_test

import (
	"testing"

	"github.com/stenthq/stent/ports"
	"github.com/stenthq/stent/tests/contract"
)

func TestContract(t *testing.T) {
	t.Parallel()
	contract.RunStore(t, func(t *testing.T) ports.Store { return newTestStore(t) }, contract.StoreCaps{Name: "postgres"})
}
