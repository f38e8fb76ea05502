package connect_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/connect"
)

// confirmingConnector is the fake provider with a lifecycle confirmer whose
// answers the test sets.
type confirmingConnector struct {
	*fakeConnector
	mu     sync.Mutex
	answer *relay.LifecycleChange
	err    error
	asked  []*relay.LifecycleChange
	tokens []*relay.Token
}

func (c *confirmingConnector) ConfirmLifecycle(ctx context.Context, conn *relay.Connection, t *relay.Token, ch *relay.LifecycleChange) (*relay.LifecycleChange, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked, c.tokens = append(c.asked, ch), append(c.tokens, t)
	if c.err != nil {
		return nil, c.err
	}
	a := *c.answer
	return &a, nil
}

func (c *confirmingConnector) set(answer *relay.LifecycleChange, err error) {
	c.mu.Lock()
	c.answer, c.err = answer, err
	c.mu.Unlock()
}

// newLifecycleFixture is newFixture with the fake provider able to confirm.
func newLifecycleFixture(t *testing.T) (*fixture, *confirmingConnector) {
	return newLifecycleFixtureQueued(t, nil)
}

// newLifecycleFixtureQueued is newLifecycleFixture with confirmations that
// could not reach the provider queued by enqueue.
func newLifecycleFixtureQueued(t *testing.T, enqueue func(ctx context.Context, provider string, ch *relay.LifecycleChange) error) (*fixture, *confirmingConnector) {
	f := newFixture(t)
	cc := &confirmingConnector{fakeConnector: f.fake}
	f.svc = connect.New(f.store, newTestSealer(), []relay.Connector{cc}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)),
		f.clock, connect.Config{PublicURL: "https://relay.example", AllowedReturnOrigins: []string{"https://app.example"},
			EnqueueLifecycle: enqueue})
	t.Cleanup(f.svc.Close)
	return f, cc
}

func (f *fixture) status(t *testing.T, id string) string {
	t.Helper()
	c, err := f.store.GetConnection(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	return c.Status
}

// A provider whose connector cannot confirm gets no change from a
// lifecycle webhook: its claim alone is not trusted.
func TestLifecycleWithoutConfirmerChangesNothing(t *testing.T) {
	f := newFixture(t)
	id := f.connect(t, "acct-1", "c1").Get("connection_id")
	err := f.svc.ApplyLifecycle(ctx, "fake", &relay.LifecycleChange{AccountID: "acct-1", Status: relay.ConnectionRevoked,
		Reason: "uninstalled", RemoveResources: []string{"res-1"}})
	if err != nil {
		t.Fatal(err)
	}
	rs, _ := f.store.ListResources(ctx, id)
	if st := f.status(t, id); st != relay.ConnectionActive || len(rs) != 1 {
		t.Fatalf("status %s, %d resources: the claim was applied", st, len(rs))
	}
}

// The status applied is the provider's answer, not the webhook's claim.
func TestLifecycleAppliesTheProviderAnswer(t *testing.T) {
	f, cc := newLifecycleFixture(t)
	id := f.connect(t, "acct-1", "c1").Get("connection_id")

	// An uninstall claimed of an installation the provider still has.
	cc.set(&relay.LifecycleChange{AccountID: "acct-1"}, nil)
	claim := &relay.LifecycleChange{AccountID: "acct-1", Status: relay.ConnectionRevoked, Reason: "uninstalled"}
	if err := f.svc.ApplyLifecycle(ctx, "fake", claim); err != nil {
		t.Fatal(err)
	}
	if st := f.status(t, id); st != relay.ConnectionActive {
		t.Fatalf("status %s after an unconfirmed uninstall", st)
	}
	if len(cc.asked) != 1 || cc.asked[0] != claim || cc.tokens[0] == nil || cc.tokens[0].AccessToken != "at-c1" {
		t.Fatalf("asked %v with tokens %v", cc.asked, cc.tokens)
	}

	// The provider says suspended: that is what is applied, whatever the
	// claim (here an unsuspend).
	cc.set(&relay.LifecycleChange{AccountID: "acct-1", Status: relay.ConnectionSuspended, Reason: "installation suspended"}, nil)
	if err := f.svc.ApplyLifecycle(ctx, "fake", &relay.LifecycleChange{AccountID: "acct-1", Status: relay.ConnectionActive}); err != nil {
		t.Fatal(err)
	}
	if st := f.status(t, id); st != relay.ConnectionSuspended {
		t.Fatalf("status %s, want the provider's suspended", st)
	}

	// Resources are made to match the provider's list.
	cc.set(&relay.LifecycleChange{AccountID: "acct-1", Resources: []*relay.Resource{
		{ExternalID: "res-2", Kind: "repository", Name: "acme/two"}, {ExternalID: "res-3", Kind: "repository"}}}, nil)
	if err := f.svc.ApplyLifecycle(ctx, "fake", &relay.LifecycleChange{AccountID: "acct-1", AddResources: []*relay.Resource{
		{ExternalID: "res-9", Kind: "repository"}}}); err != nil {
		t.Fatal(err)
	}
	rs, _ := f.store.ListResources(ctx, id)
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ExternalID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"res-2", "res-3"}) {
		t.Fatalf("resources %v, want the provider's res-2 res-3", ids)
	}
	ev := &relay.Event{Provider: "fake", ResourceID: "res-2"}
	f.svc.Match(ctx, ev)
	if ev.ConnectionID != id {
		t.Fatalf("resource routing: %+v", ev)
	}
}

// When the provider cannot be asked, nothing changes and the confirmation
// is queued; the queued run applies the provider's answer.
func TestLifecycleRetriedWhenTheProviderIsDown(t *testing.T) {
	var queued []*relay.LifecycleChange
	f, cc := newLifecycleFixtureQueued(t, func(ctx context.Context, provider string, ch *relay.LifecycleChange) error {
		queued = append(queued, ch)
		return nil
	})
	id := f.connect(t, "acct-1", "c1").Get("connection_id")
	cc.set(nil, relay.Errorf(relay.EUNAVAILABLE, "fake: read installation: HTTP 502"))
	claim := &relay.LifecycleChange{AccountID: "acct-1", Status: relay.ConnectionRevoked, Reason: "uninstalled"}
	if err := f.svc.ApplyLifecycle(ctx, "fake", claim); err != nil {
		t.Fatal(err)
	}
	if st := f.status(t, id); st != relay.ConnectionActive || len(queued) != 1 || queued[0] != claim {
		t.Fatalf("status %s, queued %v", st, queued)
	}
	if err := f.svc.RunLifecycle(ctx, "fake", claim); relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Fatalf("run while down: %v, want EUNAVAILABLE (retry)", err)
	}
	cc.set(&relay.LifecycleChange{AccountID: "acct-1", Status: relay.ConnectionRevoked, Reason: "installation deleted"}, nil)
	if err := f.svc.RunLifecycle(ctx, "fake", claim); err != nil {
		t.Fatal(err)
	}
	if st := f.status(t, id); st != relay.ConnectionRevoked {
		t.Fatalf("status %s, want revoked once confirmed", st)
	}

	// A refusal is not retried.
	cc.set(nil, relay.Errorf(relay.EINVALID, "fake: read installation: HTTP 401"))
	if err := f.svc.RunLifecycle(ctx, "fake", claim); err != nil {
		t.Fatalf("refused: %v, want nil (not retried)", err)
	}
}
