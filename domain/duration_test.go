package domain_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
)

// acceptedDurations is the "Accepted" column of the SPEC §9 table, plus a
// few edges of the same grammar.
var acceptedDurations = []struct {
	in   string
	want time.Duration
}{
	{"30s", 30 * time.Second},
	{"5m", 5 * time.Minute},
	{"1h", time.Hour},
	{"1h30m", 90 * time.Minute},
	{"30m1h", 90 * time.Minute},
	{"2d8h", 56 * time.Hour},
	{"1w2d", 9 * 24 * time.Hour},
	{"1m1m", 2 * time.Minute},
	{"1.5h", 90 * time.Minute},
	{"1.h", time.Hour},
	{"0.25s", 250 * time.Millisecond},
	{"0s", 0},
	{" 10s ", 10 * time.Second},
	// Edges of the same grammar.
	{"\t\n10s\r\n", 10 * time.Second},
	{"000s", 0},
	{"0.000000001s", time.Nanosecond},
	{"0.0000000019s", time.Nanosecond}, // finer digits are truncated
	{"1.000000000000000000001s", time.Second},
	{"1d", 24 * time.Hour},
	{"1w", 7 * 24 * time.Hour},
	{"0.5w", 84 * time.Hour},
	{"1s1m1h1d1w", 8*24*time.Hour + time.Hour + time.Minute + time.Second},
	{"106751d", 106751 * 24 * time.Hour},
	{"106751d23h47m16.854775807s", time.Duration(1<<63 - 1)},
	{"9223372036.854775807s", time.Duration(1<<63 - 1)},
}

// rejectedDurations is the "Rejected" column of the SPEC §9 table, plus a
// few edges, with the reason the error must give.
var rejectedDurations = []struct {
	in     string
	reason string
}{
	{"", "empty"},
	{"  ", "empty"},
	{"5", `missing unit after "5"`},
	{"10", `missing unit after "10"`},
	{"10x", `unknown unit "x"`},
	{"5S", `unknown unit "S"`},
	{"10sfoo", `unexpected text "foo"`},
	{"foo10s", `unexpected text "foo10s"`},
	{"1h 30m", `unexpected text " 30m"`},
	{"10ms", `unit "s" without a number`},
	{".5s", `unexpected text ".5s"`},
	{"-5s", `unexpected text "-5s"`},
	{"+5s", `unexpected text "+5s"`},
	{"1e3s", `unknown unit "e"`},
	{"1,5h", `unknown unit ","`},
	{"106752d", "out of range"},
	// Edges.
	{"9223372036.854775808s", "out of range"},
	{"106751d23h47m16.854775808s", "out of range"},
	{"99999999999999999999999999h", "out of range"},
	{"1.5.5s", `unknown unit "."`},
	{"1hh", `unit "h" without a number`},
	{"s", `unexpected text "s"`},
	{"10 s", `unknown unit " "`},
	{"1µs", "unknown unit"},
}

func TestParseDurationAcceptsTheSpecTable(t *testing.T) {
	t.Parallel()
	for _, tc := range acceptedDurations {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ParseDuration(tc.in)
			if err != nil {
				t.Fatalf("ParseDuration(%q) error: %v", tc.in, err)
			}
			if got != tc.want {
				t.Fatalf("ParseDuration(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseDurationRejectsTheSpecTable(t *testing.T) {
	t.Parallel()
	for _, tc := range rejectedDurations {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ParseDuration(tc.in)
			if err == nil {
				t.Fatalf("ParseDuration(%q) = %v, want an error", tc.in, got)
			}
			if got != 0 {
				t.Errorf("ParseDuration(%q) returned %v alongside the error, want 0", tc.in, got)
			}
			var de *domain.DurationError
			if !errors.As(err, &de) {
				t.Fatalf("ParseDuration(%q) error %T, want *domain.DurationError", tc.in, err)
			}
			if de.Input != tc.in {
				t.Errorf("DurationError.Input = %q, want the untrimmed input %q", de.Input, tc.in)
			}
			if !errors.Is(err, domain.ErrInvalidDuration) {
				t.Errorf("error %v does not match ErrInvalidDuration", err)
			}
			if !errors.Is(err, domain.ErrInvalidArgument) {
				t.Errorf("error %v does not match ErrInvalidArgument", err)
			}
			if errors.Is(err, domain.ErrNotFound) {
				t.Errorf("error %v matches ErrNotFound", err)
			}
			prefix := "stent: invalid duration " + strconv.Quote(tc.in) + ": "
			if msg := err.Error(); !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, tc.reason) {
				t.Errorf("message %q; want prefix %q and reason %q", msg, prefix, tc.reason)
			}
		})
	}
}

