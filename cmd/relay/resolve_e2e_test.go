package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/simulator"
)

// Identity repair through the real binary: Bridge events name customers no
// connection knows; the chain asks Bridge for the customer's email and
// Persona for the accounts with that email, whose reference-id is the org.
func TestIdentityRepairEndToEnd(t *testing.T) {
	br := simulator.NewBridge(nil)
	defer br.Close()
	per := simulator.NewPersona(nil)
	defer per.Close()
	br.AddCustomer(simulator.BridgeCustomer{ID: "cust-acme", Email: "ada@acme.test", FirstName: "Ada"})
	br.AddCustomer(simulator.BridgeCustomer{ID: "cust-twice", Email: "bo@shared.test"})
	br.AddCustomer(simulator.BridgeCustomer{ID: "cust-ghost", Email: "cy@ghost.test"})
	br.AddCustomer(simulator.BridgeCustomer{ID: "cust-nobody", Email: "di@nowhere.test"})
	per.AddAccount(simulator.PersonaAccount{ReferenceID: "acme", Email: "ada@acme.test"})
	per.AddAccount(simulator.PersonaAccount{ReferenceID: "acme", Email: "bo@shared.test"})
	per.AddAccount(simulator.PersonaAccount{ReferenceID: "globex", Email: "bo@shared.test"})
	per.AddAccount(simulator.PersonaAccount{ReferenceID: "initech", Email: "cy@ghost.test"})
	app, opsSink := newCollector(t), newCollector(t)
	cfg := fmt.Sprintf(`
admin_api_key: %q
log_level: warn
providers:
  bridge: {webhook_public_keys: [%q], api_key: %q, api_url: %q}
  persona: {api_key: %q, api_url: %q}
resolve:
  sweep_interval: 1s
  resolvers:
    - {provider: bridge, type: bridge_customer}
    - {provider: bridge, type: persona_accounts_by_email}
destinations:
  # one at a time, so the order the held events were released in is the
  # order they arrive in
  - {name: acme, url: %q, secret: %q, org_id: acme, max_concurrency: 1}
  - {name: ops, url: %q, secret: %q, event_types: ["relay.*"]}
`, testAdminKey, br.PublicKeyPEM(), br.APIKey, br.URL(), per.APIKey, per.URL(), app.URL, testDestination, opsSink.URL, testDestination)
	relayP := startRelay(t, cfg, nil)
	base := relayP.url
	for _, org := range []string{"acme", "globex"} {
		if code := apiCall(t, "POST", base+"/api/v1/orgs", testAdminKey, map[string]string{"id": org}, nil); code != 201 {
			t.Fatalf("create org %s: %d", org, code)
		}
	}
	send := func(eventID, customer string) {
		t.Helper()
		body := simulator.BridgeCustomerEvent(eventID, customer, "customer.updated")
		if code, b := post(t, base+"/webhooks/bridge", br.Webhook(body, time.Now()), body); code != 202 {
			t.Fatalf("webhook %s: %d %s", eventID, code, b)
		}
	}
	opsEvents := func(typ string) []delivered {
		var out []delivered
		for _, d := range opsSink.all() {
			if d.env["event_type"] == typ {
				out = append(out, d)
			}
		}
		return out
	}

	// Persona is down when the first resolution runs: the job fails, is
	// retried, and pairs once Persona answers again; nothing is lost.
	per.FailNext("search_accounts", 503, 3)
	send("evt-1", "cust-acme")
	send("evt-2", "cust-acme")
	waitUntil(t, "the held events delivered to acme", func() bool { return len(app.all()) == 2 })
	if per.Calls("search_accounts") < 4 {
		t.Fatalf("persona searches: %d, want the 3 failures and a success", per.Calls("search_accounts"))
	}
	var conn relay.Connection
	for i, d := range app.all() {
		if d.env["org_id"] != "acme" || d.env["connection_id"] == "" || d.env["delivery_id"] != fmt.Sprintf("evt-%d", i+1) {
			t.Fatalf("delivery %d: %v", i, d.env)
		}
		apiCall(t, "GET", base+"/api/v1/connections/"+d.env["connection_id"].(string), testAdminKey, nil, &conn)
	}
	if conn.Provider != "bridge" || conn.ExternalID != "cust-acme" || conn.OrgID != "acme" {
		t.Fatalf("paired connection %+v", conn)
	}
	// Later events of the paired account go straight through.
	send("evt-3", "cust-acme")
	waitUntil(t, "a later event delivered", func() bool { return len(app.all()) == 3 })
	if env := app.all()[2].env; env["org_id"] != "acme" || env["connection_id"] != conn.ID {
		t.Fatalf("later event %v", env)
	}
	waitUntil(t, "relay.connection.paired", func() bool { return len(opsEvents("relay.connection.paired")) == 1 })
	paired := opsEvents("relay.connection.paired")[0].env
	if paired["org_id"] != "acme" || paired["connection_id"] != conn.ID || paired["provider"] != "relay" {
		t.Fatalf("paired event %v", paired)
	}

	// Two Persona accounts of two orgs share the email: ambiguous, an
	// alert, nothing paired, the events still held. Bridge is down for the
	// first try of it: retried like Persona was.
	br.FailNext("get_customer", 503, 3)
	send("evt-4", "cust-twice")
	// The lookup names an org Relay does not know: its own outcome.
	send("evt-5", "cust-ghost")
	// Nobody has the email: unresolved, held, tried again by the sweep.
	send("evt-6", "cust-nobody")
	waitUntil(t, "the ambiguous and org-not-found alerts", func() bool {
		return len(opsEvents("relay.pairing.ambiguous")) == 1 && len(opsEvents("relay.pairing.org_not_found")) == 1
	})
	if br.Calls("get_customer") < 3+4 {
		t.Fatalf("bridge customer reads: %d", br.Calls("get_customer"))
	}
	amb := opsEvents("relay.pairing.ambiguous")[0].env
	if data, _ := amb["payload"].(map[string]any)["data"].(map[string]any); fmt.Sprint(data["candidates"]) != "[acme globex]" ||
		data["account_id"] != "cust-twice" {
		t.Fatalf("ambiguous alert %v", amb)
	}
	waitUntil(t, "the unresolved account retried by the sweep", func() bool {
		return metricValue(t, base, `relay_resolutions_total{outcome="unresolved",provider="bridge"}`) >= 2
	})
	var list struct {
		Items []relay.Connection `json:"items"`
	}
	apiCall(t, "GET", base+"/api/v1/connections?provider=bridge", testAdminKey, nil, &list)
	if len(list.Items) != 1 {
		t.Fatalf("bridge connections: %+v", list.Items)
	}
	// Each account's latest outcome is recorded, admin only.
	for account, want := range map[string]string{"cust-acme": relay.ResolvePaired, "cust-twice": relay.ResolveAmbiguous,
		"cust-ghost": relay.ResolveOrgNotFound, "cust-nobody": relay.ResolveUnresolved} {
		var r relay.Resolution
		if code := apiCall(t, "GET", base+"/api/v1/resolutions/bridge/"+account, testAdminKey, nil, &r); code != 200 || r.Outcome != want {
			t.Errorf("%s: %d %+v, want %s", account, code, r, want)
		}
		if account == "cust-ghost" && r.OrgID != "initech" {
			t.Errorf("org not found names %q", r.OrgID)
		}
	}
	var all relay.Page[*relay.Resolution]
	if code := apiCall(t, "GET", base+"/api/v1/resolutions?provider=bridge", testAdminKey, nil, &all); code != 200 || len(all.Items) != 4 {
		t.Fatalf("resolutions: %d %d", code, len(all.Items))
	}
	// A release happens before its outcome is recorded (checked above), so
	// a leaked event has a delivery by now: once everything is sent, the
	// sinks have all there will be.
	waitSettled(t, base)
	if n := len(app.all()); n != 3 {
		t.Fatalf("%d deliveries to acme, want 3: held events leaked", n)
	}
	if n := len(opsEvents("relay.pairing.ambiguous")); n != 1 {
		t.Fatalf("the ambiguous alert repeated %d times", n)
	}
	// A signature Bridge did not make is refused.
	body := simulator.BridgeCustomerEvent("evt-x", "cust-acme", "customer.updated")
	h := br.Webhook(body, time.Now())
	if code, _ := post(t, base+"/webhooks/bridge", h, []byte(strings.Replace(string(body), "Ada", "Eve", 1))); code != 401 {
		t.Fatalf("tampered body: %d", code)
	}
	// A signature older than 10 minutes is a 400: Bridge retries a 400
	// with a fresh timestamp and signature.
	if code, _ := post(t, base+"/webhooks/bridge", br.Webhook(body, time.Now().Add(-11*time.Minute)), body); code != 400 {
		t.Fatalf("stale signature: %d", code)
	}
}

