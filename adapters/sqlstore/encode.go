package sqlstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/stenthq/stent/domain"
)

// nullTime scans a time column stored either as INTEGER microseconds since
// the Unix epoch (SQLite) or as timestamptz (PostgreSQL).
type nullTime struct {
	T     time.Time
	Valid bool
}

// Scan implements sql.Scanner.
func (n *nullTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		n.T, n.Valid = time.Time{}, false
	case int64:
		n.T, n.Valid = time.UnixMicro(x).UTC(), true
	case time.Time:
		n.T, n.Valid = domain.NormalizeTime(x), true
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into a time", v)
	}
	return nil
}

func (n nullTime) ptr() *time.Time {
	if !n.Valid {
		return nil
	}
	t := n.T
	return &t
}

func (n nullTime) val() time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return n.T
}

// MicrosToTime converts stored SQLite microseconds to a UTC time.
func MicrosToTime(us int64) time.Time { return time.UnixMicro(us).UTC() }

// TimeToMicros converts a time to microseconds since the Unix epoch (UTC).
func TimeToMicros(t time.Time) int64 { return t.UTC().Truncate(domain.TimePrecision).UnixMicro() }

// tm encodes a time argument.
func (s *Store) tm(t time.Time) any { return s.d.EncodeTime(domain.NormalizeTime(t)) }

// tmp encodes an optional time argument.
func (s *Store) tmp(t *time.Time) any {
	if t == nil {
		return nil
	}
	return s.tm(*t)
}

// payload encodes a JSON payload: nil or empty is NULL, other bytes are kept
// byte for byte.
func payload(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	return []byte(raw)
}

// payloadBytes is payload for RowSet columns.
func payloadBytes(raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return nil
	}
	return []byte(raw)
}

// rawOrNil returns scanned payload bytes as a RawMessage (NULL -> nil).
func rawOrNil(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return json.RawMessage(b)
}

// jsonText marshals v as JSON text for a column; empty values are NULL.
func jsonText(v any) (any, error) {
	switch x := v.(type) {
	case *domain.TaskError:
		if x == nil {
			return nil, nil
		}
	case []string:
		if len(x) == 0 {
			return nil, nil
		}
	case map[string]string:
		if len(x) == 0 {
			return nil, nil
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return string(b), nil
}

// mustJSONText is jsonText for values that always encode (errors, tags,
// string maps, retry policies).
func mustJSONText(v any) any {
	out, err := jsonText(v)
	if err != nil {
		panic(err) // unreachable: these types always encode
	}
	return out
}

func decodeTaskError(b []byte) (*domain.TaskError, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var te domain.TaskError
	if err := json.Unmarshal(b, &te); err != nil {
		return nil, fmt.Errorf("decode error column: %w", err)
	}
	return &te, nil
}

func decodeStrings(b []byte) ([]string, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var out []string
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("decode tags: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func decodeStringMap(b []byte) (map[string]string, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var out map[string]string
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("decode trace context: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// stringOrNil encodes an optional text column: "" is NULL.
func stringOrNil(v string) any {
	if v == "" {
		return nil
	}
	return v
}
