package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/relayhq/relay/simulator"
)

// TestConnectFlowBoundToStartingBrowser: a connect flow can be finished
// only by the browser that opened its start link. Another browser is
// refused at the start link and at the callback, nothing is stored, and
// the starting browser still finishes the flow afterwards.
func TestConnectFlowBoundToStartingBrowser(t *testing.T) {
	sim := simulator.NewLinear(nil)
	defer sim.Close()
	sim.AddOrganization(simulator.LinearOrg{ID: "org-linear-1", Name: "Acme", Teams: []simulator.LinearTeam{{ID: "team-1", Name: "Eng"}}})
	sim.AddOrganization(simulator.LinearOrg{ID: "org-linear-2", Name: "Other", Teams: []simulator.LinearTeam{{ID: "team-2", Name: "Ops"}}})
	cfg := fmt.Sprintf(`
admin_api_key: %q
log_level: warn
public_url: https://relay.example
connect: {allowed_return_origins: ["https://app.example", "http://localhost:3000"]}
providers:
  linear: {webhook_secret: %q, client_id: %q, client_secret: %q, api_url: %q, web_url: %q}
`, testAdminKey, testLinear, sim.ClientID, sim.ClientSecret, sim.URL(), sim.URL())
	base := startRelay(t, cfg, nil).url
	apiCall(t, "POST", base+"/api/v1/orgs", testAdminKey, map[string]string{"id": "acme"}, nil)
	authorizePath := base + "/api/v1/orgs/acme/connections/linear/authorize"

	// A return URL on another origin is refused, naming the allowed ones.
	var apiErr struct {
		Error struct{ Message string } `json:"error"`
	}
	if code := apiCall(t, "POST", authorizePath, testAdminKey, map[string]string{"return_url": "https://evil.example/x"}, &apiErr); code != 400 ||
		!strings.Contains(apiErr.Error.Message, "https://app.example, http://localhost:3000") {
		t.Fatalf("foreign return_url: %d %q", code, apiErr.Error.Message)
	}

	var auth struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	if code := apiCall(t, "POST", authorizePath, testAdminKey, map[string]string{"return_url": "http://localhost:3000/connected"}, &auth); code != 200 {
		t.Fatalf("authorize: %d", code)
	}
	if !strings.HasPrefix(auth.AuthorizeURL, "https://relay.example/oauth/linear/start?flow=") {
		t.Fatalf("authorize_url is not Relay's start link: %s", auth.AuthorizeURL)
	}

	// The starter's browser opens the link: it gets the binding cookie and
	// goes on to the provider.
	starter, other := newBrowser(t, base), newBrowser(t, base)
	resp, body := starter.start(t, auth.AuthorizeURL)
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), sim.URL()+"/oauth/authorize?") {
		t.Fatalf("start: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	providerURL := resp.Header.Get("Location")
	if c := resp.Cookies(); len(c) != 1 || !c[0].HttpOnly || !c[0].Secure || c[0].SameSite != http.SameSiteLaxMode ||
		c[0].Path != "/oauth/" || c[0].MaxAge <= 0 || c[0].MaxAge > 600 || len(c[0].Value) < 32 {
		t.Fatalf("binding cookie %+v", c)
	}

	// Another browser cannot open the link any more.
	if resp, body := other.start(t, auth.AuthorizeURL); resp.StatusCode != 400 || !strings.Contains(body, "already opened") ||
		len(resp.Cookies()) != 0 {
		t.Fatalf("second browser on the start link: %d %s", resp.StatusCode, body)
	}

	// The provider's redirect reaches another browser (the provider page was
	// forwarded and consented to elsewhere): refused, nothing stored.
	elsewhere, err := sim.Consent(providerURL, "org-linear-2")
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := other.get(t, elsewhere); resp.StatusCode != 400 || !strings.Contains(body, "browser that started it") {
		t.Fatalf("callback in another browser: %d %s", resp.StatusCode, body)
	}
	var page struct {
		Items []struct{} `json:"items"`
	}
	if apiCall(t, "GET", base+"/api/v1/connections?include_deleted=true", testAdminKey, nil, &page); len(page.Items) != 0 {
		t.Fatalf("a refused callback stored %d connections", len(page.Items))
	}
	if len(sim.Webhooks()) != 0 {
		t.Fatalf("a refused callback registered webhooks: %+v", sim.Webhooks())
	}

	// The starter's browser finishes the same flow; its cookie is cleared.
	to, err := sim.Consent(providerURL, "org-linear-1")
	if err != nil {
		t.Fatal(err)
	}
	resp, body = starter.get(t, to)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), "http://localhost:3000/connected?") ||
		loc.Query().Get("status") != "active" || loc.Query().Get("connection_id") == "" {
		t.Fatalf("callback in the starting browser: %d %s %s", resp.StatusCode, loc, body)
	}
	if c := resp.Cookies(); len(c) != 1 || c[0].MaxAge >= 0 || c[0].Path != "/oauth/" {
		t.Fatalf("binding cookie not cleared: %+v", c)
	}
	var conns struct {
		Items []struct {
			ID         string `json:"id"`
			ExternalID string `json:"external_id"`
			OrgID      string `json:"org_id"`
		} `json:"items"`
	}
	if apiCall(t, "GET", base+"/api/v1/connections?include_deleted=true", testAdminKey, nil, &conns); len(conns.Items) != 1 ||
		conns.Items[0].ExternalID != "org-linear-1" || conns.Items[0].OrgID != "acme" || conns.Items[0].ID != loc.Query().Get("connection_id") {
		t.Fatalf("connections %+v", conns.Items)
	}

	// Used: the same callback again is refused.
	if resp, body := starter.get(t, to); resp.StatusCode != 400 || !strings.Contains(body, "already used") {
		t.Fatalf("replayed callback: %d %s", resp.StatusCode, body)
	}
}
