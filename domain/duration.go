package domain

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// DurationError reports a string that is not a valid Stent duration. It
// prints as `stent: invalid duration "10x": unknown unit "x"` and matches
// ErrInvalidDuration (and so ErrInvalidArgument).
type DurationError struct {
	Input  string
	Reason string
}

// Error implements error.
func (e *DurationError) Error() string {
	in := e.Input
	if len(in) > MaxDurationBytes {
		in = in[:MaxDurationBytes] + "..."
	}
	return fmt.Sprintf("stent: invalid duration %q: %s", in, e.Reason)
}

// Is matches ErrInvalidDuration and its parent ErrInvalidArgument.
func (e *DurationError) Is(target error) bool {
	return target == ErrInvalidDuration || target == ErrInvalidArgument
}

// ErrorCode returns "invalid_duration".
func (e *DurationError) ErrorCode() string { return ErrInvalidDuration.code }

// MaxDurationBytes bounds the input ParseDuration accepts (after trimming),
// so a hostile string cannot make parsing slow.
const MaxDurationBytes = 100

var durationUnits = map[byte]int64{
	's': int64(time.Second),
	'm': int64(time.Minute),
	'h': int64(time.Hour),
	'd': 24 * int64(time.Hour),
	'w': 7 * 24 * int64(time.Hour),
}

// ParseDuration parses the strict duration grammar of SPEC §9: after trimming
// surrounding whitespace, the whole string is one or more tokens
// <digits>[.<digits>*]<unit>, units s, m, h, d (86 400 s) and w (604 800 s),
// case-sensitive, summed in any order. Fractions are exact to the
// nanosecond (finer digits are truncated). Anything else, including a sum
// outside the time.Duration range, is a *DurationError.
func ParseDuration(s string) (time.Duration, error) {
	in := s
	s = strings.TrimSpace(s)
	fail := func(format string, args ...any) (time.Duration, error) {
		return 0, &DurationError{Input: in, Reason: fmt.Sprintf(format, args...)}
	}
	if s == "" {
		return fail("empty")
	}
	if len(s) > MaxDurationBytes {
		return fail("%d bytes long; at most %d are allowed", len(s), MaxDurationBytes)
	}
	total := new(big.Int)
	limit := big.NewInt(math.MaxInt64)
	i := 0
	for i < len(s) {
		start := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		intPart := s[start:i]
		if intPart == "" {
			if u := s[i]; durationUnits[u] != 0 && start > 0 {
				return fail("unit %q without a number", string(u))
			}
			return fail("unexpected text %q; want <number><unit> with units s, m, h, d, w", s[start:])
		}
		frac := ""
		if i < len(s) && s[i] == '.' {
			i++
			fs := i
			for i < len(s) && isDigit(s[i]) {
				i++
			}
			frac = s[fs:i]
		}
		if i >= len(s) {
			return fail("missing unit after %q; want one of s, m, h, d, w", s[start:])
		}
		unit, ok := durationUnits[s[i]]
		if !ok {
			us := i
			for i < len(s) {
				r, size := utf8.DecodeRuneInString(s[i:])
				if i > us && !unicode.IsLetter(r) {
					break
				}
				i += size
				if !unicode.IsLetter(r) {
					break
				}
			}
			return fail("unknown unit %q; want one of s, m, h, d, w", s[us:i])
		}
		i++
		// value = (int + frac/10^len(frac)) * unit, truncated to ns.
		n, ok := new(big.Int).SetString(intPart+frac, 10)
		if !ok {
			return fail("bad number %q", s[start:i-1])
		}
		n.Mul(n, big.NewInt(unit))
		if frac != "" {
			n.Quo(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(frac))), nil))
		}
		total.Add(total, n)
		if total.Cmp(limit) > 0 {
			return fail("out of range; the maximum is about 106751d")
		}
	}
	return time.Duration(total.Int64()), nil
}

// FormatDuration renders d in the grammar ParseDuration accepts, exactly:
// ParseDuration(FormatDuration(d)) == d for every d >= 0. Negative
// durations have no representation and render as "0s".
func FormatDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		unit byte
		size time.Duration
	}{{'d', 24 * time.Hour}, {'h', time.Hour}, {'m', time.Minute}} {
		if n := d / u.size; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10))
			b.WriteByte(u.unit)
			d -= n * u.size
		}
	}
	if d > 0 || b.Len() == 0 {
		secs := int64(d / time.Second)
		ns := int64(d % time.Second)
		b.WriteString(strconv.FormatInt(secs, 10))
		if ns > 0 {
			b.WriteByte('.')
			b.WriteString(strings.TrimRight(fmt.Sprintf("%09d", ns), "0"))
		}
		b.WriteByte('s')
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
