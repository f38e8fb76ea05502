package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/relayhq/relay"
	relayhttp "github.com/relayhq/relay/http"
	"github.com/relayhq/relay/storetest"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// `relay destinations test` sends a signed relay.test event through the
// normal pipeline and reports the attempt's outcome; org-scoped keys get
// 403 on every destination control route.
func TestDestinationTestEvent(t *testing.T) { testDestinationTestEvent(t, nil) }

// The same on PostgreSQL.
func TestDestinationTestEventPostgres(t *testing.T) {
	testDestinationTestEvent(t, map[string]string{"RELAY_DATABASE_URL": storetest.PostgresSchemaURL(t)})
}

func testDestinationTestEvent(t *testing.T, env map[string]string) {
	ctx := context.Background()
	sink := newCollector(t)
	p := startRelay(t, e2eConfig(sink.URL), env)
	admin := relayhttp.NewClient(p.url, testAdminKey)
	dst := appDestination(t, admin)

	out, _, err := keysCLI(p.url, testAdminKey, "destinations", "test", dst.ID)
	if err != nil {
		t.Fatalf("relay destinations test: %v\n%s", err, out)
	}
	for _, want := range []string{"succeeded", "HTTP 200"} {
		if !strings.Contains(out, want) {
			t.Errorf("relay destinations test does not say %q:\n%s", want, out)
		}
	}
	got := sink.all()
	if len(got) != 1 {
		t.Fatalf("the destination received %d requests, want 1", len(got))
	}
	wh, err := standardwebhooks.NewWebhook(testDestination)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(got[0].body, got[0].header); err != nil {
		t.Errorf("the test event is not signed with the destination's secret: %v", err)
	}
	if got[0].env["event_type"] != "relay.test" || got[0].env["provider"] != "relay" {
		t.Errorf("delivered provider %v event_type %v, want relay and relay.test", got[0].env["provider"], got[0].env["event_type"])
	}

	// A failing destination: the outcome says so.
	sink.mu.Lock()
	sink.code = http.StatusInternalServerError
	sink.mu.Unlock()
	res, err := admin.TestDestination(ctx, dst.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Delivery == nil || res.Delivery.Attempts != 1 || res.Delivery.LastStatus != 500 || res.Delivery.Status == relay.DeliverySucceeded {
		b, _ := json.Marshal(res)
		t.Errorf("test of a failing destination: %s", b)
	}
	if _, err := admin.TestDestination(ctx, "dst_nope"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Errorf("test of an unknown destination: %v", err)
	}

	// Org-scoped keys may not use destination routes.
	if _, err := admin.CreateOrg(ctx, "acme", ""); err != nil {
		t.Fatal(err)
	}
	_, orgKey, err := admin.CreateOrgAPIKey(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, route := range []string{"test", "resume", "rotate-secret"} {
		if code := apiCall(t, http.MethodPost, p.url+"/api/v1/destinations/"+dst.ID+"/"+route, orgKey, nil, nil); code != http.StatusForbidden {
			t.Errorf("org key on %s: %d, want 403", route, code)
		}
	}
}
