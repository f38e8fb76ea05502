package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/relayhq/relay"
)

// secretStore returns s as a WebhookSecretStore, or skips the test.
func secretStore(t *testing.T, s relay.Store) relay.WebhookSecretStore {
	t.Helper()
	ws, ok := s.(relay.WebhookSecretStore)
	if !ok {
		t.Skip("this store does not implement relay.WebhookSecretStore")
	}
	return ws
}

func webhookSecret(c *relay.Connection, hook, v string) *relay.SealedWebhookSecret {
	return &relay.SealedWebhookSecret{ConnectionID: c.ID, Provider: c.Provider, WebhookID: hook, AccountID: c.ExternalID,
		Sealed: relay.Sealed{KeyID: "k1", Ciphertext: []byte("sealed:" + v)}, CreatedAt: t0}
}

func testWebhookSecrets(t *testing.T, s relay.Store) {
	cs := connStore(t, s)
	ws := secretStore(t, s)
	a := &relay.Connection{OrgID: "org_a", Provider: "linear", ExternalID: "org-1", Status: relay.ConnectionActive, UpdatedAt: t0}
	_, err := cs.UpsertConnection(ctx, a, sealed(sealedToken("a", time.Time{})), nil)
	must(t, err)
	b := &relay.Connection{OrgID: "org_b", Provider: "linear", ExternalID: "org-2", Status: relay.ConnectionActive, UpdatedAt: t0}
	_, err = cs.UpsertConnection(ctx, b, nil, nil)
	must(t, err)
	v := &relay.Connection{OrgID: "org_b", Provider: "vercel", ExternalID: "team_1", Status: relay.ConnectionActive, UpdatedAt: t0}
	_, err = cs.UpsertConnection(ctx, v, nil, nil)
	must(t, err)

	must(t, ws.PutWebhookSecret(ctx, webhookSecret(a, "wh-a", "a1")))
	must(t, ws.PutWebhookSecret(ctx, webhookSecret(b, "wh-b", "b1")))
	must(t, ws.PutWebhookSecret(ctx, webhookSecret(v, "wh-v", "v1")))
	if err := ws.PutWebhookSecret(ctx, &relay.SealedWebhookSecret{ConnectionID: "con_missing", Provider: "linear",
		WebhookID: "wh-x", AccountID: "x", Sealed: relay.Sealed{KeyID: "k1", Ciphertext: []byte("x")}, CreatedAt: t0}); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("put for a missing connection: %v", err)
	}

	// By webhook id and by account, scoped to the provider.
	got, err := ws.FindWebhookSecret(ctx, "linear", "wh-a")
	if err != nil || got.ConnectionID != a.ID || got.AccountID != "org-1" || got.WebhookID != "wh-a" ||
		got.Provider != "linear" || got.Sealed.KeyID != "k1" || string(got.Sealed.Ciphertext) != "sealed:a1" || !got.CreatedAt.Equal(t0) {
		t.Fatalf("find by webhook: %+v %v", got, err)
	}
	if got, err := ws.FindWebhookSecretByAccount(ctx, "linear", "org-2"); err != nil || got.ConnectionID != b.ID || got.WebhookID != "wh-b" {
		t.Fatalf("find by account: %+v %v", got, err)
	}
	for _, q := range [][2]string{{"vercel", "wh-a"}, {"linear", "wh-v"}, {"linear", "wh-none"}} {
		if _, err := ws.FindWebhookSecret(ctx, q[0], q[1]); relay.ErrorCode(err) != relay.ENOTFOUND {
			t.Fatalf("find %v: %v", q, err)
		}
	}
	if _, err := ws.FindWebhookSecretByAccount(ctx, "vercel", "org-1"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("find another provider's account: %v", err)
	}

	// A new webhook of the connection replaces its secret.
	must(t, ws.PutWebhookSecret(ctx, webhookSecret(a, "wh-a2", "a2")))
	if _, err := ws.FindWebhookSecret(ctx, "linear", "wh-a"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("replaced webhook still found: %v", err)
	}
	if got, err := ws.FindWebhookSecretByAccount(ctx, "linear", "org-1"); err != nil || got.WebhookID != "wh-a2" || string(got.Sealed.Ciphertext) != "sealed:a2" {
		t.Fatalf("replaced secret: %+v %v", got, err)
	}

	// ResealAll re-encrypts the webhook secrets with the tokens.
	var ads []string
	n, err := s.ResealAll(ctx, func(v relay.Sealed, ad []byte) (relay.Sealed, error) {
		ads = append(ads, string(ad))
		return relay.Sealed{KeyID: "k2", Ciphertext: append([]byte("re:"), v.Ciphertext...)}, nil
	})
	if !slices.Contains(ads, string(relay.WebhookSecretAD(a.ID))) {
		t.Fatalf("webhook secrets resealed with associated data %q, want their connection's", ads)
	}
	if err != nil || n != 4 { // a's token and three secrets
		t.Fatalf("reseal %d %v", n, err)
	}
	if got, err := ws.FindWebhookSecret(ctx, "vercel", "wh-v"); err != nil || got.Sealed.KeyID != "k2" || string(got.Sealed.Ciphertext) != "re:sealed:v1" {
		t.Fatalf("resealed secret: %+v %v", got, err)
	}

	// Deleting the connection removes its secret; a revived connection has
	// none until it registers a webhook again.
	must(t, cs.DeleteConnection(ctx, a.ID, t0.Add(time.Minute)))
	if _, err := ws.FindWebhookSecret(ctx, "linear", "wh-a2"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("deleted connection's secret by webhook: %v", err)
	}
	_, err = cs.UpsertConnection(ctx, a, nil, nil)
	must(t, err)
	if _, err := ws.FindWebhookSecretByAccount(ctx, "linear", "org-1"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("revived connection's old secret: %v", err)
	}
	if got, err := ws.FindWebhookSecret(ctx, "linear", "wh-b"); err != nil || got.ConnectionID != b.ID {
		t.Fatalf("other connection's secret: %+v %v", got, err)
	}
}
