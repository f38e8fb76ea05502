// Package jsonfield has lenient field types for decoding provider payloads:
// a provider adapter reads a handful of fields from a large body and must not
// reject a webhook because a field it does not need has an unexpected type.
package jsonfield

import (
	"bytes"
	"encoding/json"
)

// ID is a JSON string or number kept as its text (GitHub ids are numbers, so
// 12345 becomes "12345"). Any other JSON value, null included, decodes to "".
type ID string

// UnmarshalJSON implements json.Unmarshaler.
func (v *ID) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) == 0:
		*v = ""
	case b[0] == '"':
		return (*String)(v).UnmarshalJSON(b)
	case b[0] == '-' || b[0] >= '0' && b[0] <= '9':
		*v = ID(b)
	default:
		*v = ""
	}
	return nil
}

// String is a JSON string; any other JSON value decodes to "" rather than
// failing the whole payload.
type String string

// UnmarshalJSON implements json.Unmarshaler.
func (v *String) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' {
		*v = ""
		return nil
	}
	if inner := b[1 : len(b)-1]; bytes.IndexByte(inner, '\\') < 0 {
		*v = String(inner)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*v = String(s)
	return nil
}
