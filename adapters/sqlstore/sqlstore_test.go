package sqlstore

import (
	"strings"
	"testing"
)

func TestMigrationsAreContiguousForEveryDialect(t *testing.T) {
	t.Parallel()
	for _, d := range []string{"sqlite", "postgres"} {
		ms, err := Migrations(d)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		if len(ms) == 0 {
			t.Fatalf("%s: no migrations", d)
		}
		for i, m := range ms {
			if m.Version != i+1 || m.Name == "" || !strings.Contains(m.SQL, "CREATE") && i == 0 {
				t.Errorf("%s: migration %d = version %d %q", d, i, m.Version, m.Name)
			}
		}
	}
}

func TestRebindDollarNumbersPlaceholdersInOrder(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"SELECT 1":                          "SELECT 1",
		"a = ? AND b = ANY(?::text[])":      "a = $1 AND b = ANY($2::text[])",
		"INSERT INTO t VALUES (?, ?, ?, ?)": "INSERT INTO t VALUES ($1, $2, $3, $4)",
	}
	for in, want := range cases {
		if got := RebindDollar(in); got != want {
			t.Errorf("RebindDollar(%q) = %q; want %q", in, got, want)
		}
	}
}
