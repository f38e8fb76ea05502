package connect_test

import (
	"strings"
	"testing"
)

// A flow started from Relay's own dashboard returns to Relay's public URL,
// which is allowed besides the configured origins; other origins are not.
func TestRelaysOwnOriginIsAnAllowedReturnOrigin(t *testing.T) {
	f := newFixture(t)
	state, binding := f.startFlow(t, "https://relay.example/connections")
	to, err := f.svc.Callback(ctx, "fake", map[string][]string{"state": {state}, "code": {"c1"}, "account": {"acct-1"}}, binding)
	if err != nil || !strings.HasPrefix(to, "https://relay.example/connections?") {
		t.Fatalf("callback redirects to %q (%v), want Relay's Connections page", to, err)
	}
	if _, _, err := f.svc.Authorize(ctx, "org_a", "fake", "https://evil.example/connections"); err == nil {
		t.Fatal("an unlisted origin was accepted as a return URL")
	}
}
