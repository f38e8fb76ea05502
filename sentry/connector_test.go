package sentry_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/sentry"
	"github.com/relayhq/relay/simulator"
)

const (
	callback = "https://relay.example/oauth/sentry/callback"
	// uuid is the installation of testdata/webhooks/sentry/installation.deleted.json.
	uuid = "7a485448-a9e2-4c85-8a3c-4f44175783c9"
)

type fixture struct {
	sim *simulator.Sentry
	c   *sentry.Connector
	now time.Time
}

func (f *fixture) clock() time.Time { return f.now }

// setup starts a simulator with an installation in org acme (three
// projects: two pages) and a connector on the same clock.
func setup(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	f.sim = simulator.NewSentry(f.clock)
	t.Cleanup(f.sim.Close)
	f.sim.AddInstallation(simulator.SentryInstallation{UUID: uuid, OrgSlug: "acme",
		Projects: []simulator.SentryProject{{ID: "1", Slug: "backend"}, {ID: "2", Slug: "web"}, {ID: "3", Slug: "ios"}}})
	f.c = f.connector(t, f.sim.ClientSecret)
	return f
}

func (f *fixture) connector(t *testing.T, clientSecret string) *sentry.Connector {
	t.Helper()
	c, err := sentry.NewConnector(sentry.ConnectorConfig{ClientID: f.sim.ClientID, ClientSecret: clientSecret, Slug: f.sim.Slug,
		APIURL: f.sim.URL(), WebURL: f.sim.URL(), Now: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fixture) install(t *testing.T) url.Values {
	t.Helper()
	u, err := url.Parse(f.sim.InstallRedirect(callback, "st8", uuid))
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

func projectIDs(rs []*relay.Resource) []string {
	var out []string
	for _, r := range rs {
		if r.Kind != "project" || r.Provider != "sentry" {
			return []string{"bad resource " + r.ExternalID}
		}
		out = append(out, r.ExternalID)
	}
	return out
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

func TestConnectorInstall(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	if u := f.c.AuthorizeURL("st8", callback, ""); u != f.sim.URL()+"/sentry-apps/relay-test/external-install/?state=st8" || f.c.PKCE() {
		t.Fatalf("authorize URL %s", u)
	}
	q := f.install(t)
	g, err := f.c.Exchange(ctx, q, callback, "")
	if err != nil {
		t.Fatal(err)
	}
	conn := g.Connection
	if conn.ExternalID != uuid || conn.AccountName != "acme" || conn.Metadata["org_slug"] != "acme" || conn.Status != relay.ConnectionActive {
		t.Fatalf("connection %+v", conn)
	}
	if g.Token.RefreshToken == "" || !g.Token.ExpiresAt.Equal(f.now.Add(8*time.Hour)) || !f.sim.ValidToken(g.Token.AccessToken) {
		t.Fatalf("token %+v", g.Token)
	}
	if got := projectIDs(g.Resources); !slices.Equal(got, []string{"1", "2", "3"}) || g.Resources[2].Name != "ios" {
		t.Fatalf("projects %v", got)
	}
	if n := f.sim.Calls("list_projects"); n != 2 {
		t.Fatalf("project pages fetched: %d, want 2", n)
	}
	if f.sim.Calls("get_installation") != 1 {
		t.Fatal("the organization was not read from Sentry's installation details")
	}

	// The connection's account is the one the webhook adapter routes by.
	body := simulator.SentryIssuePayload(uuid, "1001")
	in, err := sentry.New(sentry.Config{ClientSecret: f.sim.ClientSecret}).Parse(&relay.WebhookRequest{
		Header: simulator.SentryWebhook(f.sim.ClientSecret, "issue", body, f.now), Body: body})
	if err != nil || in.AccountID != conn.ExternalID || in.ResourceID != "1" {
		t.Fatalf("adapter account %q resource %q, connection %q (%v)", in.AccountID, in.ResourceID, conn.ExternalID, err)
	}

	// The code is single use.
	_, err = f.c.Exchange(ctx, q, callback, "")
	if relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("reused code: %v", err)
	}
	noSecrets(t, err, q.Get("code"), f.sim.ClientSecret)

	// Without orgSlug the installation is read.
	q = f.install(t)
	q.Del("orgSlug")
	g, err = f.c.Exchange(ctx, q, callback, "")
	if err != nil || g.Connection.AccountName != "acme" || f.sim.Calls("get_installation") != 2 || len(g.Resources) != 3 {
		t.Fatalf("no orgSlug: %+v %v", g, err)
	}
}

func TestConnectorRefresh(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	g, err := f.c.Exchange(ctx, f.install(t), callback, "")
	if err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(7 * time.Hour)
	f.sim.SetTokenTTL(time.Hour)
	fresh, err := f.c.Refresh(ctx, g.Connection, g.Token)
	if err != nil || fresh.AccessToken == g.Token.AccessToken || fresh.RefreshToken == "" || fresh.RefreshToken == g.Token.RefreshToken ||
		!fresh.ExpiresAt.Equal(f.now.Add(time.Hour)) || !f.sim.ValidToken(fresh.AccessToken) || f.sim.Calls("token_refresh") != 1 {
		t.Fatalf("refresh: %+v %v", fresh, err)
	}
	// Rotation: the previous refresh token (and access token) are dead.
	if f.sim.ValidRefreshToken(g.Token.RefreshToken) || f.sim.ValidToken(g.Token.AccessToken) {
		t.Fatal("the previous tokens still work")
	}
	_, err = f.c.Refresh(ctx, g.Connection, g.Token)
	if relay.ErrorCode(err) != relay.EINVALID || !strings.Contains(relay.ErrorMessage(err), "sentry: refresh token: HTTP 401") {
		t.Fatalf("rotated refresh token reused: %v", err)
	}
	noSecrets(t, err, g.Token.RefreshToken, g.Token.AccessToken, fresh.RefreshToken, f.sim.ClientSecret)
	if res, err := f.c.Resources(ctx, g.Connection, fresh); err != nil || len(res) != 3 {
		t.Fatalf("projects with the fresh token: %d %v", len(res), err)
	}
	if _, err := f.c.Refresh(ctx, g.Connection, &relay.Token{AccessToken: fresh.AccessToken}); relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("no refresh token: %v", err)
	}
	// Sentry has no revocation endpoint: Revoke does nothing.
	if err := f.c.Revoke(ctx, g.Connection, fresh); err != nil || !f.sim.ValidToken(fresh.AccessToken) {
		t.Fatalf("revoke: %v", err)
	}
	// Uninstalled: the refresh token is refused.
	f.sim.RemoveInstallation(uuid)
	if _, err := f.c.Refresh(ctx, g.Connection, fresh); relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("refresh after uninstall: %v", err)
	}
}

func TestConnectorErrors(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	g, err := f.c.Exchange(ctx, f.install(t), callback, "")
	if err != nil {
		t.Fatal(err)
	}
	var secrets []string
	type result struct {
		name string
		err  error
	}
	var results []result
	check := func(name string, err error, code, msg string) {
		t.Helper()
		results = append(results, result{name, err})
		if relay.ErrorCode(err) != code || !strings.Contains(relay.ErrorMessage(err), msg) {
			t.Errorf("%s: %v, want %s containing %q", name, err, code, msg)
		}
	}
	exchange := func(q url.Values) error {
		secrets = append(secrets, q.Get("code"))
		_, err := f.c.Exchange(ctx, q, callback, "")
		return err
	}

	f.sim.FailNext("token_code", http.StatusBadGateway, 1)
	check("exchange 502", exchange(f.install(t)), relay.EUNAVAILABLE, "sentry: exchange code: HTTP 502")
	f.sim.FailNext("token_code", http.StatusBadRequest, 1)
	check("exchange 400", exchange(f.install(t)), relay.EINVALID, "sentry: exchange code: HTTP 400")
	f.sim.FailNext("list_projects", http.StatusServiceUnavailable, 1)
	check("projects 503", exchange(f.install(t)), relay.EUNAVAILABLE, "sentry: list projects: HTTP 503")
	f.sim.FailNext("list_projects", http.StatusTooManyRequests, 1)
	_, err = f.c.Resources(ctx, g.Connection, g.Token)
	check("projects 429", err, relay.EUNAVAILABLE, "HTTP 429")
	f.sim.FailNext("token_refresh", http.StatusInternalServerError, 1)
	_, err = f.c.Refresh(ctx, g.Connection, g.Token)
	check("refresh 500", err, relay.EUNAVAILABLE, "sentry: refresh token: HTTP 500")
	q := f.install(t)
	q.Del("orgSlug")
	f.sim.FailNext("get_installation", http.StatusBadGateway, 1)
	check("installation 502", exchange(q), relay.EUNAVAILABLE, "sentry: read installation: HTTP 502")

	_, err = f.connector(t, "wrong-secret").Exchange(ctx, f.install(t), callback, "")
	check("wrong client secret", err, relay.EINVALID, "HTTP 401")
	secrets = append(secrets, "wrong-secret")
	q = f.install(t)
	q.Set("installationId", "another-installation")
	check("code of another installation", exchange(q), relay.EINVALID, "sentry: exchange code: HTTP")
	check("no code", exchange(url.Values{"installationId": {uuid}}), relay.EINVALID, "sentry:")
	check("no installationId", exchange(url.Values{"code": {"made-up-code-0123456789"}}), relay.EINVALID, "sentry:")
	_, err = f.c.Resources(ctx, g.Connection, &relay.Token{AccessToken: "expired-or-unknown"})
	check("bad token", err, relay.EINVALID, "sentry: list projects: HTTP 401")

	short, cancel := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel()
	<-short.Done()
	_, err = f.c.Refresh(short, g.Connection, g.Token)
	check("deadline", err, relay.EUNAVAILABLE, "sentry: refresh token:")
	down := setup(t)
	down.sim.Close()
	_, err = down.c.Refresh(ctx, g.Connection, g.Token)
	check("connection refused", err, relay.EUNAVAILABLE, "sentry: refresh token:")

	secrets = append(secrets, g.Token.AccessToken, g.Token.RefreshToken, f.sim.ClientSecret, "expired-or-unknown")
	for _, r := range results {
		noSecrets(t, r.err, secrets...)
	}
}

// TestLifecycle runs installation webhooks through Verify, Parse and
// Lifecycle, as the ingest handler does.
func TestLifecycle(t *testing.T) {
	const secret = "sentry-client-secret"
	p := sentry.New(sentry.Config{ClientSecret: secret})
	parse := func(t *testing.T, resource string, body []byte) relay.Inbound {
		t.Helper()
		req := &relay.WebhookRequest{Header: simulator.SentryWebhook(secret, resource, body, time.Now()), Body: body}
		if err := p.Verify(req); err != nil {
			t.Fatal(err)
		}
		in, err := p.Parse(req)
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	deleted := readFixture(t, "installation.deleted.json")
	in := parse(t, "installation", deleted)
	ch, ok := p.Lifecycle(in, deleted)
	if !ok || ch.AccountID != uuid || ch.Status != relay.ConnectionRevoked || ch.Reason == "" || ch.AddResources != nil || ch.RemoveResources != nil {
		t.Fatalf("%s: %+v %v", in.EventType, ch, ok)
	}
	// The account is read from the body when the Inbound has none.
	if ch, ok := p.Lifecycle(relay.Inbound{EventType: "installation.deleted"}, deleted); !ok || ch.AccountID != uuid {
		t.Fatalf("account from the body: %+v", ch)
	}

	created := []byte(strings.Replace(string(deleted), `"action": "deleted"`, `"action": "created"`, 1))
	issue := readFixture(t, "issue.created.json")
	for _, tt := range []struct {
		in   relay.Inbound
		body []byte
	}{
		{parse(t, "installation", created), created},
		{parse(t, "issue", issue), issue},
		{relay.Inbound{EventType: "installation.deleted"}, []byte(`{"action":"deleted"}`)},
		{relay.Inbound{EventType: "installation.deleted"}, []byte(`not json`)},
	} {
		if ch, ok := p.Lifecycle(tt.in, tt.body); ok {
			t.Errorf("%s %.40s: %+v, want no change", tt.in.EventType, tt.body, ch)
		}
	}
}

// TestConnectorOrganizationFromSentry: the organization comes from
// Sentry's installation details, never from the redirect's orgSlug, which
// anyone can write.
func TestConnectorOrganizationFromSentry(t *testing.T) {
	f := setup(t)
	f.sim.AddInstallation(simulator.SentryInstallation{UUID: "victim-installation", OrgSlug: "victim",
		Projects: []simulator.SentryProject{{ID: "666", Slug: "secret-project"}}})
	for _, forged := range []string{"victim", "no-such-org", ""} {
		q := f.install(t)
		q.Set("orgSlug", forged)
		g, err := f.c.Exchange(context.Background(), q, callback, "")
		if err != nil {
			t.Fatalf("orgSlug %q: %v", forged, err)
		}
		if g.Connection.AccountName != "acme" || g.Connection.Metadata["org_slug"] != "acme" ||
			!slices.Equal(projectIDs(g.Resources), []string{"1", "2", "3"}) {
			t.Fatalf("orgSlug %q: connection %+v, projects %v", forged, g.Connection, projectIDs(g.Resources))
		}
	}
	if n := f.sim.Calls("get_installation"); n != 3 {
		t.Fatalf("installation details read %d times, want once per install", n)
	}
}
