package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/simulator"
	"github.com/relayhq/relay/storetest"
)

// countEvents returns how many events of provider Relay stored.
func countEvents(t *testing.T, base, provider string) int {
	t.Helper()
	var page relay.Page[*relay.Event]
	if code := apiCall(t, "GET", base+"/api/v1/events?limit=100&provider="+provider, testAdminKey, nil, &page); code != 200 {
		t.Fatalf("list events: %d", code)
	}
	return len(page.Items)
}

// Each connected Linear workspace has a webhook with its own secret, which
// its admins can read in Linear: it must not sign events for another
// workspace.
func TestLinearWebhookSecretPerWorkspace(t *testing.T) {
	testLinearWebhookSecretPerWorkspace(t, nil)
}

// The same on PostgreSQL.
func TestLinearWebhookSecretPerWorkspacePostgres(t *testing.T) {
	testLinearWebhookSecretPerWorkspace(t, map[string]string{"RELAY_DATABASE_URL": storetest.PostgresSchemaURL(t)})
}

func testLinearWebhookSecretPerWorkspace(t *testing.T, env map[string]string) {
	sim := simulator.NewLinear(nil)
	defer sim.Close()
	sim.AddOrganization(simulator.LinearOrg{ID: "org-a", Name: "A", Teams: []simulator.LinearTeam{{ID: "team-a", Name: "Eng"}}})
	sim.AddOrganization(simulator.LinearOrg{ID: "org-b", Name: "B", Teams: []simulator.LinearTeam{{ID: "team-b", Name: "Eng"}}})
	sink := newCollector(t)
	cfg := fmt.Sprintf(`
admin_api_key: %q
connect: {allowed_return_origins: ["https://app.example"]}
log_level: warn
public_url: https://relay.example
providers:
  linear: {webhook_secret: %q, client_id: %q, client_secret: %q, api_url: %q, web_url: %q}
destinations:
  - {name: alpha, url: %q, secret: %q, org_id: alpha}
  - {name: beta, url: %q, secret: %q, org_id: beta}
`, testAdminKey, testLinear, sim.ClientID, sim.ClientSecret, sim.URL(), sim.URL(), sink.URL, testDestination, sink.URL, testDestination)
	base := startRelay(t, cfg, env).url
	conns := map[string]string{}
	for org, workspace := range map[string]string{"alpha": "org-a", "beta": "org-b"} {
		apiCall(t, "POST", base+"/api/v1/orgs", testAdminKey, map[string]string{"id": org}, nil)
		to, err := sim.Consent(authorize(t, base, org, "linear"), workspace)
		if err != nil {
			t.Fatal(err)
		}
		q := followCallback(t, base, to)
		if q.Get("status") != "active" {
			t.Fatalf("connect %s: %v", org, q)
		}
		conns[workspace] = q.Get("connection_id")
	}
	hookA, okA := sim.Webhook("org-a")
	hookB, okB := sim.Webhook("org-b")
	if !okA || !okB || hookA.Secret == hookB.Secret || hookA.Secret == testLinear || hookB.Secret == testLinear {
		t.Fatalf("webhooks must each have their own secret: %v %v, same %v, shared %v %v", okA, okB,
			hookA.Secret == hookB.Secret, hookA.Secret == testLinear, hookB.Secret == testLinear)
	}
	var c relay.Connection
	apiCall(t, "GET", base+"/api/v1/connections/"+conns["org-a"], testAdminKey, nil, &c)
	for k, v := range c.Metadata {
		if v == hookA.Secret {
			t.Fatalf("the webhook secret is shown in the connection's metadata (%s)", k)
		}
	}

	// Forged with A's secret: naming B, from A's webhook or from B's.
	now := time.Now()
	for i, hook := range []string{hookA.ID, hookB.ID} {
		body := simulator.LinearIssuePayloadFrom(hook, "org-b", "team-b", "forged-"+strconv.Itoa(i), now)
		if code, b := post(t, base+"/webhooks/linear", simulator.LinearWebhook(hookA.Secret, body, ""), body); code != 401 {
			t.Fatalf("forged event for B from webhook %s: %d %s", hook, code, b)
		}
	}
	// A forged revocation of B's connection.
	revoke := []byte(`{"action":"revoked","type":"OAuthApp","organizationId":"org-b","webhookId":"` + hookA.ID +
		`","webhookTimestamp":` + strconv.FormatInt(now.UnixMilli(), 10) + `,"data":{"organizationId":"org-b"}}`)
	if code, b := post(t, base+"/webhooks/linear", simulator.LinearWebhook(hookA.Secret, revoke, ""), revoke); code != 401 {
		t.Fatalf("forged revocation of B: %d %s", code, b)
	}
	if n := countEvents(t, base, "linear"); n != 0 {
		t.Fatalf("%d forged events stored", n)
	}

	// Genuine deliveries of each workspace's webhook verify and route.
	for _, ws := range []string{"org-a", "org-b"} {
		body, header := sim.IssueWebhook(ws, "team-"+ws[len(ws)-1:], "issue-"+ws, time.Now())
		if code, b := post(t, base+"/webhooks/linear", header, body); code != 202 {
			t.Fatalf("genuine event of %s: %d %s", ws, code, b)
		}
	}
	// The app-level webhook (no connection's) verifies with the shared secret.
	app := simulator.LinearIssuePayload("org-b", "team-b", "issue-app", time.Now())
	if code, b := post(t, base+"/webhooks/linear", simulator.LinearWebhook(testLinear, app, ""), app); code != 202 {
		t.Fatalf("app-level webhook: %d %s", code, b)
	}
	waitUntil(t, "three deliveries", func() bool { return len(sink.all()) == 3 })
	routed := map[any]int{}
	for _, d := range sink.all() {
		routed[fmt.Sprint(d.env["org_id"], " ", d.env["connection_id"])]++
	}
	if routed["alpha "+conns["org-a"]] != 1 || routed["beta "+conns["org-b"]] != 2 {
		t.Fatalf("routed %v", routed)
	}
	apiCall(t, "GET", base+"/api/v1/connections/"+conns["org-b"], testAdminKey, nil, &c)
	if c.Status != relay.ConnectionActive {
		t.Fatalf("B's connection is %s (%s)", c.Status, c.StatusReason)
	}
}

