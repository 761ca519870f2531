package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stenthq/stent/domain"
)

// ANSI colours.
const (
	colReset   = "\x1b[0m"
	colBold    = "1"
	colRed     = "31"
	colGreen   = "32"
	colYellow  = "33"
	colMagenta = "35"
	colCyan    = "36"
	colGrey    = "90"
)

// cell is a table cell: its text and an optional colour.
type cell struct {
	text  string
	color string
}

func plain(s string) cell { return cell{text: s} }

// stateCell colours a state name: of an execution, a task or a worker.
func stateCell(state string) cell {
	switch state {
	case "completed", "live":
		return cell{state, colGreen}
	case "failed", "timed_out", "dead":
		return cell{state, colRed}
	case "running":
		return cell{state, colCyan}
	case "waiting":
		return cell{state, colMagenta}
	case "pending":
		return cell{state, colYellow}
	case "cancelled", "stopped":
		return cell{state, colGrey}
	}
	return plain(state)
}

// table is column-aligned text. Widths are measured on the visible text, so
// colour codes never break the alignment.
type table struct {
	header []string
	rows   [][]cell
}

func newTable(header ...string) *table { return &table{header: header} }

func (t *table) add(cells ...cell) { t.rows = append(t.rows, cells) }

// write prints the table with each line prefixed by indent.
func (t *table) write(w io.Writer, indent string, colour bool) {
	cols := len(t.header)
	for _, row := range t.rows {
		cols = max(cols, len(row))
	}
	widths := make([]int, cols)
	measure := func(i int, s string) { widths[i] = max(widths[i], utf8.RuneCountInString(s)) }
	for i, h := range t.header {
		measure(i, h)
	}
	for _, row := range t.rows {
		for i, c := range row {
			measure(i, c.text)
		}
	}
	line := func(cells []cell) {
		var b strings.Builder
		b.WriteString(indent)
		for i, c := range cells {
			text := c.text
			if colour && c.color != "" {
				text = "\x1b[" + c.color + "m" + text + colReset
			}
			b.WriteString(text)
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c.text)+2))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	if len(t.header) > 0 {
		head := make([]cell, len(t.header))
		for i, h := range t.header {
			head[i] = cell{h, colBold}
		}
		line(head)
	}
	for _, row := range t.rows {
		line(row)
	}
}

// fields is a key/value block ("State      completed").
type fields struct{ t table }

func (f *fields) add(key string, value cell) { f.t.add(plain(key), value) }

func (f *fields) addText(key, value string) { f.add(key, plain(value)) }

func (f *fields) write(w io.Writer, indent string, colour bool) { f.t.write(w, indent, colour) }

// writeJSON prints one indented JSON document.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeNDJSON prints one compact JSON line.
func writeNDJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// timeLayout is how tables print times (always UTC).
const timeLayout = "2006-01-02 15:04:05"

func fmtTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(timeLayout)
}

// fmtTimeUTC prints a time with its zone, for key/value blocks.
func fmtTimeUTC(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(timeLayout) + " UTC"
}

// fmtDuration prints a duration for people: 250ms, 1.5s, 2m3s, 1h2m, 3d4h.
func fmtDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Millisecond:
		return "<1ms"
	case d < time.Second-time.Millisecond/2:
		// Rounded, not truncated: 999.6ms is 1s, not 999ms.
		return strconv.FormatInt(d.Round(time.Millisecond).Milliseconds(), 10) + "ms"
	case d < time.Minute-time.Millisecond/2:
		// Whole milliseconds in integers: a float would print 4.94s as
		// 4.9399999999999995s.
		ms := d.Round(time.Millisecond).Milliseconds()
		s := strconv.FormatInt(ms/1000, 10)
		if frac := ms % 1000; frac != 0 {
			s += "." + strings.TrimRight(fmt.Sprintf("%03d", frac), "0")
		}
		return s + "s"
	}
	d = d.Round(time.Second)
	units := []struct {
		suffix string
		size   time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}}
	var parts []string
	for _, u := range units {
		if n := d / u.size; n > 0 || len(parts) > 0 {
			parts = append(parts, strconv.FormatInt(int64(n), 10)+u.suffix)
			d -= n * u.size
		}
		if len(parts) == 2 {
			break
		}
	}
	if len(parts) == 2 && strings.HasPrefix(parts[1], "0") {
		parts = parts[:1]
	}
	return strings.Join(parts, "")
}

// span is the duration from start (or from, when start is nil) to end (or
// now while unfinished); "-" when there is nothing to measure.
func span(from time.Time, start, end *time.Time, now time.Time) string {
	begin := from
	if start != nil {
		begin = *start
	}
	if begin.IsZero() {
		return "-"
	}
	stop := now
	if end != nil {
		stop = *end
	}
	return fmtDuration(stop.Sub(begin))
}

// compactJSON prints a stored JSON value on one line ("null" when absent).
func compactJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "null"
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return strconv.Quote(string(raw))
	}
	return b.String()
}

// truncate shortens s to n runes with an ellipsis.
func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func joinOrDash(ss []string) string { return orDash(strings.Join(ss, ",")) }

func queueName(q string) string {
	if q == "" {
		return domain.DefaultQueue
	}
	return q
}

// errorLine renders a stored error as "code: message".
func errorLine(e *domain.TaskError) string {
	if e == nil {
		return "-"
	}
	return e.Code + ": " + e.Message
}

func fmtNumber(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// section prints a blank line and a heading.
func section(w io.Writer, title string, colour bool) {
	fmt.Fprintln(w)
	if colour {
		title = "\x1b[" + colBold + "m" + title + colReset
	}
	fmt.Fprintln(w, title)
}
