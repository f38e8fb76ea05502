package relay_test

import (
	"strings"
	"testing"

	"github.com/relayhq/relay"
)

// A generated key shows "rk_" and 8 hex digits; a short configured key
// shows at most a sixth of itself.
func TestAPIKeyPrefix(t *testing.T) {
	k := relay.NewAPIKeySecret()
	if got := relay.APIKeyPrefix(k); got != k[:11] {
		t.Errorf("prefix of a generated key: %q, want %q", got, k[:11])
	}
	for key, want := range map[string]string{
		strings.Repeat("a", 24): "aaaa",
		"short":                 "",
		"":                      "",
	} {
		if got := relay.APIKeyPrefix(key); got != want {
			t.Errorf("prefix of a %d-character key: %q, want %q", len(key), got, want)
		}
	}
}
