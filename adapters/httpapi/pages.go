package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Lists page by keyset: a page answers "next", an opaque cursor naming
// the last row it holds, and ?cursor=<next> returns the rows after that
// row in the list's order. Unlike ?offset= (deprecated, still accepted),
// a cursor never skips or repeats a row while rows are added or removed.
// The cursor is base64url (no padding) of a small JSON object; clients
// must treat it as opaque.

// The lists a cursor can page; a cursor of one list is refused by another.
const (
	listExecutions  = "executions"
	listDeadLetters = "dead-letters"
	listWorkers     = "workers"
	listSignals     = "signals"
	listSchedules   = "schedules"
	listQueues      = "queues"
)

// cursor is a decoded ?cursor=: the list it pages and the key of the last
// row of the previous page. Executions and dead letters: At and ID
// (created_at or moved_at, and the id); workers: N (0 live, 1 other) and
// ID; signals: ID (the name) and N (the seq).
type cursor struct {
	List string    `json:"l"`
	At   time.Time `json:"t,omitzero"`
	ID   string    `json:"i"`
	N    int64     `json:"n,omitempty"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (c cursor) keyset() *ports.Keyset { return &ports.Keyset{At: c.At, ID: c.ID} }

// pageParams is a list request's ?limit=, ?offset= and ?cursor=.
type pageParams struct {
	limit, offset int
	after         *cursor
}

// MaxCursorBytes bounds a ?cursor= value.
const MaxCursorBytes = 2048

// page reads ?limit= (default 100, at most MaxListLimit), ?offset=
// (deprecated) and ?cursor= for the list named list; a bad value is
// answered 400 naming it (ok false).
func (h *Handler) page(w http.ResponseWriter, r *http.Request, list string) (p pageParams, ok bool) {
	q := r.URL.Query()
	p.limit = 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxListLimit {
			writeError(w, http.StatusBadRequest, "invalid_argument", fmt.Sprintf("limit %q: want a whole number from 1 to %d", v, MaxListLimit), nil)
			return p, false
		}
		p.limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "invalid_argument", fmt.Sprintf("offset %q: want a whole number from 0 (offset is deprecated: page with cursor)", v), nil)
			return p, false
		}
		p.offset = n
	}
	if v := q.Get("cursor"); v != "" {
		c, err := decodeCursor(v, list)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_argument", err.Error(), nil)
			return p, false
		}
		if p.offset != 0 {
			writeError(w, http.StatusBadRequest, "invalid_argument",
				fmt.Sprintf("cursor and offset %d cannot be combined; drop offset (deprecated) and page with cursor alone", p.offset), nil)
			return p, false
		}
		p.after = &c
	}
	return p, true
}

// decodeCursor parses a ?cursor= of list; the error names the value and
// what is wrong with it.
func decodeCursor(v, list string) (cursor, error) {
	shown := v
	if len(shown) > 64 {
		shown = shown[:64] + "..."
	}
	bad := func(why string) (cursor, error) {
		return cursor{}, fmt.Errorf("cursor %q: %s; pass the \"next\" value of the previous page unchanged", shown, why)
	}
	if len(v) > MaxCursorBytes {
		return bad(fmt.Sprintf("longer than %d bytes", MaxCursorBytes))
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return bad("not base64url")
	}
	var c cursor
	if err := json.Unmarshal(raw, &c); err != nil {
		return bad("not a cursor of this API")
	}
	switch {
	case c.List == "":
		return bad("not a cursor of this API")
	case c.List != list:
		return bad(fmt.Sprintf("it pages %s, not %s", c.List, list))
	case c.ID == "":
		return bad("it names no row")
	case (list == listExecutions || list == listDeadLetters) && c.At.IsZero():
		return bad("it has no time")
	}
	if list == listExecutions || list == listDeadLetters {
		if err := ports.ValidateID("cursor id", c.ID); err != nil {
			return bad("it names no valid row")
		}
	}
	return c, nil
}

// keysetPage trims rows, read with limit+1, to the page and returns the
// next cursor when there is a row beyond it ("" on the last page).
func keysetPage[T any](rows []T, limit int, key func(T) cursor) ([]T, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	return rows, key(rows[len(rows)-1]).encode()
}

// memoryPage pages a list held whole in memory, in its order: the rows
// after p.after (before(row, c) reports whether row comes at or before
// the cursor's row), then offset, then limit.
func memoryPage[T any](rows []T, p pageParams, before func(T, cursor) bool, key func(T) cursor) ([]T, string) {
	if p.after != nil {
		i := 0
		for i < len(rows) && before(rows[i], *p.after) {
			i++
		}
		rows = rows[i:]
	}
	if p.offset >= len(rows) {
		return []T{}, ""
	}
	return keysetPage(rows[p.offset:], p.limit, key)
}

// Keys of each list's rows.

func executionKey(e domain.Execution) cursor {
	return cursor{List: listExecutions, At: e.CreatedAt, ID: e.ID}
}

func deadLetterKey(d domain.DeadLetter) cursor {
	return cursor{List: listDeadLetters, At: d.MovedAt, ID: d.TaskID}
}

func workerRank(w domain.WorkerInfo) int64 {
	if w.State == domain.WorkerLive {
		return 0
	}
	return 1
}

func workerKey(w domain.WorkerInfo) cursor {
	return cursor{List: listWorkers, ID: w.ID, N: workerRank(w)}
}

// workerAtOrBefore: live workers first, then by id.
func workerAtOrBefore(w domain.WorkerInfo, c cursor) bool {
	if r := workerRank(w); r != c.N {
		return r < c.N
	}
	return w.ID <= c.ID
}

func signalKey(s domain.Signal) cursor { return cursor{List: listSignals, ID: s.Name, N: s.Seq} }

// signalAtOrBefore: by name, then seq.
func signalAtOrBefore(s domain.Signal, c cursor) bool {
	if s.Name != c.ID {
		return s.Name < c.ID
	}
	return s.Seq <= c.N
}

// byName is the key of the lists ordered by name alone (schedules,
// queues): the rows after the cursor's name.
func byName[T any](list string, name func(T) string) (before func(T, cursor) bool, key func(T) cursor) {
	return func(row T, c cursor) bool { return name(row) <= c.ID },
		func(row T) cursor { return cursor{List: list, ID: name(row)} }
}

// listBody is a list response: the rows under key, the page's limit,
// offset (deprecated) and next cursor (absent on the last page).
func listBody(key string, rows any, p pageParams, next string) map[string]any {
	body := map[string]any{key: rows, "limit": p.limit, "offset": p.offset}
	if next != "" {
		body["next"] = next
	}
	return body
}
