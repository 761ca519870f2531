package app_test

import (
	"testing"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/tests/contract"
)

// TestLocalNotifierContract runs the notifier contract on the in-process
// notifier. One instance serves a process, so A plays both roles and
// another instance is another namespace.
func TestLocalNotifierContract(t *testing.T) {
	t.Parallel()
	contract.RunNotifier(t, func(t *testing.T) contract.NotifierPair {
		a, other := app.NewLocalNotifier(), app.NewLocalNotifier()
		t.Cleanup(func() { _ = a.Close(); _ = other.Close() })
		return contract.NotifierPair{A: a, Other: other}
	}, contract.NotifierCaps{Name: "local"})
}
