package connect_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/connect"
	"github.com/relayhq/relay/sqlite"
)

// registrar is the fake provider with webhooks registered through its API,
// each with its own secret, as Linear and Vercel do.
type registrar struct {
	*fakeConnector
	n        atomic.Int32
	noSecret atomic.Bool // register as before per-connection secrets: none returned

	mu           sync.Mutex
	deregistered []string
}

func (r *registrar) RegisterWebhook(ctx context.Context, c *relay.Connection, t *relay.Token, u string) (string, string, error) {
	n := r.n.Add(1)
	id := "wh-" + c.ExternalID + "-" + string(rune('0'+n))
	if r.noSecret.Load() {
		return id, "", nil
	}
	return id, "whsecret-" + c.ExternalID + "-" + string(rune('0'+n)), nil
}

func (r *registrar) DeregisterWebhook(ctx context.Context, c *relay.Connection, t *relay.Token, id string) error {
	r.mu.Lock()
	r.deregistered = append(r.deregistered, id)
	r.mu.Unlock()
	return nil
}

// countingStore counts webhook secret lookups reaching the database.
type countingStore struct {
	*sqlite.Store
	finds atomic.Int32
}

func (s *countingStore) FindWebhookSecret(ctx context.Context, provider, webhookID string) (*relay.SealedWebhookSecret, error) {
	s.finds.Add(1)
	return s.Store.FindWebhookSecret(ctx, provider, webhookID)
}

// withRegistrar rebuilds the fixture's service with the registrar and a
// counting store.
func withRegistrar(t *testing.T, f *fixture) *countingStore {
	cs, _ := withRegistrarOf(t, f)
	return cs
}

func withRegistrarOf(t *testing.T, f *fixture) (*countingStore, *registrar) {
	t.Helper()
	cs := &countingStore{Store: f.store}
	reg := &registrar{fakeConnector: f.fake}
	f.svc = connect.New(cs, newTestSealer(), []relay.Connector{reg}, nil,
		slog.New(slog.NewTextHandler(io.Discard, nil)), f.clock, connect.Config{PublicURL: "https://relay.example", AllowedReturnOrigins: []string{"https://app.example"}})
	t.Cleanup(f.svc.Close)
	return cs, reg
}

func TestWebhookSecretStoredSealedPerConnection(t *testing.T) {
	f := newFixture(t)
	withRegistrar(t, f)
	a := f.connect(t, "acct-a", "ca").Get("connection_id")
	b := f.connect(t, "acct-b", "cb").Get("connection_id")

	ca, err := f.store.GetConnection(ctx, a, "")
	if err != nil || ca.Metadata["webhook_id"] != "wh-acct-a-1" {
		t.Fatalf("connection %+v %v", ca, err)
	}
	for k, v := range ca.Metadata {
		if strings.Contains(v, "whsecret") {
			t.Fatalf("the webhook secret is in the metadata (%s)", k)
		}
	}
	sealed, err := f.store.FindWebhookSecret(ctx, "fake", "wh-acct-a-1")
	if err != nil || sealed.ConnectionID != a || sealed.AccountID != "acct-a" || strings.Contains(string(sealed.Sealed.Ciphertext), "whsecret") {
		t.Fatalf("stored secret %+v %v", sealed, err)
	}

	got, err := f.svc.WebhookSecret(ctx, "fake", "wh-acct-b-2")
	if err != nil || got.Secret != "whsecret-acct-b-2" || got.AccountID != "acct-b" || got.ConnectionID != b || got.WebhookID != "wh-acct-b-2" {
		t.Fatalf("secret of b's webhook: %+v %v", got, err)
	}
	if got, err := f.svc.WebhookSecretByAccount(ctx, "fake", "acct-a"); err != nil || got.Secret != "whsecret-acct-a-1" || got.ConnectionID != a {
		t.Fatalf("secret of account a: %+v %v", got, err)
	}
	if _, err := f.svc.WebhookSecret(ctx, "fake", "wh-unknown"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("unknown webhook: %v", err)
	}
	if _, err := f.svc.WebhookSecretByAccount(ctx, "other", "acct-a"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("another provider's account: %v", err)
	}
}

