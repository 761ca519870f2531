package stentfx_test

import (
	"strings"
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

func TestTheHelpDescribesAutoAsItResolves(t *testing.T) {
	t.Parallel()
	usage := stentfx.ConfigUsage()
	for _, want := range []string{"auto (Redis when STENT_REDIS_URL is set", "else LISTEN/NOTIFY on a PostgreSQL STENT_DB", "else in-process"} {
		if !strings.Contains(usage, want) {
			t.Errorf("stentd --help does not say %q about the auto notifier:\n%s", want, usage)
		}
	}
}
