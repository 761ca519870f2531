package app

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// encodeValue encodes v as JSON. Unencodable values (channels, functions,
// NaN, ±Inf) fail with ErrSerialization; a value over max bytes (max > 0)
// fails with ErrPayloadTooLarge. Nothing is silently stringified.
func encodeValue(v any, max int) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot encode %T as JSON: %v", ErrSerialization, v, err)
	}
	if max > 0 && len(b) > max {
		return nil, fmt.Errorf("%w: %T encodes to %d bytes; the limit is %d", ErrPayloadTooLarge, v, len(b), max)
	}
	return b, nil
}

// decodeInput decodes a stored input into I.
func decodeInput[I any](name string, input json.RawMessage) (I, error) {
	var in I
	if len(input) == 0 {
		input = json.RawMessage("null")
	}
	if err := json.Unmarshal(input, &in); err != nil {
		return in, fmt.Errorf("%w: decoding the input of %q into %s: %v", ErrSerialization, name, typeName[I](), err)
	}
	return in, nil
}

// decodeValue decodes a stored result into O.
func decodeValue[O any](what string, raw json.RawMessage) (O, error) {
	var out O
	if len(raw) == 0 {
		raw = json.RawMessage("null")
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return out, fmt.Errorf("%w: decoding %s into %s: %v", ErrSerialization, what, typeName[O](), err)
	}
	return out, nil
}

func typeName[T any]() string {
	t := reflect.TypeOf((*T)(nil)).Elem()
	return t.String()
}
