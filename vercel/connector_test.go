package vercel_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/simulator"
	"github.com/relayhq/relay/vercel"
)

const (
	callback = "https://relay.example/oauth/vercel/callback"
	// personalUser is the user simulator.VercelDeploymentPayload names.
	personalUser = "usr_7QbK1sCm9wV2dXyZ"
)

type fixture struct {
	sim *simulator.Vercel
	c   *vercel.Connector
	now time.Time
}

// setup starts a simulator with a team install (cfg-team: five projects,
// three pages) and a personal one (cfg-user: one project).
func setup(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return f.now }
	f.sim = simulator.NewVercel(clock)
	t.Cleanup(f.sim.Close)
	f.sim.AddAccount(simulator.VercelAccount{ConfigurationID: "cfg-team", TeamID: "team_1", UserID: "usr_1",
		Projects: []simulator.VercelProject{{ID: "prj_1", Name: "web"}, {ID: "prj_2", Name: "api"}, {ID: "prj_3", Name: "docs"},
			{ID: "prj_4", Name: "blog"}, {ID: "prj_5", Name: "shop"}}})
	f.sim.AddAccount(simulator.VercelAccount{ConfigurationID: "cfg-user", UserID: personalUser,
		Projects: []simulator.VercelProject{{ID: "prj_9", Name: "home"}}})
	c, err := vercel.NewConnector(vercel.ConnectorConfig{ClientID: f.sim.ClientID, ClientSecret: f.sim.ClientSecret, Slug: f.sim.Slug,
		APIURL: f.sim.URL(), WebURL: f.sim.URL(), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	f.c = c
	return f
}

func (f *fixture) install(t *testing.T, configurationID string) url.Values {
	t.Helper()
	u, err := url.Parse(f.sim.InstallRedirect(callback, "st8", configurationID))
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

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

func ids(rs []*relay.Resource) []string {
	var out []string
	for _, r := range rs {
		if r.Kind != "project" || r.Provider != "vercel" {
			return []string{"bad resource " + r.ExternalID}
		}
		out = append(out, r.ExternalID)
	}
	return out
}

func TestConnectorTeamInstall(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	if u := f.c.AuthorizeURL("st8", callback, ""); u != f.sim.URL()+"/integrations/relay-test/new?state=st8" || f.c.PKCE() {
		t.Fatalf("authorize URL %s", u)
	}
	q := f.install(t, "cfg-team")
	if q.Get("teamId") != "team_1" || q.Get("configurationId") != "cfg-team" || q.Get("state") != "st8" {
		t.Fatalf("install redirect %v", q)
	}
	g, err := f.c.Exchange(ctx, q, callback, "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"configuration_id": "cfg-team", "team_id": "team_1", "user_id": "usr_1"}
	if g.Connection.ExternalID != "team_1" || g.Connection.Status != relay.ConnectionActive || len(g.Connection.Metadata) != len(want) {
		t.Fatalf("connection %+v", g.Connection)
	}
	for k, v := range want {
		if g.Connection.Metadata[k] != v {
			t.Fatalf("metadata %v, want %v", g.Connection.Metadata, want)
		}
	}
	if g.Token.RefreshToken != "" || !g.Token.ExpiresAt.IsZero() || !f.sim.ValidToken(g.Token.AccessToken) {
		t.Fatalf("token %+v", g.Token)
	}
	if got := ids(g.Resources); !slices.Equal(got, []string{"prj_1", "prj_2", "prj_3", "prj_4", "prj_5"}) || f.sim.Calls("list_projects") != 3 {
		t.Fatalf("projects %v in %d pages", got, f.sim.Calls("list_projects"))
	}

	// The connection's account is the one the webhook adapter routes by.
	body := simulator.VercelDeploymentPayload("evt_1", "team_1", "prj_2")
	if in, err := vercel.New(vercel.Config{ClientSecret: "s"}).Parse(&relay.WebhookRequest{Body: body}); err != nil ||
		in.AccountID != g.Connection.ExternalID || in.ResourceID != "prj_2" {
		t.Fatalf("adapter account %q resource %q, connection %q (%v)", in.AccountID, in.ResourceID, g.Connection.ExternalID, err)
	}

	// The code was single use.
	_, err = f.c.Exchange(ctx, q, callback, "")
	if relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("reused code: %v", err)
	}
	noSecrets(t, err, q.Get("code"), f.sim.ClientSecret)

	// Webhooks: Vercel generates the secret; the team's calls carry teamId
	// (the simulator refuses them otherwise).
	id, secret, err := f.c.RegisterWebhook(ctx, g.Connection, g.Token, "https://relay.example/webhooks/vercel")
	if err != nil || id == "" || secret == "" {
		t.Fatalf("register: %q %v", id, err)
	}
	hooks := f.sim.Webhooks()
	if len(hooks) != 1 || hooks[0].ID != id || hooks[0].Secret != secret || hooks[0].URL != "https://relay.example/webhooks/vercel" ||
		hooks[0].AuthorizedBy != g.Token.AccessToken || !slices.Equal(hooks[0].Events, vercel.DefaultWebhookEvents) {
		t.Fatalf("webhooks %+v", hooks)
	}
	// A delivery signed with the webhook's secret verifies with an adapter
	// holding that secret.
	hdr := simulator.VercelWebhook(secret, body)
	if err := vercel.New(vercel.Config{ClientSecret: secret}).Verify(&relay.WebhookRequest{Header: hdr, Body: body}); err != nil {
		t.Fatalf("webhook secret: %v", err)
	}
	f.sim.FailNext("delete_webhook", 502, 1)
	if err := f.c.DeregisterWebhook(ctx, g.Connection, g.Token, id); relay.ErrorCode(err) != relay.EUNAVAILABLE || len(f.sim.Webhooks()) != 1 {
		t.Fatalf("deregister 502: %v", err)
	}
	if err := f.c.DeregisterWebhook(ctx, g.Connection, g.Token, id); err != nil || len(f.sim.Webhooks()) != 0 {
		t.Fatalf("deregister: %v", err)
	}
	if err := f.c.DeregisterWebhook(ctx, g.Connection, g.Token, id); err != nil {
		t.Fatalf("deregistering a gone webhook: %v", err)
	}

	// Tokens do not expire: Refresh hands back the same one.
	same, err := f.c.Refresh(ctx, g.Connection, g.Token)
	if err != nil || same.AccessToken != g.Token.AccessToken || !same.ExpiresAt.IsZero() || f.sim.Calls("exchange") != 2 {
		t.Fatalf("refresh: %+v %v", same, err)
	}

	// Revoke removes the configuration: the token and its webhooks end.
	if _, _, err := f.c.RegisterWebhook(ctx, g.Connection, g.Token, "https://relay.example/webhooks/vercel"); err != nil {
		t.Fatal(err)
	}
	f.sim.FailNext("remove_configuration", 503, 1)
	if err := f.c.Revoke(ctx, g.Connection, g.Token); relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Fatalf("revoke 503: %v", err)
	}
	if err := f.c.Revoke(ctx, g.Connection, g.Token); err != nil || f.sim.ValidToken(g.Token.AccessToken) ||
		f.sim.Installed("cfg-team") || len(f.sim.Webhooks()) != 0 {
		t.Fatalf("revoke: %v", err)
	}
	if err := f.c.Revoke(ctx, g.Connection, g.Token); err != nil {
		t.Fatalf("revoking a removed configuration: %v", err)
	}
	// Afterwards the token is refused: EINVALID, and the message holds no token.
	_, err = f.c.Resources(ctx, g.Connection, g.Token)
	if relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("resources with a revoked token: %v", err)
	}
	noSecrets(t, err, g.Token.AccessToken)
}