// A webhook Relay creates through Vercel's API is signed with the secret
// Vercel returned for it: those deliveries verify, for that account only.
func TestVercelAccountWebhookSecret(t *testing.T) {
	ver := simulator.NewVercel(nil)
	defer ver.Close()
	ver.AddAccount(simulator.VercelAccount{ConfigurationID: "icfg_1", TeamID: "team_1", UserID: "usr_1",
		Projects: []simulator.VercelProject{{ID: "prj_1", Name: "web"}}})
	ver.AddAccount(simulator.VercelAccount{ConfigurationID: "icfg_2", UserID: "usr_2",
		Projects: []simulator.VercelProject{{ID: "prj_2", Name: "blog"}}})
	sink := newCollector(t)
	cfg := fmt.Sprintf(`
admin_api_key: %q
connect: {allowed_return_origins: ["https://app.example"]}
log_level: warn
public_url: https://relay.example
providers:
  vercel: {client_secret: %q, client_id: %q, slug: %q, api_url: %q, web_url: %q}
destinations:
  - {name: alpha, url: %q, secret: %q, org_id: alpha}
  - {name: beta, url: %q, secret: %q, org_id: beta}
`, testAdminKey, ver.ClientSecret, ver.ClientID, ver.Slug, ver.URL(), ver.URL(), sink.URL, testDestination, sink.URL, testDestination)
	base := startRelay(t, cfg, nil).url
	conns := map[string]string{}
	for org, icfg := range map[string]string{"alpha": "icfg_1", "beta": "icfg_2"} {
		apiCall(t, "POST", base+"/api/v1/orgs", testAdminKey, map[string]string{"id": org}, nil)
		u, _ := url.Parse(authorize(t, base, org, "vercel"))
		q := followCallback(t, base, ver.InstallRedirect("https://relay.example/oauth/vercel/callback", u.Query().Get("state"), icfg))
		if q.Get("status") != "active" {
			t.Fatalf("connect %s: %v", org, q)
		}
		conns[org] = q.Get("connection_id")
	}

	// Deliveries of each account's webhook, signed with its own secret.
	for i, icfg := range []string{"icfg_1", "icfg_2"} {
		body, header := ver.DeploymentWebhook(icfg, "evt_"+icfg, "prj_"+strconv.Itoa(i+1))
		if code, b := post(t, base+"/webhooks/vercel", header, body); code != 202 {
			t.Fatalf("account webhook of %s: %d %s", icfg, code, b)
		}
	}
	// The first account's secret signing an event of the second.
	var secret1 string
	for _, h := range ver.Webhooks() {
		if h.ConfigurationID == "icfg_1" {
			secret1 = h.Secret
		}
	}
	forged, _ := ver.DeploymentWebhook("icfg_2", "evt_forged", "prj_2")
	if code, b := post(t, base+"/webhooks/vercel", simulator.VercelWebhook(secret1, forged), forged); code != 401 {
		t.Fatalf("account 1's secret on account 2's event: %d %s", code, b)
	}
	waitUntil(t, "two deliveries", func() bool { return len(sink.all()) == 2 })
	routed := map[any]any{}
	for _, d := range sink.all() {
		routed[d.env["org_id"]] = d.env["connection_id"]
	}
	if routed["alpha"] != conns["alpha"] || routed["beta"] != conns["beta"] {
		t.Fatalf("routed %v, want %v", routed, conns)
	}
	if n := countEvents(t, base, "vercel"); n != 2 {
		t.Fatalf("%d events stored, want 2", n)
	}
}

