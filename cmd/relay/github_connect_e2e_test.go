package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/simulator"
)

// TestGitHubSpoofedInstallationEndToEnd: org B, with its own key, starts its
// install flow and comes back naming octo-org's installation (or one that
// does not exist). Relay verifies the installation with the installing
// user's authorization: the browser goes back with
// error=installation_not_verified, org B has no connection and no token,
// and octo-org can still connect its installation.
func TestGitHubSpoofedInstallationEndToEnd(t *testing.T) {
	sim := simulator.NewGitHub(nil)
	defer sim.Close()
	sim.AddInstallation(simulator.GitHubInstallation{ID: 4242, Login: "octo-org", Repos: []simulator.GitHubRepo{{ID: 1296269, FullName: "octo-org/hello"}}})
	sim.AddInstallation(simulator.GitHubInstallation{ID: 9, Login: "mallory", TargetType: "User"})
	cfg := fmt.Sprintf(`
admin_api_key: %q
connect: {allowed_return_origins: ["https://app.example"]}
log_level: warn
providers:
  github:
    webhook_secret: %q
%s
`, testAdminKey, testGitHub, githubAppYAML(sim))
	base := startRelay(t, cfg, nil).url
	for _, org := range []string{"org_a", "org_b"} {
		if code := apiCall(t, "POST", base+"/api/v1/orgs", testAdminKey, map[string]string{"id": org}, nil); code != 201 {
			t.Fatalf("create %s: %d", org, code)
		}
	}
	var keyB struct {
		Key string `json:"key"`
	}
	if code := apiCall(t, "POST", base+"/api/v1/orgs/org_b/api-keys", testAdminKey, map[string]string{"name": "b"}, &keyB); code != 201 {
		t.Fatalf("org key: %d", code)
	}
	// stateFor starts org B's install flow with org B's own key.
	stateFor := func() string {
		var auth struct {
			AuthorizeURL string `json:"authorize_url"`
		}
		if code := apiCall(t, "POST", base+"/api/v1/orgs/org_b/connections/github/authorize", keyB.Key,
			map[string]string{"return_url": "https://app.example/connected"}, &auth); code != 200 {
			t.Fatalf("authorize: %d", code)
		}
		// The start link binds the flow to the test's browser, which then
		// carries the spoofed redirect back.
		u, _ := url.Parse(browserFor(t, base).open(t, auth.AuthorizeURL))
		return u.Query().Get("state")
	}
	callback := base + "/oauth/github/callback"
	connections := func(key string) []json.RawMessage {
		var page struct {
			Items []json.RawMessage `json:"items"`
		}
		if code := apiCall(t, "GET", base+"/api/v1/connections", key, nil, &page); code != 200 {
			t.Fatalf("list connections: %d", code)
		}
		return page.Items
	}

	for _, tc := range []struct {
		name, login string
		id          int64
		action      string
	}{
		{"another user's installation", "mallory", 4242, "install"},
		{"another user's installation, update", "mallory", 4242, "update"},
		{"a nonexistent installation", "mallory", 999999, "install"},
		{"no code", "", 4242, "install"},
	} {
		q := followCallback(t, base, sim.InstallRedirectAs(tc.login, callback, stateFor(), tc.id, tc.action))
		if q.Get("error") != "installation_not_verified" || q.Get("connection_id") != "" || q.Get("error_description") == "" {
			t.Errorf("%s: redirected with %v", tc.name, q)
		}
	}
	// A request names no installation to verify: pending, nothing stored.
	if q := followCallback(t, base, sim.InstallRedirectAs("mallory", callback, stateFor(), 4242, "request")); q.Get("status") != relay.ConnectionPending ||
		q.Get("connection_id") != "" {
		t.Errorf("request: redirected with %v", q)
	}
	if n := len(connections(keyB.Key)); n != 0 {
		t.Fatalf("org B lists %d connections", n)
	}
	if n := len(connections(testAdminKey)); n != 0 {
		t.Fatalf("%d connections stored", n)
	}
	if n := sim.Calls("create_token") + sim.Calls("get_installation"); n != 0 {
		t.Fatalf("Relay acted as the App on an unverified installation %d times", n)
	}
	if sim.LiveUserTokens() != 0 {
		t.Fatalf("%d user tokens left live", sim.LiveUserTokens())
	}

	// Mallory's own installation connects for org B; org B's key fetches
	// its token, and only its.
	q := followCallback(t, base, sim.InstallRedirectAs("mallory", callback, stateFor(), 9, "install"))
	bConn := q.Get("connection_id")
	if q.Get("status") != relay.ConnectionActive || bConn == "" {
		t.Fatalf("mallory's installation: %v", q)
	}
	var c relay.Connection
	if code := apiCall(t, "GET", base+"/api/v1/connections/"+bConn, keyB.Key, nil, &c); code != 200 || c.ExternalID != "9" || c.OrgID != "org_b" {
		t.Fatalf("org B's connection: %d %+v", code, c)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if code := apiCall(t, "GET", base+"/api/v1/connections/"+bConn+"/token", keyB.Key, nil, &tok); code != 200 || !sim.ValidToken(tok.AccessToken) {
		t.Fatalf("org B's token: %d", code)
	}

	// octo-org's installation was never claimed: its owner connects it.
	q = connectGitHub(t, base, testAdminKey, "org_a", sim, 4242)
	aConn := q.Get("connection_id")
	if q.Get("status") != relay.ConnectionActive || aConn == "" {
		t.Fatalf("octo-org's installation: %v", q)
	}
	for _, path := range []string{"/api/v1/connections/" + aConn, "/api/v1/connections/" + aConn + "/token"} {
		if code := apiCall(t, "GET", base+path, keyB.Key, nil, nil); code != 404 {
			t.Errorf("org B GET %s: %d, want 404", path, code)
		}
	}
}

// TestGitHubAllowUnverifiedInstallationsEndToEnd: the escape hatch needs no
// OAuth client, keeps the unverified behaviour, and relay serve warns
// about it at start.
func TestGitHubAllowUnverifiedInstallationsEndToEnd(t *testing.T) {
	sim := simulator.NewGitHub(nil)
	defer sim.Close()
	sim.AddInstallation(simulator.GitHubInstallation{ID: 4242, Login: "octo-org"})
	yaml := githubAppYAML(sim)
	yaml = strings.Replace(yaml, fmt.Sprintf("    client_id: %q\n    client_secret: %q\n", sim.ClientID, sim.ClientSecret), "", 1)
	cfg := fmt.Sprintf(`
admin_api_key: %q
connect: {allowed_return_origins: ["https://app.example"]}
log_level: warn
providers:
  github:
    webhook_secret: %q
    allow_unverified_installations: true
%s
`, testAdminKey, testGitHub, yaml)
	p := startRelay(t, cfg, nil)
	if !strings.Contains(p.stderr.String(), `"level":"WARN"`) || !strings.Contains(p.stderr.String(), "allow_unverified_installations") {
		t.Fatalf("no warning at start: %s", p.stderr)
	}
	apiCall(t, "POST", p.url+"/api/v1/orgs", testAdminKey, map[string]string{"id": "acme"}, nil)
	var auth struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	apiCall(t, "POST", p.url+"/api/v1/orgs/acme/connections/github/authorize", testAdminKey,
		map[string]string{"return_url": "https://app.example/connected"}, &auth)
	u, _ := url.Parse(browserFor(t, p.url).open(t, auth.AuthorizeURL))
	q := followCallback(t, p.url, sim.InstallRedirectAs("", p.url+"/oauth/github/callback", u.Query().Get("state"), 4242, "install"))
	if q.Get("status") != relay.ConnectionActive || q.Get("connection_id") == "" || sim.Calls("user_token") != 0 {
		t.Fatalf("unverified install: %v", q)
	}
}
