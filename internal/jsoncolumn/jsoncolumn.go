// Package jsoncolumn encodes the maps and lists that both stores keep as JSON
// text in one column (connection metadata, event headers, destination
// filters, resolution candidates), so that SQLite and PostgreSQL store and
// read the same text.
package jsoncolumn

import "encoding/json"

// Map encodes m; an empty or nil map is "{}". It returns json.Marshal's
// error, which a map of strings does not produce.
func Map(m map[string]string) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// ParseMap decodes a column Map wrote; "" and "{}" decode to nil, so an
// empty map reads back as no map. It returns json.Unmarshal's error.
func ParseMap(s string) (map[string]string, error) {
	if s == "" || s == "{}" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	return m, nil
}

// List encodes v; an empty or nil list is "[]".
func List(v []string) string {
	if len(v) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(v) // a list of strings always encodes
	return string(b)
}

// ParseList decodes a JSON list column: "[]" is an empty list, "null" is
// nil. It returns json.Unmarshal's error.
func ParseList(s string) ([]string, error) {
	var v []string
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, err
	}
	return v, nil
}
