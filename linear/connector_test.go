package linear_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/linear"
	"github.com/relayhq/relay/simulator"
)

const redirect = "https://relay.example/oauth/linear/callback"

var epoch = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// fixture is a connector talking to a Linear simulator with one workspace
// of three teams (two pages).
type fixture struct {
	sim *simulator.Linear
	c   *linear.Connector
	now time.Time
}

func setup(t *testing.T, cfg linear.ConnectorConfig) *fixture {
	t.Helper()
	f := &fixture{now: epoch}
	clock := func() time.Time { return f.now }
	f.sim = simulator.NewLinear(clock)
	t.Cleanup(f.sim.Close)
	f.sim.AddOrganization(simulator.LinearOrg{ID: "org-1", Name: "Acme", URLKey: "acme", Teams: []simulator.LinearTeam{
		{ID: "t1", Name: "Eng", Key: "ENG"}, {ID: "t2", Name: "Ops", Key: "OPS"}, {ID: "t3", Name: "Web", Key: "WEB"}}})
	cfg.ClientID, cfg.APIURL, cfg.WebURL, cfg.Now = f.sim.ClientID, f.sim.URL(), f.sim.URL(), clock
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = f.sim.ClientSecret
	}
	c, err := linear.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.c = c
	return f
}

// consent runs the browser part: Relay's authorize URL with the verifier's
// challenge, approved at the simulator; it returns the callback's query.
func (f *fixture) consent(t *testing.T, verifier string) url.Values {
	t.Helper()
	to, err := f.sim.AuthorizeRedirect(f.c.AuthorizeURL("st8", redirect, oauth2.S256ChallengeFromVerifier(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(to)
	if err != nil || !strings.HasPrefix(to, redirect+"?") || u.Query().Get("state") != "st8" {
		t.Fatalf("redirect %q: %v", to, err)
	}
	return u.Query()
}

func (f *fixture) connect(t *testing.T) *relay.Grant {
	t.Helper()
	v := oauth2.GenerateVerifier()
	g, err := f.c.Exchange(context.Background(), f.consent(t, v), redirect, v)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// noSecrets fails when an error message holds any of the secrets.
func noSecrets(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if s != "" && (strings.Contains(err.Error(), s) || strings.Contains(relay.ErrorMessage(err), s)) {
			t.Errorf("error %q contains a secret", err)
		}
	}
}

func TestAuthorizeURL(t *testing.T) {
	f := setup(t, linear.ConnectorConfig{Scopes: []string{"read", "write"}})
	u, err := url.Parse(f.c.AuthorizeURL("st8", redirect, "chal"))
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{"client_id": {f.sim.ClientID}, "redirect_uri": {redirect}, "response_type": {"code"},
		"scope": {"read,write"}, "state": {"st8"}, "code_challenge": {"chal"}, "code_challenge_method": {"S256"}, "actor": {"app"}}
	if u.Scheme+"://"+u.Host+u.Path != f.sim.URL()+"/oauth/authorize" || u.Query().Encode() != want.Encode() {
		t.Fatalf("authorize URL %s", u)
	}
	if !f.c.PKCE() || f.c.Name() != "linear" {
		t.Fatal("Linear takes PKCE")
	}
	user, err := linear.NewConnector(linear.ConnectorConfig{ClientID: "id", ClientSecret: "s", Actor: "user"})
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := url.Parse(user.AuthorizeURL("s", redirect, "c")); u.Query().Get("actor") != "user" || u.Query().Get("scope") != "read" ||
		u.Host != "linear.app" {
		t.Fatalf("user actor URL %s", u)
	}
	if _, err := linear.NewConnector(linear.ConnectorConfig{ClientID: "id", ClientSecret: "s", Actor: "bot"}); err == nil {
		t.Fatal("an unknown actor was accepted")
	}
	if _, err := linear.NewConnector(linear.ConnectorConfig{ClientID: "id"}); err == nil {
		t.Fatal("a connector without a client secret was accepted")
	}
}

func TestConnectorFlow(t *testing.T) {
	f := setup(t, linear.ConnectorConfig{})
	ctx := context.Background()
	g := f.connect(t)
	if g.Connection.ExternalID != "org-1" || g.Connection.AccountName != "Acme" || g.Connection.Status != relay.ConnectionActive ||
		g.Connection.Metadata["url_key"] != "acme" {
		t.Fatalf("connection %+v", g.Connection)
	}
	if g.Token.RefreshToken == "" || !g.Token.ExpiresAt.Equal(epoch.Add(24*time.Hour)) || !f.sim.ValidToken(g.Token.AccessToken) {
		t.Fatalf("token expires %v", g.Token.ExpiresAt)
	}
	var teams []string
	for _, r := range g.Resources {
		if r.Kind != "team" || r.Provider != "linear" {
			t.Fatalf("resource %+v", r)
		}
		teams = append(teams, r.ExternalID+"="+r.Name)
	}
	if !slices.Equal(teams, []string{"t1=Eng", "t2=Ops", "t3=Web"}) || f.sim.Calls("graphql") != 3 {
		t.Fatalf("teams %v over %d GraphQL calls (workspace + 2 pages)", teams, f.sim.Calls("graphql"))
	}

	// Refresh rotates: a new pair, and the old refresh token is dead.
	f.now = f.now.Add(time.Hour)
	fresh, err := f.c.Refresh(ctx, g.Connection, g.Token)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.AccessToken == g.Token.AccessToken || fresh.RefreshToken == "" || fresh.RefreshToken == g.Token.RefreshToken ||
		!fresh.ExpiresAt.Equal(f.now.Add(24*time.Hour)) || f.sim.ValidRefreshToken(g.Token.RefreshToken) {
		t.Fatalf("refresh: %+v", fresh)
	}
	_, err = f.c.Refresh(ctx, g.Connection, g.Token)
	if relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("reused refresh token: %v", err)
	}
	noSecrets(t, err, g.Token.RefreshToken, g.Token.AccessToken, f.sim.ClientSecret)

	// The webhook is created with the workspace's token and a secret of its
	// own, which RegisterWebhook returns for Relay to keep: its deliveries
	// verify with it, and name this connection's workspace.
	id, secret, err := f.c.RegisterWebhook(ctx, g.Connection, fresh, "https://relay.example/webhooks/linear")
	if err != nil || len(secret) != 64 {
		t.Fatalf("register: %d-character secret, %v", len(secret), err)
	}
	hooks := f.sim.Webhooks()
	if len(hooks) != 1 {
		t.Fatalf("webhooks %+v", hooks)
	}
	h := hooks[0]
	if h.ID != id || h.OrgID != "org-1" || h.URL != "https://relay.example/webhooks/linear" || h.Secret != secret ||
		h.AuthorizedBy != fresh.AccessToken || !h.AllPublicTeams || !h.Enabled || h.Label != "Relay" ||
		!slices.Equal(h.ResourceTypes, linear.DefaultResourceTypes) {
		t.Fatalf("webhook %+v", h)
	}
	body, header := f.sim.IssueWebhook("org-1", "t2", "issue-1", time.Now())
	adapter := linear.New(linear.Config{WebhookSecret: "the-app-level-secret"})
	req := &relay.WebhookRequest{Header: header, Body: body, ReceivedAt: time.Now()}
	secrets := &fakeSecrets{hooks: []relay.WebhookSecret{{WebhookID: id, AccountID: g.Connection.ExternalID, Secret: secret}}}
	if err := adapter.VerifyConnection(ctx, req, secrets); err != nil {
		t.Fatalf("a delivery of the registered webhook does not verify: %v", err)
	}
	if in, err := adapter.Parse(req); err != nil || in.AccountID != g.Connection.ExternalID {
		t.Fatalf("delivery account %q, connection %q (%v)", in.AccountID, g.Connection.ExternalID, err)
	}
	id2, secret2, err := f.c.RegisterWebhook(ctx, g.Connection, fresh, "https://relay.example/webhooks/linear")
	if err != nil || secret2 == secret || len(secret2) != 64 {
		t.Fatalf("a second webhook's secret: %v (same as the first: %v)", err, secret2 == secret)
	}
	if err := f.c.DeregisterWebhook(ctx, g.Connection, fresh, id2); err != nil {
		t.Fatal(err)
	}

	if err := f.c.DeregisterWebhook(ctx, g.Connection, fresh, id); err != nil || len(f.sim.Webhooks()) != 0 {
		t.Fatalf("deregister: %v", err)
	}
	if err := f.c.DeregisterWebhook(ctx, g.Connection, fresh, id); err != nil {
		t.Fatalf("deregistering a gone webhook: %v", err)
	}

	if err := f.c.Revoke(ctx, g.Connection, fresh); err != nil || f.sim.ValidToken(fresh.AccessToken) || f.sim.ValidRefreshToken(fresh.RefreshToken) {
		t.Fatalf("revoke: %v", err)
	}
	if err := f.c.Revoke(ctx, g.Connection, fresh); err != nil {
		t.Fatalf("revoking a revoked token: %v", err)
	}
	f.sim.FailNext("revoke", 503, 1)
	if err := f.c.Revoke(ctx, g.Connection, fresh); relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Fatalf("revoke 503: %v", err)
	}
}

func TestRefreshWithoutExpiry(t *testing.T) {
	f := setup(t, linear.ConnectorConfig{})
	f.sim.SetTokenTTL(0) // no expires_in
	g := f.connect(t)
	if !g.Token.ExpiresAt.IsZero() {
		t.Fatalf("exchange without expires_in: expires %v", g.Token.ExpiresAt)
	}
	fresh, err := f.c.Refresh(context.Background(), g.Connection, g.Token)
	if err != nil || !fresh.ExpiresAt.IsZero() || fresh.RefreshToken == "" {
		t.Fatalf("refresh without expires_in: %+v %v", fresh, err)
	}
	if _, err := f.c.Refresh(context.Background(), g.Connection, &relay.Token{AccessToken: "x"}); relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("refresh without a refresh token: %v", err)
	}
}

