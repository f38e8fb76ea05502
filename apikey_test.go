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

func TestAPIKeyCanRevoke(t *testing.T) {
	admin := &relay.APIKey{ID: "key_1"}
	if err := admin.CanRevoke(1); relay.ErrorCode(err) != relay.ECONFLICT {
		t.Fatalf("last admin key: err = %v, want ECONFLICT", err)
	}
	if err := admin.CanRevoke(2); err != nil {
		t.Fatalf("one of two admin keys: %v", err)
	}
	org := &relay.APIKey{ID: "key_2", OrgID: "org_a"}
	if err := org.CanRevoke(0); err != nil {
		t.Fatalf("org key: %v", err)
	}
}