func TestDurationErrorPrintsTheSpecExample(t *testing.T) {
	t.Parallel()
	_, err := domain.ParseDuration("10x")
	const want = `stent: invalid duration "10x": unknown unit "x"`
	if msg := err.Error(); !strings.HasPrefix(msg, want) {
		t.Fatalf("message %q, want it to start with %q", msg, want)
	}
	var coded interface{ ErrorCode() string }
	if !errors.As(err, &coded) || coded.ErrorCode() != "invalid_duration" {
		t.Fatalf("error code of %v is not invalid_duration", err)
	}
}

func TestFormatDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{-time.Second, "0s"},
		{time.Nanosecond, "0.000000001s"},
		{250 * time.Millisecond, "0.25s"},
		{30 * time.Second, "30s"},
		{90 * time.Minute, "1h30m"},
		{56 * time.Hour, "2d8h"},
		{9 * 24 * time.Hour, "9d"},
		{time.Hour + 1500*time.Millisecond, "1h1.5s"},
		{time.Duration(1<<63 - 1), "106751d23h47m16.854775807s"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			if got := domain.FormatDuration(tc.in); got != tc.want {
				t.Fatalf("FormatDuration(%v) = %q, want %q", tc.in, got, tc.want)
			}
			if tc.in < 0 {
				return
			}
			back, err := domain.ParseDuration(tc.want)
			if err != nil || back != tc.in {
				t.Fatalf("ParseDuration(%q) = %v, %v; want %v", tc.want, back, err, tc.in)
			}
		})
	}
}

func TestParseDurationNamesANonASCIIUnitWhole(t *testing.T) {
	t.Parallel()
	_, err := domain.ParseDuration("1µs")
	if err == nil || !strings.Contains(err.Error(), `unknown unit "µs"`) {
		t.Fatalf("ParseDuration(%q) error %v, want it to name the unit \"µs\"", "1µs", err)
	}
}

// FuzzParseDuration checks the parser on arbitrary input: it never panics,
// an accepted value is never negative and round-trips through
// FormatDuration, trimming the input does not change the outcome, and a
// rejection is always a *DurationError quoting the input.
func FuzzParseDuration(f *testing.F) {
	for _, tc := range acceptedDurations {
		f.Add(tc.in)
	}
	for _, tc := range rejectedDurations {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := domain.ParseDuration(s)
		td, terr := domain.ParseDuration(strings.TrimSpace(s))
		if (err == nil) != (terr == nil) || d != td {
			t.Fatalf("ParseDuration(%q) = %v, %v but trimmed = %v, %v", s, d, err, td, terr)
		}
		if err != nil {
			var de *domain.DurationError
			if !errors.As(err, &de) || de.Input != s {
				t.Fatalf("ParseDuration(%q) error %#v, want a *DurationError with the input", s, err)
			}
			if !errors.Is(err, domain.ErrInvalidDuration) || !errors.Is(err, domain.ErrInvalidArgument) {
				t.Fatalf("ParseDuration(%q) error %v does not match ErrInvalidDuration and ErrInvalidArgument", s, err)
			}
			if d != 0 {
				t.Fatalf("ParseDuration(%q) = %v with an error, want 0", s, d)
			}
			return
		}
		if d < 0 {
			t.Fatalf("ParseDuration(%q) = %v, want >= 0", s, d)
		}
		text := domain.FormatDuration(d)
		back, err := domain.ParseDuration(text)
		if err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %v; FormatDuration gives %q, which parses to %v, %v", s, d, text, back, err)
		}
	})
}

func TestParseDurationRejectsOverlongInput(t *testing.T) {
	t.Parallel()
	long := "0." + strings.Repeat("9", 1<<20) + "s"
	_, err := domain.ParseDuration(long)
	if !errors.Is(err, domain.ErrInvalidDuration) || !strings.Contains(err.Error(), "at most 100") {
		t.Fatalf("error %v; want a rejection naming the length limit", err)
	}
	if d, err := domain.ParseDuration("1w2d3h4m5.123456789s"); err != nil || d <= 0 {
		t.Fatalf("a realistic long duration: %v %v", d, err)
	}
}
