package stentfx_test

import (
	"testing"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/stentfx"
)

func TestTheServiceKeepsWhatCleanupKeeps(t *testing.T) {
	t.Parallel()
	if got := stentfx.DefaultConfig().Retention; got != app.DefaultRetention {
		t.Errorf("stentd's default retention is %s; want app.DefaultRetention (%s), `stent cleanup`'s default", got, app.DefaultRetention)
	}
}
