package generic

import (
	"bytes"
	"encoding/json"
)

// id is a JSON string or number kept as its text (GitHub ids are numbers, so
// 12345 becomes "12345"). Any other JSON value, null included, decodes to "".
type id string

// UnmarshalJSON implements json.Unmarshaler.
func (v *id) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) == 0:
		*v = ""
	case b[0] == '"':
		return (*str)(v).UnmarshalJSON(b)
	case b[0] == '-' || b[0] >= '0' && b[0] <= '9':
		*v = id(b)
	default:
		*v = ""
	}
	return nil
}

// str is a JSON string; any other JSON value decodes to "" rather than failing
// the whole payload.
type str string

// UnmarshalJSON implements json.Unmarshaler.
func (v *str) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' {
		*v = ""
		return nil
	}
	if inner := b[1 : len(b)-1]; bytes.IndexByte(inner, '\\') < 0 {
		*v = str(inner)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*v = str(s)
	return nil
}