func TestConnectorPersonalInstall(t *testing.T) {
	f := setup(t)
	q := f.install(t, "cfg-user")
	if q.Has("teamId") {
		t.Fatalf("personal install redirect has teamId: %v", q)
	}
	g, err := f.c.Exchange(context.Background(), q, callback, "")
	if err != nil {
		t.Fatal(err)
	}
	if g.Connection.ExternalID != personalUser || g.Connection.Metadata["team_id"] != "" || g.Connection.Metadata["configuration_id"] != "cfg-user" ||
		!slices.Equal(ids(g.Resources), []string{"prj_9"}) {
		t.Fatalf("personal grant %+v %v", g.Connection, ids(g.Resources))
	}
	// A personal account's webhook names a null team: the adapter falls
	// back to the user, the connection's ExternalID.
	body := simulator.VercelDeploymentPayload("evt_2", "", "prj_9")
	if in, _ := vercel.New(vercel.Config{ClientSecret: "s"}).Parse(&relay.WebhookRequest{Body: body}); in.AccountID != g.Connection.ExternalID {
		t.Fatalf("adapter account %q, connection %q", in.AccountID, g.Connection.ExternalID)
	}
}

func TestConnectorErrors(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	var errs []error
	check := func(name string, err error, want string) {
		t.Helper()
		if relay.ErrorCode(err) != want {
			t.Errorf("%s: %v, want %s", name, err, want)
		}
		errs = append(errs, err)
	}

	_, err := f.c.Exchange(ctx, url.Values{"error": {"access_denied"}}, callback, "")
	check("error parameter", err, relay.EINVALID)
	_, err = f.c.Exchange(ctx, url.Values{"configurationId": {"cfg-team"}}, callback, "")
	check("no code", err, relay.EINVALID)

	q := f.install(t, "cfg-team")
	f.now = f.now.Add(31 * time.Minute)
	_, err = f.c.Exchange(ctx, q, callback, "")
	check("expired code", err, relay.EINVALID)

	f.sim.FailNext("exchange", 500, 1)
	_, err = f.c.Exchange(ctx, f.install(t, "cfg-team"), callback, "")
	check("exchange 500", err, relay.EUNAVAILABLE)

	bad, err := vercel.NewConnector(vercel.ConnectorConfig{ClientID: f.sim.ClientID, ClientSecret: "wrong-secret", Slug: f.sim.Slug, APIURL: f.sim.URL()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.Exchange(ctx, f.install(t, "cfg-team"), callback, "")
	check("wrong client secret", err, relay.EINVALID)

	// Listing projects fails the exchange, mapped by status.
	for _, tt := range []struct {
		status int
		want   string
	}{{503, relay.EUNAVAILABLE}, {429, relay.EUNAVAILABLE}, {400, relay.EINVALID}, {403, relay.EINVALID}} {
		f.sim.FailNext("list_projects", tt.status, 1)
		_, err = f.c.Exchange(ctx, f.install(t, "cfg-team"), callback, "")
		check(fmt.Sprintf("list projects %d", tt.status), err, tt.want)
	}

	g, err := f.c.Exchange(ctx, f.install(t, "cfg-team"), callback, "")
	if err != nil {
		t.Fatal(err)
	}
	f.sim.FailNext("create_webhook", 400, 1)
	_, _, err = f.c.RegisterWebhook(ctx, g.Connection, g.Token, "https://relay.example/webhooks/vercel")
	check("create webhook 400", err, relay.EINVALID)
	f.sim.FailNext("create_webhook", 502, 1)
	_, _, err = f.c.RegisterWebhook(ctx, g.Connection, g.Token, "https://relay.example/webhooks/vercel")
	check("create webhook 502", err, relay.EUNAVAILABLE)

	// A team's token without its teamId is refused: the connector must
	// send it, and the refusal is EINVALID.
	noTeam := &relay.Connection{ExternalID: "team_1", Metadata: map[string]string{}}
	_, err = f.c.Resources(ctx, noTeam, g.Token)
	check("team token without teamId", err, relay.EINVALID)

	f.sim.Close()
	_, err = f.c.Resources(ctx, g.Connection, g.Token)
	check("Vercel down", err, relay.EUNAVAILABLE)

	for _, err := range errs {
		noSecrets(t, err, g.Token.AccessToken, f.sim.ClientSecret, "wrong-secret", q.Get("code"))
	}
}

func TestLifecycle(t *testing.T) {
	p := vercel.New(vercel.Config{ClientSecret: "s"})
	parse := func(body string) relay.Inbound {
		t.Helper()
		in, err := p.Parse(&relay.WebhookRequest{Body: []byte(body)})
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	tests := []struct {
		name    string
		body    string
		account string // "" = not a lifecycle event
		status  string
		add     []string
		remove  []string
	}{
		{"team uninstall", `{"id":"e1","type":"integration-configuration.removed","payload":{"team":{"id":"team_1"},"user":{"id":"usr_1"},"configuration":{"id":"cfg-team"}}}`,
			"team_1", relay.ConnectionRevoked, nil, nil},
		{"personal uninstall", `{"id":"e2","type":"integration-configuration.removed","payload":{"team":null,"user":{"id":"usr_2"},"configuration":{"id":"cfg-user"}}}`,
			"usr_2", relay.ConnectionRevoked, nil, nil},
		{"project created", `{"id":"e3","type":"project.created","payload":{"team":{"id":"team_1"},"user":{"id":"usr_1"},"project":{"id":"prj_9","name":"new"}}}`,
			"team_1", "", []string{"prj_9"}, nil},
		{"project removed", `{"id":"e4","type":"project.removed","payload":{"team":{"id":"team_1"},"project":{"id":"prj_1"}}}`,
			"team_1", "", nil, []string{"prj_1"}},
		{"project event without project", `{"id":"e5","type":"project.created","payload":{"team":{"id":"team_1"}}}`, "", "", nil, nil},
		{"deployment", string(simulator.VercelDeploymentPayload("e6", "team_1", "prj_1")), "", "", nil, nil},
		{"no account", `{"id":"e7","type":"integration-configuration.removed","payload":{"team":null}}`, "", "", nil, nil},
	}
	for _, tt := range tests {
		ch, ok := p.Lifecycle(parse(tt.body), []byte(tt.body))
		if tt.account == "" {
			if ok {
				t.Errorf("%s: a lifecycle event: %+v", tt.name, ch)
			}
			continue
		}
		if !ok || ch.AccountID != tt.account || ch.Status != tt.status || !slices.Equal(ids(ch.AddResources), tt.add) || !slices.Equal(ch.RemoveResources, tt.remove) {
			t.Errorf("%s: %+v %v", tt.name, ch, ok)
		}
	}
}

// TestConnectorAccountFromVercel: the configuration and team come from
// Vercel's token answer, never from the redirect's configurationId and
// teamId, which anyone can write.
func TestConnectorAccountFromVercel(t *testing.T) {
	f := setup(t)
	f.sim.AddAccount(simulator.VercelAccount{ConfigurationID: "cfg-victim", TeamID: "team_victim", UserID: "usr_victim",
		Projects: []simulator.VercelProject{{ID: "prj_victim", Name: "secret"}}})
	q := f.install(t, "cfg-team")
	q.Set("configurationId", "cfg-victim")
	q.Set("teamId", "team_victim")
	g, err := f.c.Exchange(context.Background(), q, callback, "")
	if err != nil {
		t.Fatal(err)
	}
	if g.Connection.ExternalID != "team_1" || g.Connection.Metadata["configuration_id"] != "cfg-team" ||
		g.Connection.Metadata["team_id"] != "team_1" || slices.Contains(ids(g.Resources), "prj_victim") {
		t.Fatalf("forged redirect: connection %+v, projects %v", g.Connection, ids(g.Resources))
	}
	// Without a configurationId on the redirect, the answer's is used too.
	q = f.install(t, "cfg-user")
	q.Del("configurationId")
	if g, err := f.c.Exchange(context.Background(), q, callback, ""); err != nil || g.Connection.Metadata["configuration_id"] != "cfg-user" {
		t.Fatalf("no configurationId: %+v %v", g, err)
	}
}