func TestExchangeErrors(t *testing.T) {
	f := setup(t, linear.ConnectorConfig{})
	ctx := context.Background()
	var errs []error

	// A wrong PKCE verifier is refused by Linear, and the code is spent.
	q := f.consent(t, "right-verifier-right-verifier-right-verifier-1")
	_, err := f.c.Exchange(ctx, q, redirect, "wrong-verifier-wrong-verifier-wrong-verifier-1")
	if relay.ErrorCode(err) != relay.EINVALID || !strings.Contains(relay.ErrorMessage(err), "invalid_grant") {
		t.Fatalf("wrong verifier: %v", err)
	}
	errs = append(errs, err)
	_, err = f.c.Exchange(ctx, q, redirect, "right-verifier-right-verifier-right-verifier-1")
	if relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("reused code: %v", err)
	}
	errs = append(errs, err)

	denied, _ := url.Parse(f.sim.Deny(f.c.AuthorizeURL("st8", redirect, "c")))
	_, err = f.c.Exchange(ctx, denied.Query(), redirect, "v")
	if relay.ErrorCode(err) != relay.EINVALID || !strings.Contains(relay.ErrorMessage(err), "consent denied: access_denied") {
		t.Fatalf("denied: %v", err)
	}
	if _, err := f.c.Exchange(ctx, url.Values{"state": {"st8"}}, redirect, "v"); relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("no code: %v", err)
	}

	tests := []struct {
		name   string
		status int
		want   string
	}{
		{"token 503", 503, relay.EUNAVAILABLE},
		{"token 429", 429, relay.EUNAVAILABLE},
		{"token 400", 400, relay.EINVALID},
	}
	for _, tt := range tests {
		v := oauth2.GenerateVerifier()
		q := f.consent(t, v)
		f.sim.FailNext("token_code", tt.status, 1)
		_, err := f.c.Exchange(ctx, q, redirect, v)
		if relay.ErrorCode(err) != tt.want {
			t.Errorf("%s: %v, want %s", tt.name, err, tt.want)
		}
		errs = append(errs, err)
	}

	// The workspace query failing fails the exchange.
	v := oauth2.GenerateVerifier()
	q = f.consent(t, v)
	f.sim.FailNext("graphql", 502, 1)
	if _, err := f.c.Exchange(ctx, q, redirect, v); relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Fatalf("graphql 502 during exchange: %v", err)
	}

	// Wrong client credentials: Linear refuses.
	bad := setup(t, linear.ConnectorConfig{ClientSecret: "not-the-secret"})
	v = oauth2.GenerateVerifier()
	_, err = bad.c.Exchange(ctx, bad.consent(t, v), redirect, v)
	if relay.ErrorCode(err) != relay.EINVALID || !strings.Contains(relay.ErrorMessage(err), "invalid_client") {
		t.Fatalf("bad client secret: %v", err)
	}
	errs = append(errs, err)

	for _, err := range errs {
		noSecrets(t, err, f.sim.ClientSecret, "not-the-secret", q.Get("code"), v)
	}
}

