package pgxstore_test

import (
	"testing"

	"github.com/stenthq/stent/ports"
	"github.com/stenthq/stent/tests/contract"
)

func TestEngine(t *testing.T) {
	t.Parallel()
	contract.RunEngine(t, func(t *testing.T) ports.Store { return newTestStore(t) }, contract.EngineCaps{Name: "postgres"})
}
