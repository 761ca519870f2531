package scenario_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stenthq/stent/tests/contract"
	"github.com/stenthq/stent/tests/contract/scenario"
)

// TestStoreAdaptersDocNamesEveryArea keeps docs/store-adapters.md in step
// with the suites: every store contract area (contract.AreaNames) and every
// engine scenario group (scenario.GroupNames) has a row of its own in the
// doc's tables, and the counts the doc (and the specification's §6.6)
// state are the suites' counts.
func TestStoreAdaptersDocNamesEveryArea(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "store-adapters.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	rows := map[string]bool{}
	for _, line := range strings.Split(doc, "\n") {
		if cells := strings.Split(line, "|"); len(cells) > 2 && strings.HasPrefix(line, "| ") {
			rows[strings.TrimSpace(cells[1])] = true
		}
	}
	for _, c := range []struct {
		what, count string
		names       []string
	}{
		{"store contract area", "`RunStore` runs %d areas", contract.AreaNames()},
		{"engine scenario group", "`scenario.RunEngine` runs %d scenario groups", scenario.GroupNames()},
	} {
		for _, name := range c.names {
			if !rows[name] {
				t.Errorf("docs/store-adapters.md has no table row for the %s %q", c.what, name)
			}
		}
		if want := fmt.Sprintf(c.count, len(c.names)); !strings.Contains(doc, want) {
			t.Errorf("docs/store-adapters.md does not say %q", want)
		}
	}
	spec, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "specification.md"))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("`tests/contract.RunStore` runs %d areas", len(contract.AreaNames())); !strings.Contains(string(spec), want) {
		t.Errorf("docs/specification.md does not say %q", want)
	}
}