func TestGraphQLErrors(t *testing.T) {
	f := setup(t, linear.ConnectorConfig{})
	ctx := context.Background()
	g := f.connect(t)
	tests := []struct {
		name   string
		status int
		want   string
	}{
		{"500", 500, relay.EUNAVAILABLE},
		{"rate limited", 429, relay.EUNAVAILABLE},
		{"forbidden", 403, relay.EINVALID},
		{"bad input", 400, relay.EINVALID},
	}
	for _, tt := range tests {
		f.sim.FailNext("graphql", tt.status, 1)
		_, err := f.c.Resources(ctx, g.Connection, g.Token)
		if relay.ErrorCode(err) != tt.want {
			t.Errorf("%s: %v, want %s", tt.name, err, tt.want)
		}
		noSecrets(t, err, g.Token.AccessToken)
	}

	// Linear answers a bad token with HTTP 200 and "errors".
	stale := &relay.Token{AccessToken: "lin_oauth_not_a_token"}
	_, err := f.c.Resources(ctx, g.Connection, stale)
	if relay.ErrorCode(err) != relay.EINVALID || !strings.Contains(relay.ErrorMessage(err), "AUTHENTICATION_ERROR") {
		t.Fatalf("GraphQL authentication error: %v", err)
	}
	noSecrets(t, err, stale.AccessToken, g.Token.AccessToken)

	// An expired token: the same, for every call.
	f.now = f.now.Add(25 * time.Hour)
	_, _, err = f.c.RegisterWebhook(ctx, g.Connection, g.Token, "https://relay.example/webhooks/linear")
	if relay.ErrorCode(err) != relay.EINVALID || len(f.sim.Webhooks()) != 0 {
		t.Fatalf("register with an expired token: %v", err)
	}
	noSecrets(t, err, g.Token.AccessToken)
	err = f.c.DeregisterWebhook(ctx, g.Connection, g.Token, "wh-1")
	if relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("deregister with an expired token: %v", err)
	}
	noSecrets(t, err, g.Token.AccessToken)

	// Linear down: transport errors are EUNAVAILABLE.
	f.sim.Close()
	if _, err := f.c.Resources(ctx, g.Connection, g.Token); relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Fatalf("Linear down: %v", err)
	}
	if _, err := f.c.Refresh(ctx, g.Connection, g.Token); relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Fatalf("refresh with Linear down: %v", err)
	}
}

