package ports

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stenthq/stent/domain"
)

// Text, payloads and numbers every store can keep. PostgreSQL refuses NUL
// bytes and invalid UTF-8 in text and integers beyond int4, where SQLite
// and memstore would take them: these checks make every store refuse the
// same input the same way, on reads (ids, filters, keys) as on writes.

// Size limits of the text a store keeps or looks up, in bytes.
const (
	// MaxIDBytes bounds ids: executions, tasks, workers, claim tokens.
	MaxIDBytes = 255
	// MaxNameBytes bounds names: functions, step names, queues, tags,
	// signal names, data keys, worker names, hosts and versions.
	MaxNameBytes = 255
	// MaxKeyBytes bounds idempotency and cache keys, and trace context
	// values.
	MaxKeyBytes = 1024
)

// int32 range of the integer columns (priority, position, max
// concurrent, pid).
const (
	minInt32 = math.MinInt32
	maxInt32 = math.MaxInt32
)

// ValidateText checks text a store keeps or looks up (field names it in
// the error): valid UTF-8, no NUL byte and at most limit bytes. Empty
// text is allowed (callers that need a value check that first).
func ValidateText(field, s string, limit int) error {
	switch {
	case len(s) > limit:
		return invalid("%s %s is %d bytes; want at most %d bytes", field, quoteShort(s), len(s), limit)
	case !utf8.ValidString(s):
		return invalid("%s %s is not valid UTF-8; want UTF-8 text", field, quoteShort(s))
	case strings.IndexByte(s, 0) >= 0:
		return invalid("%s %s contains a NUL byte; want text without NUL bytes", field, quoteShort(s))
	}
	return nil
}

// ValidateTexts checks every element of list with ValidateText.
func ValidateTexts(field string, list []string, limit int) error {
	for _, s := range list {
		if err := ValidateText(field, s, limit); err != nil {
			return err
		}
	}
	return nil
}

// ValidateIDs checks ids looked up together (GetTasks): each valid text of
// at most MaxIDBytes. Empty ids are allowed: they match nothing.
func ValidateIDs(what string, ids []string) error { return ValidateTexts(what, ids, MaxIDBytes) }

// ValidateKeys checks cache or idempotency keys looked up together: each
// valid text of at most MaxKeyBytes.
func ValidateKeys(what string, keys []string) error { return ValidateTexts(what, keys, MaxKeyBytes) }

// ValidateInt32 checks a number kept in a 32-bit integer column.
func ValidateInt32(field string, n int) error {
	if n < minInt32 || n > maxInt32 {
		return invalid("%s %d is out of range; want %d to %d", field, n, minInt32, maxInt32)
	}
	return nil
}

// ValidatePayload checks a JSON payload (input, result, signal payload,
// state value): none, or one JSON document in UTF-8.
func ValidatePayload(field string, p json.RawMessage) error {
	if len(p) == 0 {
		return nil
	}
	if !utf8.Valid(p) || !json.Valid(p) {
		return invalid("%s (%d bytes) is not valid JSON in UTF-8; want a JSON document or none", field, len(p))
	}
	return nil
}

// validTraceContext checks the keys and values of a trace context.
func validTraceContext(field string, tc map[string]string) error {
	for k, v := range tc {
		if err := ValidateText(field+" key", k, MaxNameBytes); err != nil {
			return err
		}
		if err := ValidateText(field+" value", v, MaxKeyBytes); err != nil {
			return err
		}
	}
	return nil
}

// within prefixes a validation error's message with what holds the bad
// field (a step spec, a data op, a catalogue entry): still one
// ErrInvalidArgument, without a second "stent:" in the middle.
func within(prefix string, err error) error {
	if err == nil {
		return nil
	}
	return invalid("%s: %s", prefix, strings.TrimPrefix(err.Error(), "stent: "))
}

// firstErr returns the first non-nil error of errs.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// quoteShort quotes s for a message, cut to its first 40 bytes.
func quoteShort(s string) string {
	const show = 40
	if len(s) <= show {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:show]) + "..."
}

// ValidateWorker checks a worker registry row: an id, and text and a pid
// every store can keep.
func ValidateWorker(w domain.WorkerInfo) error {
	return firstErr(
		ValidateID("worker id", w.ID),
		ValidateText("worker name", w.Name, MaxNameBytes),
		ValidateText("worker host", w.Host, MaxNameBytes),
		ValidateText("worker process", w.Process, MaxIDBytes),
		ValidateTexts("worker queue", w.Queues, MaxNameBytes),
		ValidateTexts("worker function", w.Functions, MaxNameBytes),
		ValidateInt32("worker pid", w.PID),
		validVersions("worker", w.Versions),
		validPolicy(w.VersionPolicy),
	)
}

// validVersions checks a function -> version map's text.
func validVersions(field string, m map[string]string) error {
	for fn, v := range m {
		if err := firstErr(
			ValidateText(field+" versioned function", fn, MaxNameBytes),
			ValidateText(field+" version of "+quoteShort(fn), v, MaxNameBytes),
		); err != nil {
			return err
		}
	}
	return nil
}

func validPolicy(p domain.VersionPolicy) error {
	_, err := domain.ParseVersionPolicy(string(p))
	return err
}

// Validate checks the worker ids and the process named.
func (p ExpireWorkersParams) Validate() error {
	return firstErr(
		ValidateIDs("worker id", p.IDs),
		ValidateText("except worker id", p.Except, MaxIDBytes),
		ValidateText("except process", p.ExceptProcess, MaxIDBytes),
	)
}

// ValidateClaimFilter checks the text of a claim's filters: the worker id,
// queues, tags and functions (NextWake, which ignores Limit and Lease).
func (p ClaimParams) ValidateClaimFilter() error {
	return firstErr(
		ValidateText("claim: worker id", p.WorkerID, MaxIDBytes),
		ValidateTexts("claim: queue", p.Queues, MaxNameBytes),
		ValidateTexts("claim: tag", p.Tags, MaxNameBytes),
		ValidateTexts("claim: function", p.Functions, MaxNameBytes),
		validVersions("claim:", p.Versions),
	)
}

// ValidateRenewal checks a lease renewal: lease > 0 and fences whose text
// every store can look up (an empty or unknown task is not held, not
// invalid).
func ValidateRenewal(fences []domain.Fence, lease time.Duration) error {
	if err := ValidateLease(lease); err != nil {
		return err
	}
	for _, f := range fences {
		if err := validFenceText(f); err != nil {
			return err
		}
	}
	return nil
}

func validFenceText(f domain.Fence) error {
	return firstErr(
		ValidateText("fence task id", f.TaskID, MaxIDBytes),
		ValidateText("fence worker id", f.WorkerID, MaxIDBytes),
		ValidateText("fence token", f.Token, MaxIDBytes),
	)
}

// ValidateSignalPayload checks a signal: its execution id and name
// (ValidateSignal) and its payload.
func ValidateSignalPayload(executionID, name string, payload json.RawMessage) error {
	return firstErr(ValidateSignal(executionID, name), ValidatePayload("signal payload", payload))
}
