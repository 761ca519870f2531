package sqlitestore

import (
	"bytes"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/sqlstore"
)

// TestRowSet reads row sets back through SQLite: a one-column set is a
// flat JSON array (json_each's value as it is), a wider one an array of
// arrays; both give back text, bytes, times, integers and NULLs.
func TestRowSet(t *testing.T) {
	t.Parallel()
	db := rawDB(t)
	d := dialect{}
	at := time.Date(2026, 12, 6, 14, 5, 3, 123456000, time.UTC)

	for _, c := range []sqlstore.Column{{Name: "v_text", Type: sqlstore.ColText}, {Name: "v_bytes", Type: sqlstore.ColBytes},
		{Name: "v_time", Type: sqlstore.ColTime}, {Name: "v_int", Type: sqlstore.ColInt}} {
		t.Run("one column "+c.Name, func(t *testing.T) {
			var in []any
			switch c.Type {
			case sqlstore.ColText:
				in = []any{"customer-1", "", nil, `quote " and \ slash`}
			case sqlstore.ColBytes:
				in = []any{[]byte{0, 1, 0xff}, nil}
			case sqlstore.ColTime:
				in = []any{at, nil}
			case sqlstore.ColInt:
				in = []any{int64(7), int64(-1), nil}
			}
			rows := make([][]any, len(in))
			for i, v := range in {
				rows[i] = []any{v}
			}
			cols := []sqlstore.Column{c}
			got, err := db.Query(`SELECT `+c.Name+` FROM `+d.RowSet("s", cols), d.RowSetArgs(cols, rows)...)
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			i := 0
			for ; got.Next(); i++ {
				var v any
				if err := got.Scan(&v); err != nil {
					t.Fatal(err)
				}
				if !sameValue(c.Type, in[i], v) {
					t.Errorf("row %d: got %#v, want %#v", i, v, in[i])
				}
			}
			if err := got.Err(); err != nil {
				t.Fatal(err)
			}
			if i != len(in) {
				t.Fatalf("got %d rows, want %d", i, len(in))
			}
		})
	}

	t.Run("two columns", func(t *testing.T) {
		cols := []sqlstore.Column{{Name: "a", Type: sqlstore.ColText}, {Name: "b", Type: sqlstore.ColInt}}
		var a string
		var b int64
		err := db.QueryRow(`SELECT a, b FROM `+d.RowSet("s", cols), d.RowSetArgs(cols, [][]any{{"k", int64(3)}})...).Scan(&a, &b)
		if err != nil || a != "k" || b != 3 {
			t.Fatalf("got %q, %d, %v; want k, 3", a, b, err)
		}
	})
}

// sameValue compares a value put in a row set with what SQLite gave back.
func sameValue(typ sqlstore.ColType, in, out any) bool {
	if in == nil {
		return out == nil
	}
	switch typ {
	case sqlstore.ColText:
		s, ok := out.(string)
		return ok && s == in.(string)
	case sqlstore.ColBytes:
		b, ok := out.([]byte)
		return ok && bytes.Equal(b, in.([]byte))
	case sqlstore.ColTime:
		n, ok := out.(int64)
		return ok && n == sqlstore.TimeToMicros(in.(time.Time))
	default:
		n, ok := out.(int64)
		return ok && n == in.(int64)
	}
}
