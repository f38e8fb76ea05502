package github_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/github"
	"github.com/relayhq/relay/simulator"
)

func newConnector(t *testing.T, sim *simulator.GitHub) *github.Connector {
	t.Helper()
	c, err := github.NewConnector(github.ConnectorConfig{AppID: sim.AppID, AppSlug: sim.AppSlug, PrivateKey: sim.Key,
		APIURL: sim.URL(), WebURL: sim.URL()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConnectorInstallFlow(t *testing.T) {
	sim := simulator.NewGitHub(nil)
	defer sim.Close()
	sim.AddInstallation(simulator.GitHubInstallation{ID: 42, Login: "octo-org", Repos: []simulator.GitHubRepo{
		{ID: 1, FullName: "octo-org/a"}, {ID: 2, FullName: "octo-org/b"}, {ID: 3, FullName: "octo-org/c"}}})
	c := newConnector(t, sim)
	ctx := context.Background()

	if u := c.AuthorizeURL("st8", "https://relay.example/oauth/github/callback", ""); u != sim.URL()+"/apps/relay-test/installations/new?state=st8" {
		t.Fatalf("authorize URL %s", u)
	}
	redirect, _ := url.Parse(sim.InstallRedirect("https://relay.example/oauth/github/callback", "st8", 42, "install"))
	g, err := c.Exchange(ctx, redirect.Query(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if g.Connection.ExternalID != "42" || g.Connection.AccountName != "octo-org" || g.Connection.Status != relay.ConnectionActive ||
		g.Token == nil || !strings.HasPrefix(g.Token.AccessToken, "ghs_") || g.Token.ExpiresAt.IsZero() {
		t.Fatalf("grant %+v %+v", g.Connection, g.Token)
	}
	if len(g.Resources) != 3 || g.Resources[2].ExternalID != "3" || g.Resources[2].Name != "octo-org/c" {
		t.Fatalf("resources (3, over two pages): %+v", g.Resources)
	}
	if n := sim.Calls("list_repositories"); n != 2 {
		t.Fatalf("repository pages fetched: %d", n)
	}

	fresh, err := c.Refresh(ctx, g.Connection, g.Token)
	if err != nil || fresh.AccessToken == g.Token.AccessToken || !sim.ValidToken(fresh.AccessToken) {
		t.Fatalf("refresh: %v", err)
	}
	if err := c.Revoke(ctx, g.Connection, fresh); err != nil || sim.ValidToken(fresh.AccessToken) {
		t.Fatalf("revoke: %v", err)
	}
	if err := c.Revoke(ctx, g.Connection, fresh); err != nil {
		t.Fatalf("revoking an already revoked token: %v", err)
	}
}

func TestConnectorPendingAndErrors(t *testing.T) {
	sim := simulator.NewGitHub(nil)
	defer sim.Close()
	sim.AddInstallation(simulator.GitHubInstallation{ID: 7, Login: "acme"})
	c := newConnector(t, sim)
	ctx := context.Background()

	g, err := c.Exchange(ctx, url.Values{"installation_id": {"7"}, "setup_action": {"request"}}, "", "")
	if err != nil || g.Connection.Status != relay.ConnectionPending || g.Token != nil || sim.Calls("create_token") != 0 {
		t.Fatalf("request: %+v %v", g, err)
	}
	if _, err := c.Exchange(ctx, url.Values{"setup_action": {"install"}}, "", ""); relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("no installation id: %v", err)
	}
	if _, err := c.Exchange(ctx, url.Values{"installation_id": {"999"}, "setup_action": {"install"}}, "", ""); relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("unknown installation: %v", err)
	}
	sim.FailNext("create_token", 502, 1)
	_, err = c.Exchange(ctx, url.Values{"installation_id": {"7"}, "setup_action": {"install"}}, "", "")
	if relay.ErrorCode(err) != relay.EUNAVAILABLE || !strings.Contains(relay.ErrorMessage(err), "HTTP 502") {
		t.Fatalf("5xx: %v", err)
	}
	// A JWT from another key is refused by the simulator.
	other, _ := github.NewConnector(github.ConnectorConfig{AppID: "1001", AppSlug: "relay-test",
		PrivateKey: mustKey(t), APIURL: sim.URL(), WebURL: sim.URL()})
	if _, err := other.Exchange(ctx, url.Values{"installation_id": {"7"}}, "", ""); relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("wrong key: %v", err)
	}
}

func TestAppJWTLifetime(t *testing.T) {
	sim := simulator.NewGitHub(nil)
	defer sim.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c, _ := github.NewConnector(github.ConnectorConfig{AppID: "1001", AppSlug: "s", PrivateKey: sim.Key, Now: func() time.Time { return now }})
	tok, err := c.AppJWT()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("not a JWT: %s", tok)
	}
}

func TestLifecycle(t *testing.T) {
	p := github.New(github.Config{WebhookSecret: "s"})
	ch, ok := p.Lifecycle(relay.Inbound{EventType: "installation.deleted", AccountID: "42"}, []byte(`{"action":"deleted","installation":{"id":42}}`))
	if !ok || ch.Status != relay.ConnectionRevoked || ch.AccountID != "42" {
		t.Fatalf("deleted: %+v %v", ch, ok)
	}
	ch, ok = p.Lifecycle(relay.Inbound{EventType: "installation_repositories.added", AccountID: "42"},
		[]byte(`{"action":"added","installation":{"id":42},"repositories_added":[{"id":5,"full_name":"o/r"}],"repositories_removed":[{"id":6,"full_name":"o/s"}]}`))
	if !ok || len(ch.AddResources) != 1 || ch.AddResources[0].ExternalID != "5" || len(ch.RemoveResources) != 1 || ch.RemoveResources[0] != "6" {
		t.Fatalf("repositories: %+v %v", ch, ok)
	}
	if _, ok := p.Lifecycle(relay.Inbound{EventType: "issues.opened", AccountID: "42"}, []byte(`{}`)); ok {
		t.Fatal("issues.opened is not a lifecycle event")
	}
}

func mustKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
