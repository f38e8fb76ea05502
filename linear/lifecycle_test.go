package linear_test

import (
	"context"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/linear"
)

// ConfirmLifecycle asks Linear with the connection's token: answered, the
// app is still authorized and nothing changes; refused (AUTHENTICATION_ERROR
// for a token that has not expired), the revocation is confirmed.
func TestConfirmLifecycle(t *testing.T) {
	f := setup(t, linear.ConnectorConfig{})
	ctx := context.Background()
	g := f.connect(t)
	claim := &relay.LifecycleChange{AccountID: "org-1", Status: relay.ConnectionRevoked, Reason: "claimed"}
	ch, err := f.c.ConfirmLifecycle(ctx, g.Connection, g.Token, claim)
	if err != nil || ch.Status != "" {
		t.Fatalf("still authorized: %+v %v, want no change", ch, err)
	}
	f.sim.FailNext("graphql", 500, 1)
	if _, err := f.c.ConfirmLifecycle(ctx, g.Connection, g.Token, claim); relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Fatalf("Linear down: %v, want EUNAVAILABLE", err)
	}
	f.sim.RevokeApp("org-1")
	expired := *g.Token
	expired.ExpiresAt = f.now.Add(-time.Minute)
	if _, err := f.c.ConfirmLifecycle(ctx, g.Connection, &expired, claim); relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Fatalf("expired token: %v, want EUNAVAILABLE", err)
	}
	ch, err = f.c.ConfirmLifecycle(ctx, g.Connection, g.Token, claim)
	if err != nil || ch.Status != relay.ConnectionRevoked || ch.AccountID != "org-1" {
		t.Fatalf("revoked: %+v %v", ch, err)
	}
}
