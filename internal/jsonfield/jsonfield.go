// Package jsonfield has lenient field types for decoding provider payloads:
// a provider adapter reads a handful of fields from a large body and must not
// reject a webhook because a field it does not need has an unexpected type.
package jsonfield

import (
	"bytes"
	"encoding/json"

	"github.com/tidwall/gjson"
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

// Object reports whether b is one valid JSON object. With Get it reads a few
// fields of a large body without decoding the rest (a webhook's hot path):
// a full encoding/json decode of a 2 KB body costs more than verifying its
// signature.
func Object(b []byte) bool {
	t := bytes.TrimLeft(b, " \t\r\n")
	return len(t) > 0 && t[0] == '{' && gjson.ValidBytes(b)
}

// Fields holds the values Get found, in the order of its paths.
type Fields []gjson.Result

// Get reads the values at paths (gjson dot paths) of a JSON object that
// Object has accepted.
func Get(b []byte, paths ...string) Fields { return gjson.GetManyBytes(b, paths...) }

// ID returns field i as an ID: a string's value or a number's text, else "".
func (f Fields) ID(i int) string {
	switch f[i].Type {
	case gjson.String:
		return f[i].String()
	case gjson.Number:
		return f[i].Raw
	}
	return ""
}

// String returns field i when it is a string, else "".
func (f Fields) String(i int) string {
	if f[i].Type != gjson.String {
		return ""
	}
	return f[i].String()
}
