package sentry_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/sentry"
	"github.com/relayhq/relay/simulator"
)

func TestConnector(t *testing.T) {
	sim := simulator.NewSentry(nil)
	defer sim.Close()
	sim.AddInstallation(simulator.SentryInstallation{UUID: "inst-1", OrgSlug: "acme",
		Projects: []simulator.SentryProject{{ID: "1", Slug: "api"}, {ID: "2", Slug: "web"}, {ID: "3", Slug: "ios"}}})
	c, err := sentry.NewConnector(sentry.ConnectorConfig{ClientID: sim.ClientID, ClientSecret: sim.ClientSecret, Slug: sim.Slug,
		APIURL: sim.URL(), WebURL: sim.URL()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if u := c.AuthorizeURL("st", "", ""); u != sim.URL()+"/sentry-apps/relay-test/external-install/?state=st" {
		t.Fatalf("authorize URL %s", u)
	}
	cb, _ := url.Parse(sim.InstallRedirect("https://relay.example/oauth/sentry/callback", "st", "inst-1"))
	q := cb.Query()
	g, err := c.Exchange(ctx, q, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if g.Connection.ExternalID != "inst-1" || g.Connection.AccountName != "acme" || g.Token.RefreshToken == "" ||
		g.Token.ExpiresAt.Before(time.Now().Add(7*time.Hour)) || len(g.Resources) != 3 || g.Resources[2].Name != "ios" {
		t.Fatalf("grant %+v %+v %+v", g.Connection, g.Token, g.Resources)
	}
	if sim.Calls("list_projects") != 2 {
		t.Fatalf("project pages: %d", sim.Calls("list_projects"))
	}
	if _, err := c.Exchange(ctx, q, "", ""); relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("reused code: %v", err)
	}
	// Without orgSlug the installation is read.
	cb, _ = url.Parse(sim.InstallRedirect("https://relay.example/cb", "st", "inst-1"))
	q = cb.Query()
	q.Del("orgSlug")
	if g2, err := c.Exchange(ctx, q, "", ""); err != nil || g2.Connection.AccountName != "acme" {
		t.Fatalf("no orgSlug: %v", err)
	}

	fresh, err := c.Refresh(ctx, g.Connection, g.Token)
	if err != nil || fresh.RefreshToken == g.Token.RefreshToken || !sim.ValidToken(fresh.AccessToken) {
		t.Fatalf("refresh: %v", err)
	}
	_, err = c.Refresh(ctx, g.Connection, g.Token)
	if relay.ErrorCode(err) != relay.EINVALID || strings.Contains(err.Error(), g.Token.RefreshToken) {
		t.Fatalf("rotated refresh token reused: %v", err)
	}
	sim.FailNext("token_refresh", 502, 1)
	if _, err := c.Refresh(ctx, g.Connection, fresh); relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Fatalf("5xx: %v", err)
	}
	if _, err := c.Exchange(ctx, url.Values{"code": {"x"}}, "", ""); relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("no installationId: %v", err)
	}
}

func TestLifecycle(t *testing.T) {
	p := sentry.New(sentry.Config{ClientSecret: "s"})
	ch, ok := p.Lifecycle(relay.Inbound{EventType: "installation.deleted", AccountID: "inst-1"}, nil)
	if !ok || ch.Status != relay.ConnectionRevoked || ch.AccountID != "inst-1" {
		t.Fatalf("deleted: %+v %v", ch, ok)
	}
	if _, ok := p.Lifecycle(relay.Inbound{EventType: "issue.created", AccountID: "inst-1"}, nil); ok {
		t.Fatal("issue.created is not a lifecycle event")
	}
}