// A Linear connection whose webhook Relay holds no secret of its own for (a
// webhook registered with the shared secret) is reported at start, and
// `relay webhooks upgrade` replaces its webhook with one that has its own
// secret.
func TestUpgradeSharedSecretWebhooks(t *testing.T) {
	sim := simulator.NewLinear(nil)
	defer sim.Close()
	sim.AddOrganization(simulator.LinearOrg{ID: "org-a", Name: "A", Teams: []simulator.LinearTeam{{ID: "team-a", Name: "Eng"}}})
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "relay.yaml")
	cfg := fmt.Sprintf(`
admin_api_key: %q
connect: {allowed_return_origins: ["https://app.example"]}
log_level: warn
public_url: https://relay.example
data_dir: %q
providers:
  linear: {webhook_secret: %q, client_id: %q, client_secret: %q, api_url: %q, web_url: %q}
`, testAdminKey, filepath.Join(dir, "data"), testLinear, sim.ClientID, sim.ClientSecret, sim.URL(), sim.URL())
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	serve := func() (base string, logs *syncBuffer, stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		out, logs := &syncBuffer{}, &syncBuffer{}
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"relay", "serve", "--addr", "127.0.0.1:0", "--config", cfgPath}, func(string) string { return "" },
				strings.NewReader(""), out, logs)
		}()
		waitUntil(t, "relay to listen", func() bool {
			if m := listenRE.FindStringSubmatch(out.String()); m != nil {
				base = m[1]
				return true
			}
			return false
		})
		return base, logs, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	}

	base, logs, stop := serve()
	apiCall(t, "POST", base+"/api/v1/orgs", testAdminKey, map[string]string{"id": "alpha"}, nil)
	to, err := sim.Consent(authorize(t, base, "alpha", "linear"), "org-a")
	if err != nil {
		t.Fatal(err)
	}
	if q := followCallback(t, base, to); q.Get("status") != "active" {
		t.Fatalf("connect: %v", q)
	}
	stop()
	old, _ := sim.Webhook("org-a")
	// As registered before secrets were kept per connection: none stored.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "data", "relay.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM webhook_secrets`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// The warning is logged before Relay listens.
	_, logs, stop = serve()
	waitUntil(t, "the start-up warning", func() bool {
		return strings.Contains(logs.String(), "relay webhooks upgrade") && strings.Contains(logs.String(), `"connections":1`)
	})
	stop()

	var out bytes.Buffer
	if err := run(context.Background(), []string{"relay", "webhooks", "upgrade", "--config", cfgPath}, func(string) string { return "" },
		strings.NewReader(""), &out, io.Discard); err != nil {
		t.Fatalf("webhooks upgrade: %v", err)
	}
	if !strings.Contains(out.String(), "1 webhooks now have their own secret; 0 still use the shared secret") {
		t.Fatalf("upgrade said %q", out.String())
	}
	hooks := sim.Webhooks()
	if len(hooks) != 1 || hooks[0].ID == old.ID || hooks[0].Secret == testLinear {
		t.Fatalf("webhooks after the upgrade: %d, same id %v", len(hooks), len(hooks) == 1 && hooks[0].ID == old.ID)
	}

	base, logs, stop = serve()
	defer stop()
	body, header := sim.IssueWebhook("org-a", "team-a", "issue-1", time.Now())
	if code, b := post(t, base+"/webhooks/linear", header, body); code != 202 {
		t.Fatalf("delivery of the new webhook: %d %s", code, b)
	}
	if strings.Contains(logs.String(), "relay webhooks upgrade") {
		t.Fatalf("still warned after the upgrade: %s", logs)
	}
}
