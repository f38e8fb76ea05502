package jsonfield_test

import (
	"encoding/json"
	"testing"

	"github.com/relayhq/relay/internal/jsonfield"
)

func TestObject(t *testing.T) {
	for body, want := range map[string]bool{
		`{"a":1}`:      true,
		" \n{}":        true,
		`[1,2]`:        false,
		`null`:         false,
		`"x"`:          false,
		`{"a":1`:       false,
		`{"a":1} {}`:   false,
		``:             false,
		`{"a":"\x01"}`: false,
	} {
		if got := jsonfield.Object([]byte(body)); got != want {
			t.Errorf("Object(%q) = %v, want %v", body, got, want)
		}
	}
}

// Get and the decoding types agree on every shape a field can take.
func TestGetMatchesDecoding(t *testing.T) {
	for _, v := range []string{`12345`, `-7`, `1.5e3`, `"abc"`, `"a\"b\u00e9"`, `null`, `true`, `{"x":1}`, `[1]`, `""`} {
		body := []byte(`{"f":` + v + `}`)
		var id struct {
			F jsonfield.ID `json:"f"`
		}
		var str struct {
			F jsonfield.String `json:"f"`
		}
		if err := json.Unmarshal(body, &id); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(body, &str); err != nil {
			t.Fatal(err)
		}
		f := jsonfield.Get(body, "f", "missing")
		if got := f.ID(0); got != string(id.F) {
			t.Errorf("%s: ID = %q, decoding gives %q", v, got, id.F)
		}
		if got := f.String(0); got != string(str.F) {
			t.Errorf("%s: String = %q, decoding gives %q", v, got, str.F)
		}
		if f.ID(1) != "" || f.String(1) != "" {
			t.Errorf("%s: a missing field is not empty", v)
		}
	}
}