func TestWebhookSecretCache(t *testing.T) {
	f := newFixture(t)
	cs := withRegistrar(t, f)
	a := f.connect(t, "acct-a", "ca").Get("connection_id")

	// Found secrets and unknown webhooks are both cached.
	for range 3 {
		if _, err := f.svc.WebhookSecret(ctx, "fake", "wh-acct-a-1"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.WebhookSecret(ctx, "fake", "wh-acct-b-2"); relay.ErrorCode(err) != relay.ENOTFOUND {
			t.Fatalf("b before connecting: %v", err)
		}
	}
	if n := cs.finds.Load(); n != 2 {
		t.Fatalf("%d store lookups, want 2", n)
	}

	// Connecting b forgets the cached miss of its new webhook.
	f.connect(t, "acct-b", "cb")
	if got, err := f.svc.WebhookSecret(ctx, "fake", "wh-acct-b-2"); err != nil || got.AccountID != "acct-b" {
		t.Fatalf("b after connecting: %+v %v", got, err)
	}

	// Teardown forgets a's secret at once, not after the cache's lifetime.
	if _, err := f.svc.Teardown(ctx, a, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "teardown done", func() bool {
		c, err := f.store.GetConnection(ctx, a, "")
		return err == nil && c.Teardown == connect.TeardownDone
	})
	if _, err := f.svc.WebhookSecret(ctx, "fake", "wh-acct-a-1"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("torn-down connection's secret: %v", err)
	}
	if _, err := f.svc.WebhookSecretByAccount(ctx, "fake", "acct-a"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("torn-down account's secret: %v", err)
	}

	// A cached miss expires after the negative lifetime.
	f.advance(time.Minute)
	before := cs.finds.Load()
	_, _ = f.svc.WebhookSecret(ctx, "fake", "wh-unknown")
	_, _ = f.svc.WebhookSecret(ctx, "fake", "wh-unknown")
	f.advance(10 * time.Second)
	_, _ = f.svc.WebhookSecret(ctx, "fake", "wh-unknown")
	if n := cs.finds.Load() - before; n != 2 {
		t.Fatalf("%d store lookups for an unknown webhook across its expiry, want 2", n)
	}
}

func TestUpgradeSharedSecretWebhooks(t *testing.T) {
	f := newFixture(t)
	_, reg := withRegistrarOf(t, f)
	reg.noSecret.Store(true) // webhooks registered with the shared secret
	a := f.connect(t, "acct-a", "ca").Get("connection_id")
	reg.noSecret.Store(false)
	f.connect(t, "acct-b", "cb")
	if n, err := f.svc.SharedSecretWebhooks(ctx, "fake"); err != nil || n != 1 {
		t.Fatalf("shared-secret webhooks: %d %v", n, err)
	}

	// The legacy webhook is replaced by one with its own secret, then removed.
	n, err := f.svc.UpgradeWebhookSecrets(ctx)
	if err != nil || n != 1 {
		t.Fatalf("upgraded %d: %v", n, err)
	}
	c, _ := f.store.GetConnection(ctx, a, "")
	if c.Metadata["webhook_id"] != "wh-acct-a-3" {
		t.Fatalf("webhook id %q", c.Metadata["webhook_id"])
	}
	if got, err := f.svc.WebhookSecret(ctx, "fake", "wh-acct-a-3"); err != nil || got.Secret != "whsecret-acct-a-3" || got.ConnectionID != a {
		t.Fatalf("new secret %+v %v", got, err)
	}
	if !slices.Equal(reg.deregistered, []string{"wh-acct-a-1"}) {
		t.Fatalf("deregistered %v", reg.deregistered)
	}
	if n, err := f.svc.SharedSecretWebhooks(ctx, "fake"); err != nil || n != 0 {
		t.Fatalf("shared-secret webhooks after the upgrade: %d %v", n, err)
	}
	if n, err := f.svc.UpgradeWebhookSecrets(ctx); err != nil || n != 0 || reg.n.Load() != 3 {
		t.Fatalf("a second upgrade: %d %v, %d registrations", n, err, reg.n.Load())
	}
}
