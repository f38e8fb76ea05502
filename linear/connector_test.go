package linear_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/linear"
	"github.com/relayhq/relay/simulator"
)

const redirect = "https://relay.example/oauth/linear/callback"

func challenge(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func setup(t *testing.T) (*simulator.Linear, *linear.Connector) {
	t.Helper()
	sim := simulator.NewLinear(nil)
	t.Cleanup(sim.Close)
	sim.AddOrganization(simulator.LinearOrg{ID: "org-1", Name: "Acme", URLKey: "acme", Teams: []simulator.LinearTeam{
		{ID: "t1", Name: "Eng", Key: "ENG"}, {ID: "t2", Name: "Ops", Key: "OPS"}, {ID: "t3", Name: "Web", Key: "WEB"}}})
	c, err := linear.NewConnector(linear.ConnectorConfig{ClientID: sim.ClientID, ClientSecret: sim.ClientSecret,
		APIURL: sim.URL(), WebURL: sim.URL(), WebhookSecret: "lin-webhook-secret"})
	if err != nil {
		t.Fatal(err)
	}
	return sim, c
}

func callback(t *testing.T, sim *simulator.Linear, c *linear.Connector, verifier string) url.Values {
	t.Helper()
	to, err := sim.Consent(c.AuthorizeURL("st", redirect, challenge(verifier)), "org-1")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(to)
	return u.Query()
}

func TestConnectorFlow(t *testing.T) {
	sim, c := setup(t)
	ctx := context.Background()
	au, _ := url.Parse(c.AuthorizeURL("st", redirect, challenge("v")))
	if au.Query().Get("scope") != "read" || au.Query().Get("actor") != "app" || au.Query().Get("code_challenge_method") != "S256" {
		t.Fatalf("authorize URL %s", au)
	}
	g, err := c.Exchange(ctx, callback(t, sim, c, "verifier-1"), redirect, "verifier-1")
	if err != nil {
		t.Fatal(err)
	}
	if g.Connection.ExternalID != "org-1" || g.Connection.AccountName != "Acme" || g.Token.RefreshToken == "" ||
		g.Token.ExpiresAt.Before(time.Now().Add(23*time.Hour)) {
		t.Fatalf("grant %+v %+v", g.Connection, g.Token)
	}
	if len(g.Resources) != 3 || g.Resources[2].ExternalID != "t3" || g.Resources[2].Kind != "team" {
		t.Fatalf("teams over two pages: %+v", g.Resources)
	}

	fresh, err := c.Refresh(ctx, g.Connection, g.Token)
	if err != nil || fresh.AccessToken == g.Token.AccessToken || fresh.RefreshToken == "" || fresh.RefreshToken == g.Token.RefreshToken {
		t.Fatalf("refresh: %+v %v", fresh, err)
	}
	// The old refresh token died with the rotation.
	if _, err := c.Refresh(ctx, g.Connection, g.Token); relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("reused refresh token: %v", err)
	}

	id, _, err := c.RegisterWebhook(ctx, g.Connection, fresh, "https://relay.example/webhooks/linear")
	if err != nil {
		t.Fatal(err)
	}
	hooks := sim.Webhooks()
	if len(hooks) != 1 || hooks[0].ID != id || hooks[0].Secret != "lin-webhook-secret" || hooks[0].OrgID != "org-1" {
		t.Fatalf("webhooks %+v", hooks)
	}
	if err := c.DeregisterWebhook(ctx, g.Connection, fresh, id); err != nil || len(sim.Webhooks()) != 0 {
		t.Fatalf("deregister: %v", err)
	}
	if err := c.DeregisterWebhook(ctx, g.Connection, fresh, id); err != nil {
		t.Fatalf("deregistering a gone webhook: %v", err)
	}
	if err := c.Revoke(ctx, g.Connection, fresh); err != nil || sim.ValidToken(fresh.AccessToken) {
		t.Fatalf("revoke: %v", err)
	}
	if err := c.Revoke(ctx, g.Connection, fresh); err != nil {
		t.Fatalf("revoking twice: %v", err)
	}
}

func TestConnectorErrors(t *testing.T) {
	sim, c := setup(t)
	ctx := context.Background()
	// Wrong PKCE verifier: refused, and the code is spent.
	q := callback(t, sim, c, "right")
	_, err := c.Exchange(ctx, q, redirect, "wrong")
	if relay.ErrorCode(err) != relay.EINVALID || !strings.Contains(relay.ErrorMessage(err), "invalid_grant") {
		t.Fatalf("wrong verifier: %v", err)
	}
	if _, err := c.Exchange(ctx, q, redirect, "right"); relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("reused code: %v", err)
	}
	if _, err := c.Exchange(ctx, url.Values{"error": {"access_denied"}}, redirect, "v"); relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("denied: %v", err)
	}
	sim.FailNext("token_code", 503, 1)
	if _, err := c.Exchange(ctx, callback(t, sim, c, "v"), redirect, "v"); relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Fatalf("5xx: %v", err)
	}
	g, err := c.Exchange(ctx, callback(t, sim, c, "v2"), redirect, "v2")
	if err != nil {
		t.Fatal(err)
	}
	sim.FailNext("graphql", 500, 1)
	if _, err := c.Resources(ctx, g.Connection, g.Token); relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Fatalf("graphql 500: %v", err)
	}
	bad := &relay.Token{AccessToken: "lin_oauth_not_a_token"}
	_, err = c.Resources(ctx, g.Connection, bad)
	if relay.ErrorCode(err) != relay.EINVALID || strings.Contains(err.Error(), bad.AccessToken) || strings.Contains(err.Error(), g.Token.AccessToken) {
		t.Fatalf("GraphQL auth error: %v", err)
	}
}

func TestLifecycle(t *testing.T) {
	p := linear.New(linear.Config{WebhookSecret: "s"})
	ch, ok := p.Lifecycle(relay.Inbound{}, []byte(`{"type":"OAuthApp","action":"revoked","organizationId":"org-1"}`))
	if !ok || ch.AccountID != "org-1" || ch.Status != relay.ConnectionRevoked {
		t.Fatalf("revoked: %+v %v", ch, ok)
	}
	if _, ok := p.Lifecycle(relay.Inbound{AccountID: "org-1"}, []byte(`{"type":"Issue","action":"remove"}`)); ok {
		t.Fatal("an issue removal is not a lifecycle event")
	}
}
