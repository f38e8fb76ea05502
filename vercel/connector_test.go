package vercel_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/simulator"
	"github.com/relayhq/relay/vercel"
)

func TestConnector(t *testing.T) {
	sim := simulator.NewVercel(nil)
	defer sim.Close()
	sim.AddAccount(simulator.VercelAccount{ConfigurationID: "cfg1", TeamID: "team_1", UserID: "usr_1",
		Projects: []simulator.VercelProject{{ID: "prj_1", Name: "web"}, {ID: "prj_2", Name: "api"}, {ID: "prj_3", Name: "docs"}}})
	sim.AddAccount(simulator.VercelAccount{ConfigurationID: "cfg2", UserID: "usr_2"})
	c, err := vercel.NewConnector(vercel.ConnectorConfig{ClientID: sim.ClientID, ClientSecret: sim.ClientSecret, Slug: sim.Slug,
		APIURL: sim.URL(), WebURL: sim.URL()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if u := c.AuthorizeURL("st", "", ""); u != sim.URL()+"/integrations/relay-test/new?state=st" {
		t.Fatalf("authorize URL %s", u)
	}
	cb, _ := url.Parse(sim.InstallRedirect("https://relay.example/oauth/vercel/callback", "st", "cfg1"))
	g, err := c.Exchange(ctx, cb.Query(), "https://relay.example/oauth/vercel/callback", "")
	if err != nil {
		t.Fatal(err)
	}
	if g.Connection.ExternalID != "team_1" || g.Connection.Metadata["configuration_id"] != "cfg1" || !g.Token.ExpiresAt.IsZero() ||
		len(g.Resources) != 3 || g.Resources[2].ExternalID != "prj_3" {
		t.Fatalf("grant %+v %+v %+v", g.Connection, g.Token, g.Resources)
	}
	if _, err := c.Exchange(ctx, cb.Query(), "", ""); relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("reused code: %v", err)
	}
	// A personal account: the user is the account; no teamId on calls.
	cb2, _ := url.Parse(sim.InstallRedirect("https://relay.example/cb", "st", "cfg2"))
	if g2, err := c.Exchange(ctx, cb2.Query(), "", ""); err != nil || g2.Connection.ExternalID != "usr_2" {
		t.Fatalf("personal: %+v %v", g2, err)
	}

	id, secret, err := c.RegisterWebhook(ctx, g.Connection, g.Token, "https://relay.example/webhooks/vercel")
	if err != nil || id == "" || secret == "" || len(sim.Webhooks()) != 1 {
		t.Fatalf("register: %v", err)
	}
	if err := c.DeregisterWebhook(ctx, g.Connection, g.Token, id); err != nil || len(sim.Webhooks()) != 0 {
		t.Fatalf("deregister: %v", err)
	}
	if err := c.DeregisterWebhook(ctx, g.Connection, g.Token, id); err != nil {
		t.Fatalf("deregistering twice: %v", err)
	}
	if same, err := c.Refresh(ctx, g.Connection, g.Token); err != nil || same.AccessToken != g.Token.AccessToken {
		t.Fatalf("refresh: %v", err)
	}
	if err := c.Revoke(ctx, g.Connection, g.Token); err != nil || sim.ValidToken(g.Token.AccessToken) {
		t.Fatalf("revoke: %v", err)
	}
	sim.FailNext("exchange", 500, 1)
	cb3, _ := url.Parse(sim.InstallRedirect("https://relay.example/cb", "st", "cfg1"))
	if _, err := c.Exchange(ctx, cb3.Query(), "", ""); relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Fatalf("5xx: %v", err)
	}
}

func TestLifecycle(t *testing.T) {
	p := vercel.New(vercel.Config{ClientSecret: "s"})
	ch, ok := p.Lifecycle(relay.Inbound{EventType: "integration-configuration.removed", AccountID: "team_1"}, []byte(`{}`))
	if !ok || ch.Status != relay.ConnectionRevoked {
		t.Fatalf("removed: %+v %v", ch, ok)
	}
	ch, ok = p.Lifecycle(relay.Inbound{EventType: "project.created", AccountID: "team_1"}, []byte(`{"payload":{"project":{"id":"prj_9","name":"x"}}}`))
	if !ok || len(ch.AddResources) != 1 || ch.AddResources[0].ExternalID != "prj_9" {
		t.Fatalf("project.created: %+v %v", ch, ok)
	}
}