// A Persona webhook names its account and carries the team's reference-id:
// a payload resolver pairs the account to that org. Stale webhooks and ones
// signed with a secret Relay does not have are refused (rotation with two
// secrets is covered by the persona package's tests).
func TestPersonaPairsByReferenceID(t *testing.T) {
	per := simulator.NewPersona(nil)
	defer per.Close()
	old := per.WebhookSecret
	app := newCollector(t)
	cfg := fmt.Sprintf(`
admin_api_key: %q
log_level: warn
providers:
  persona: {webhook_secrets: [%q, %q]}
resolve:
  sweep_interval: 1s
  resolvers:
    - {provider: persona, type: payload, path: "data.attributes.payload.data.attributes.reference-id", as: org_id}
destinations:
  - {name: acme, url: %q, secret: %q, org_id: acme}
`, testAdminKey, old, "wbhsec_next_"+old, app.URL, testDestination)
	relayP := startRelay(t, cfg, nil)
	base := relayP.url
	apiCall(t, "POST", base+"/api/v1/orgs", testAdminKey, map[string]string{"id": "acme"}, nil)

	body := simulator.PersonaEvent("evt_1", "inquiry.approved", "act_1", "acme")
	if code, b := post(t, base+"/webhooks/persona", per.Webhook(body, time.Now()), body); code != 202 {
		t.Fatalf("webhook: %d %s", code, b)
	}
	waitUntil(t, "the held event delivered to acme", func() bool { return len(app.all()) == 1 })
	env := app.all()[0].env
	if env["org_id"] != "acme" || env["event_type"] != "inquiry.approved" || env["delivery_id"] != "evt_1" || env["connection_id"] == "" {
		t.Fatalf("envelope %v", env)
	}
	// The outcome is recorded just after the held events are released:
	// poll for it.
	var r relay.Resolution
	code := 0
	waitUntil(t, "the resolution recorded", func() bool {
		r = relay.Resolution{}
		code = apiCall(t, "GET", base+"/api/v1/resolutions/persona/act_1", testAdminKey, nil, &r)
		return code != 404
	})
	if code != 200 || r.Outcome != relay.ResolvePaired || r.Resolver != "payload" {
		t.Fatalf("resolution %d %+v", code, r)
	}
	// Stale and wrongly signed webhooks are refused.
	stale := simulator.PersonaEvent("evt_2", "inquiry.approved", "act_1", "acme")
	if code, _ := post(t, base+"/webhooks/persona", per.Webhook(stale, time.Now().Add(-10*time.Minute)), stale); code != 401 {
		t.Fatalf("stale: %d", code)
	}
	per.RotateSecret() // a secret Relay does not have signs alone after EndRotation
	per.EndRotation()
	if code, _ := post(t, base+"/webhooks/persona", per.Webhook(stale, time.Now()), stale); code != 401 {
		t.Fatalf("unknown secret: %d", code)
	}
}