func TestLifecycle(t *testing.T) {
	p := linear.New(linear.Config{WebhookSecret: "s"})
	tests := []struct {
		name string
		in   relay.Inbound
		body string
		want string // AccountID; "" = not a lifecycle event
	}{
		{"revoked", relay.Inbound{}, `{"type":"OAuthApp","action":"revoked","organizationId":"org-1"}`, "org-1"},
		{"account from data", relay.Inbound{}, `{"type":"OAuthApp","action":"revoked","data":{"organizationId":"org-2"}}`, "org-2"},
		{"account from Inbound", relay.Inbound{AccountID: "org-3"}, `{"type":"oauthApp","action":"revoke","data":"x"}`, "org-3"},
		{"authorization removed", relay.Inbound{}, `{"type":"OAuthAuthorization","action":"remove","organizationId":"org-4"}`, "org-4"},
		{"no account", relay.Inbound{}, `{"type":"OAuthApp","action":"revoked"}`, ""},
		{"issue removed", relay.Inbound{AccountID: "org-1"}, `{"type":"Issue","action":"remove","organizationId":"org-1"}`, ""},
		{"other OAuthApp action", relay.Inbound{AccountID: "org-1"}, `{"type":"OAuthApp","action":"created","organizationId":"org-1"}`, ""},
		{"not JSON", relay.Inbound{AccountID: "org-1"}, `nope`, ""},
	}
	for _, tt := range tests {
		ch, ok := p.Lifecycle(tt.in, []byte(tt.body))
		switch {
		case tt.want == "" && ok:
			t.Errorf("%s: a lifecycle event: %+v", tt.name, ch)
		case tt.want != "" && (!ok || ch.AccountID != tt.want || ch.Status != relay.ConnectionRevoked || ch.Reason == ""):
			t.Errorf("%s: %+v %v, want account %s revoked", tt.name, ch, ok, tt.want)
		}
	}
}

// TestConnectorOrganizationFromLinear: the workspace is the one Linear's
// API names for the new token; organization or team ids written on the
// redirect are ignored.
func TestConnectorOrganizationFromLinear(t *testing.T) {
	f := setup(t, linear.ConnectorConfig{})
	f.sim.AddOrganization(simulator.LinearOrg{ID: "org-victim", Name: "Victim", Teams: []simulator.LinearTeam{{ID: "tv", Name: "Secret"}}})
	v := oauth2.GenerateVerifier()
	q := f.consent(t, v)
	for _, k := range []string{"organizationId", "organization_id", "orgId", "workspace"} {
		q.Set(k, "org-victim")
	}
	q.Set("teamId", "tv")
	g, err := f.c.Exchange(context.Background(), q, redirect, v)
	if err != nil {
		t.Fatal(err)
	}
	if g.Connection.ExternalID != "org-1" || g.Connection.AccountName != "Acme" || len(g.Resources) != 3 {
		t.Fatalf("forged redirect: connection %+v, %d teams", g.Connection, len(g.Resources))
	}
}
