package github

import (
	"testing"

	"github.com/tidwall/gjson"
)

// Items are read as leniently as encoding/json with the jsonfield types
// read them before: odd field types read as empty, a draft that is not a
// boolean skips the item.
func TestReadBackfillItem(t *testing.T) {
	tests := []struct {
		raw  string
		want backfillItem
		ok   bool
	}{
		{`{"id":12,"state":"open","updated_at":"2026-11-01T00:00:00Z","user":{"id":"x","state":"closed"}}`,
			backfillItem{id: "12", state: "open", updatedAt: "2026-11-01T00:00:00Z"}, true},
		{`{"id":"a\"b","draft":true,"published_at":null,"created_at":"2026-10-01T00:00:00Z"}`,
			backfillItem{id: `a"b`, draft: true, createdAt: "2026-10-01T00:00:00Z"}, true},
		{`{"id":7,"pull_request":null,"state":3,"draft":null}`, backfillItem{id: "7", pullRequest: true}, true},
		{`{"id":[1],"state":"closed"}`, backfillItem{state: "closed"}, true},
		{`{"id":1,"draft":"yes"}`, backfillItem{id: "1"}, false},
		{`null`, backfillItem{}, true},
		{`[1,2]`, backfillItem{}, false},
		{`"x"`, backfillItem{}, false},
	}
	for _, tt := range tests {
		got, ok := readBackfillItem(gjson.Parse(tt.raw))
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("%s: %+v %v, want %+v %v", tt.raw, got, ok, tt.want, tt.ok)
		}
	}
}