// A delivery that exhausts its schedule is announced as
// relay.delivery.exhausted to the destination subscribed to Relay's events,
// and not to the others.
func TestDeliveryExhaustedIsAnnounced(t *testing.T) {
	app, opsSink := newCollector(t), newCollector(t)
	app.mu.Lock()
	app.code = 500
	app.mu.Unlock()
	cfg := fmt.Sprintf(`
admin_api_key: %q
log_level: warn
providers:
  github: {webhook_secret: %q}
delivery: {retry_schedule: [0s]}
destinations:
  - {name: app, url: %q, secret: %q, providers: [github]}
  - {name: ops, url: %q, secret: %q, providers: [relay]}
`, testAdminKey, testGitHub, app.URL, testDestination, opsSink.URL, testDestination)
	relayP := startRelay(t, cfg, nil)
	body := simulator.GitHubIssuesPayload(4242, 77, "opened")
	if code, b := post(t, relayP.url+"/webhooks/github", simulator.GitHubWebhook(testGitHub, "issues", "gh-dead-1", body), body); code != 202 {
		t.Fatalf("webhook: %d %s", code, b)
	}
	waitUntil(t, "relay.delivery.exhausted", func() bool { return len(opsSink.all()) == 1 })
	env := opsSink.all()[0].env
	data, _ := env["payload"].(map[string]any)["data"].(map[string]any)
	if env["event_type"] != "relay.delivery.exhausted" || data["event_type"] != "issues.opened" || data["attempts"] != float64(1) {
		t.Fatalf("announcement %v", env)
	}
	waitSettled(t, relayP.url)
	if n := len(app.all()); n != 1 {
		t.Fatalf("the failing destination got %d requests, want its one attempt (no announcement)", n)
	}
}
