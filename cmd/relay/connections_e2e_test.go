package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/simulator"
)

// apiCall sends a JSON API request with key and decodes the answer into out.
func apiCall(t *testing.T, method, u, key string, in, out any) int {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u, body)
	req.Header.Set("Authorization", "Bearer "+key)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s", method, u, resp.StatusCode, b)
		}
	}
	return resp.StatusCode
}

// noRedirects is a client that shows redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// githubAppYAML is the GitHub App part of providers.github (indented for
// it) for the simulator's App: ids, OAuth client, URLs and private key.
func githubAppYAML(sim *simulator.GitHub) string {
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(sim.Key)})
	return fmt.Sprintf(`    app_id: %q
    app_slug: %q
    client_id: %q
    client_secret: %q
    api_url: %q
    web_url: %q
    private_key: |
%s`, sim.AppID, sim.AppSlug, sim.ClientID, sim.ClientSecret, sim.URL(), sim.URL(),
		"      "+strings.ReplaceAll(strings.TrimSpace(string(keyPEM)), "\n", "\n      "))
}

// connectGitHub runs the GitHub App connect flow for org through Relay and
// the simulator, in the Relay's default test browser, and returns the
// redirect's query.
func connectGitHub(t *testing.T, base, key, org string, sim *simulator.GitHub, installation int64) url.Values {
	t.Helper()
	var auth struct {
		AuthorizeURL string    `json:"authorize_url"`
		ExpiresAt    time.Time `json:"expires_at"`
	}
	if code := apiCall(t, "POST", base+"/api/v1/orgs/"+org+"/connections/github/authorize", key,
		map[string]string{"return_url": "https://app.example/connected"}, &auth); code != 200 {
		t.Fatalf("authorize: %d", code)
	}
	b := browserFor(t, base)
	to := b.open(t, auth.AuthorizeURL) // Relay's start link: binds the flow to this browser
	u, _ := url.Parse(to)
	if !strings.HasPrefix(to, sim.URL()+"/apps/relay-test/installations/new") || auth.ExpiresAt.IsZero() {
		t.Fatalf("start link %s redirects to %s", auth.AuthorizeURL, to)
	}
	resp, _ := b.get(t, sim.InstallRedirect(base+"/oauth/github/callback", u.Query().Get("state"), installation, "install"))
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), "https://app.example/connected?") {
		t.Fatalf("callback: %d %s", resp.StatusCode, loc)
	}
	return loc.Query()
}

func TestConnectionsEndToEnd(t *testing.T) {
	sim := simulator.NewGitHub(nil)
	defer sim.Close()
	sim.SetTokenTTL(2 * time.Minute) // inside Relay's 5-minute refresh window
	sim.AddInstallation(simulator.GitHubInstallation{ID: 4242, Login: "octo-org",
		Repos: []simulator.GitHubRepo{{ID: 1296269, FullName: "octo-org/hello"}, {ID: 7, FullName: "octo-org/x"}, {ID: 8, FullName: "octo-org/y"}}})
	orgA, orgB := newCollector(t), newCollector(t)
	cfg := fmt.Sprintf(`
admin_api_key: %q
connect: {allowed_return_origins: ["https://app.example"]}
log_level: warn
providers:
  github:
    webhook_secret: %q
%s
destinations:
  - {name: org-a, url: %q, secret: %q, org_id: org_a}
  - {name: org-b, url: %q, secret: %q, org_id: org_b}
`, testAdminKey, testGitHub, githubAppYAML(sim), orgA.URL, testDestination, orgB.URL, testDestination)
	relayP := startRelay(t, cfg, nil)
	base := relayP.url

	for _, org := range []string{"org_a", "org_b"} {
		if code := apiCall(t, "POST", base+"/api/v1/orgs", testAdminKey, map[string]string{"id": org, "name": org}, nil); code != 201 {
			t.Fatalf("create %s: %d", org, code)
		}
	}
	var keyB struct {
		Key string `json:"key"`
	}
	if code := apiCall(t, "POST", base+"/api/v1/orgs/org_b/api-keys", testAdminKey, map[string]string{"name": "b"}, &keyB); code != 201 || keyB.Key == "" {
		t.Fatalf("org key: %d", code)
	}

	// A webhook for an installation nobody connected yet is held.
	send := func(action string) string {
		body := simulator.GitHubIssuesPayload(4242, 1296269, action)
		code, answer := post(t, base+"/webhooks/github", simulator.GitHubWebhook(testGitHub, "issues", "gh-"+action, body), body)
		if code != 202 {
			t.Fatalf("webhook: %d %s", code, answer)
		}
		var a struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal([]byte(answer), &a)
		return a.ID
	}
	held := send("opened")

	q := connectGitHub(t, base, testAdminKey, "org_a", sim, 4242)
	connID := q.Get("connection_id")
	if q.Get("status") != relay.ConnectionActive || connID == "" {
		t.Fatalf("connected: %v", q)
	}
	// The installation was verified with the installing user's token, which
	// Relay then revoked.
	if sim.Calls("user_token") != 1 || sim.Calls("user_installations") != 1 || sim.LiveUserTokens() != 0 {
		t.Fatalf("installation verification: %d code exchanges, %d listings, %d live user tokens",
			sim.Calls("user_token"), sim.Calls("user_installations"), sim.LiveUserTokens())
	}
	// Released at connect time. Relay does not order deliveries of events
	// that are in flight at the same moment (a destination takes several at
	// once), so the later event is sent once the held one has arrived.
	waitUntil(t, "the held event at org A", func() bool { return len(orgA.all()) == 1 })
	later := send("closed")
	waitUntil(t, "both events at org A", func() bool { return len(orgA.all()) == 2 })
	for i, d := range orgA.all() {
		if d.env["org_id"] != "org_a" || d.env["connection_id"] != connID {
			t.Fatalf("delivery %d envelope: org %v connection %v", i, d.env["org_id"], d.env["connection_id"])
		}
	}
	if got := []any{orgA.all()[0].env["id"], orgA.all()[1].env["id"]}; got[0] != held || got[1] != later {
		t.Fatalf("order: %v, want [%s %s]", got, held, later)
	}
	if len(orgB.all()) != 0 {
		t.Fatalf("org B received %d of org A's events", len(orgB.all()))
	}

	// The connection, its repositories, and a token refreshed because it
	// expires within 5 minutes.
	var conn struct {
		relay.Connection
		Resources []relay.Resource `json:"resources"`
	}
	if code := apiCall(t, "GET", base+"/api/v1/connections/"+connID, testAdminKey, nil, &conn); code != 200 ||
		conn.OrgID != "org_a" || conn.ExternalID != "4242" || len(conn.Resources) != 3 {
		t.Fatalf("connection: %d %+v", code, conn)
	}
	// 50 concurrent callers of an expiring token: one refresh at GitHub.
	sim.SetTokenTTL(time.Hour) // the refreshed token is good for an hour
	minted := sim.Calls("create_token")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	tokens := make([]string, 50)
	var wg sync.WaitGroup
	for i := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var got struct {
				AccessToken string `json:"access_token"`
			}
			if code := apiCall(t, "GET", base+"/api/v1/connections/"+connID+"/token", testAdminKey, nil, &got); code != 200 {
				t.Errorf("token: %d", code)
			}
			tokens[i] = got.AccessToken
		}()
	}
	wg.Wait()
	tok.AccessToken = tokens[0]
	for i, v := range tokens {
		if v != tok.AccessToken || !sim.ValidToken(v) {
			t.Fatalf("caller %d got another or a dead token", i)
		}
	}
	if n := sim.Calls("create_token") - minted; n != 1 {
		t.Fatalf("%d installation tokens minted for 50 concurrent callers, want 1", n)
	}
	assertNotStored(t, relayP, tok.AccessToken) // the raw token is nowhere in the database files

	// Org B's key sees nothing of org A's.
	k := keyB.Key
	var ev relay.Event
	apiCall(t, "GET", base+"/api/v1/events/"+held, testAdminKey, nil, &ev)
	dlv := ev.Deliveries[0].ID
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/v1/connections/" + connID},
		{"GET", "/api/v1/connections/" + connID + "/token"},
		{"DELETE", "/api/v1/connections/" + connID},
		{"GET", "/api/v1/events/" + held},
		{"POST", "/api/v1/events/" + held + "/replay"},
		{"GET", "/api/v1/deliveries/" + dlv},
		{"POST", "/api/v1/deliveries/" + dlv + "/replay"},
		{"GET", "/api/v1/orgs/org_a"},
		{"POST", "/api/v1/orgs/org_a/connections/github/authorize"},
	} {
		var in any
		if c.method == "POST" {
			in = map[string]string{"return_url": "https://evil.example/"}
		}
		if code := apiCall(t, c.method, base+c.path, k, in, nil); code != 404 {
			t.Errorf("org B %s %s: %d, want 404", c.method, c.path, code)
		}
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/v1/orgs"}, {"POST", "/api/v1/orgs"}, {"POST", "/api/v1/orgs/org_b/api-keys"}, {"GET", "/api/v1/destinations"},
	} {
		if code := apiCall(t, c.method, base+c.path, k, map[string]string{"id": "x"}, nil); code != 403 {
			t.Errorf("org B %s %s: %d, want 403", c.method, c.path, code)
		}
	}
	for _, path := range []string{"/api/v1/connections", "/api/v1/events", "/api/v1/deliveries", "/api/v1/connections?org_id=org_a"} {
		var page struct {
			Items []json.RawMessage `json:"items"`
		}
		if code := apiCall(t, "GET", base+path, k, nil, &page); code != 200 || len(page.Items) != 0 {
			t.Errorf("org B lists %s: %d, %d items", path, code, len(page.Items))
		}
	}
	if code := apiCall(t, "GET", base+"/api/v1/orgs/org_b", k, nil, nil); code != 200 {
		t.Errorf("org B reads itself: %d", code)
	}

	// Teardown revokes the token and soft-deletes; reconnecting revives the id.
	if code := apiCall(t, "DELETE", base+"/api/v1/connections/"+connID, testAdminKey, nil, nil); code != 202 {
		t.Fatalf("delete: %d", code)
	}
	waitUntil(t, "teardown", func() bool {
		var c relay.Connection
		apiCall(t, "GET", base+"/api/v1/connections/"+connID, testAdminKey, nil, &c)
		return c.Teardown == "done" && c.DeletedAt != nil && c.Status == relay.ConnectionDeleted
	})
	if sim.ValidToken(tok.AccessToken) || sim.Calls("revoke_token") != 1 {
		t.Fatalf("token not revoked at GitHub (%d revoke calls)", sim.Calls("revoke_token"))
	}
	if q := connectGitHub(t, base, testAdminKey, "org_a", sim, 4242); q.Get("connection_id") != connID {
		t.Fatalf("reconnect: %v, want connection %s", q, connID)
	}

	// Bad states end on a 400 page, never a 500.
	for _, state := range []string{"", "forged"} {
		resp, err := noRedirects.Get(base + "/oauth/github/callback?installation_id=4242&setup_action=install&state=" + state)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), "Start the connection again") {
			t.Fatalf("state %q: %d %s", state, resp.StatusCode, b)
		}
	}
}

// assertNotStored fails if secret appears in the SQLite database or WAL file.
func assertNotStored(t *testing.T, p *relayProcess, secret string) {
	t.Helper()
	if secret == "" {
		t.Fatal("no secret to look for")
	}
	for _, f := range []string{"relay.db", "relay.db-wal"} {
		b, _ := os.ReadFile(filepath.Join(relayDataDir(t, p), f))
		if bytes.Contains(b, []byte(secret)) {
			t.Fatalf("a token is stored in clear in %s", f)
		}
	}
}

// relayDataDir finds the data dir startRelay gave the process.
func relayDataDir(t *testing.T, p *relayProcess) string {
	t.Helper()
	m := dataDirRE.FindStringSubmatch(p.stderr.String())
	if m == nil {
		t.Fatalf("no key_file in the log: %s", p.stderr)
	}
	return filepath.Dir(m[1])
}

var dataDirRE = regexp.MustCompile(`"key_file":"([^"]+)"`)

// followCallback sends the provider's redirect (built against public_url)
// to the running Relay, from the browser that started the flow (the Relay's
// default test browser), and returns the redirect to the app's return URL.
func followCallback(t *testing.T, base, providerRedirect string) url.Values {
	t.Helper()
	resp, body := browserFor(t, base).get(t, providerRedirect)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("callback: %d %s", resp.StatusCode, body)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	return loc.Query()
}

// authorize starts a connect flow through the API, opens its start link in
// the Relay's default test browser, and returns the provider's authorize
// URL that the link redirected to.
func authorize(t *testing.T, base, org, provider string) string {
	t.Helper()
	var auth struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	if code := apiCall(t, "POST", base+"/api/v1/orgs/"+org+"/connections/"+provider+"/authorize", testAdminKey,
		map[string]string{"return_url": "https://app.example/connected"}, &auth); code != 200 {
		t.Fatalf("authorize %s: %d", provider, code)
	}
	return browserFor(t, base).open(t, auth.AuthorizeURL)
}

func TestLinearConnectionEndToEnd(t *testing.T) {
	sim := simulator.NewLinear(nil)
	defer sim.Close()
	sim.SetTokenTTL(time.Minute) // inside the refresh window: the token endpoint refreshes
	sim.AddOrganization(simulator.LinearOrg{ID: "org-linear-1", Name: "Acme", Teams: []simulator.LinearTeam{{ID: "team-1", Name: "Eng"}}})
	sink := newCollector(t)
	cfg := fmt.Sprintf(`
admin_api_key: %q
connect: {allowed_return_origins: ["https://app.example"]}
log_level: warn
public_url: https://relay.example
providers:
  linear: {webhook_secret: %q, client_id: %q, client_secret: %q, api_url: %q, web_url: %q}
destinations:
  - {name: acme, url: %q, secret: %q, org_id: acme}
`, testAdminKey, testLinear, sim.ClientID, sim.ClientSecret, sim.URL(), sim.URL(), sink.URL, testDestination)
	relayP := startRelay(t, cfg, nil)
	base := relayP.url
	apiCall(t, "POST", base+"/api/v1/orgs", testAdminKey, map[string]string{"id": "acme"}, nil)

	// Denied consent goes back to the app with error=access_denied.
	if q := followCallback(t, base, sim.Deny(authorize(t, base, "acme", "linear"))); q.Get("error") != "access_denied" {
		t.Fatalf("denied: %v", q)
	}
	to, err := sim.Consent(authorize(t, base, "acme", "linear"), "org-linear-1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(to, "https://relay.example/oauth/linear/callback?") {
		t.Fatalf("redirect_uri: %s", to)
	}
	q := followCallback(t, base, to)
	connID := q.Get("connection_id")
	if q.Get("status") != "active" || connID == "" {
		t.Fatalf("connect: %v", q)
	}
	hooks := sim.Webhooks()
	if len(hooks) != 1 || hooks[0].URL != "https://relay.example/webhooks/linear" || hooks[0].Secret == "" || hooks[0].Secret == testLinear {
		t.Fatalf("registered webhooks: %+v", hooks)
	}

	body, header := sim.IssueWebhook("org-linear-1", "team-1", "issue-9", time.Now())
	header.Set("Linear-Delivery", "lin-d-1")
	if code, b := post(t, base+"/webhooks/linear", header, body); code != 202 {
		t.Fatalf("webhook: %d %s", code, b)
	}
	waitUntil(t, "delivery", func() bool { return len(sink.all()) == 1 })
	if env := sink.all()[0].env; env["org_id"] != "acme" || env["connection_id"] != connID {
		t.Fatalf("envelope org %v connection %v", env["org_id"], env["connection_id"])
	}

	before := sim.Calls("token_refresh")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if code := apiCall(t, "GET", base+"/api/v1/connections/"+connID+"/token", testAdminKey, nil, &tok); code != 200 ||
		!sim.ValidToken(tok.AccessToken) || sim.Calls("token_refresh") != before+1 {
		t.Fatalf("token: %d, refreshes %d", code, sim.Calls("token_refresh")-before)
	}
	assertNotStored(t, relayP, tok.AccessToken)

	if code := apiCall(t, "DELETE", base+"/api/v1/connections/"+connID, testAdminKey, nil, nil); code != 202 {
		t.Fatalf("delete: %d", code)
	}
	waitUntil(t, "teardown", func() bool {
		var c relay.Connection
		apiCall(t, "GET", base+"/api/v1/connections/"+connID, testAdminKey, nil, &c)
		return c.Teardown == "done"
	})
	if len(sim.Webhooks()) != 0 || sim.ValidToken(tok.AccessToken) {
		t.Fatalf("teardown left webhooks %v or a live token", sim.Webhooks())
	}
}

func TestSentryAndVercelConnectionsEndToEnd(t *testing.T) {
	sen := simulator.NewSentry(nil)
	defer sen.Close()
	sen.SetTokenTTL(time.Minute) // refreshed by the token endpoint
	sen.AddInstallation(simulator.SentryInstallation{UUID: "inst-uuid-1", OrgSlug: "acme", Projects: []simulator.SentryProject{{ID: "1", Slug: "backend"}}})
	ver := simulator.NewVercel(nil)
	defer ver.Close()
	ver.AddAccount(simulator.VercelAccount{ConfigurationID: "icfg_1", TeamID: "team_1", UserID: "usr_1",
		Projects: []simulator.VercelProject{{ID: "prj_1", Name: "web"}}})
	sink := newCollector(t)
	cfg := fmt.Sprintf(`
admin_api_key: %q
connect: {allowed_return_origins: ["https://app.example"]}
log_level: warn
public_url: https://relay.example
providers:
  sentry: {client_secret: %q, client_id: %q, slug: %q, api_url: %q, web_url: %q}
  vercel: {client_secret: %q, client_id: %q, slug: %q, api_url: %q, web_url: %q}
destinations:
  - {name: acme, url: %q, secret: %q, org_id: acme}
`, testAdminKey, sen.ClientSecret, sen.ClientID, sen.Slug, sen.URL(), sen.URL(),
		ver.ClientSecret, ver.ClientID, ver.Slug, ver.URL(), ver.URL(), sink.URL, testDestination)
	relayP := startRelay(t, cfg, nil)
	base := relayP.url
	apiCall(t, "POST", base+"/api/v1/orgs", testAdminKey, map[string]string{"id": "acme"}, nil)

	state := func(provider string) string {
		u, _ := url.Parse(authorize(t, base, "acme", provider))
		return u.Query().Get("state")
	}
	sq := followCallback(t, base, sen.InstallRedirect("https://relay.example/oauth/sentry/callback", state("sentry"), "inst-uuid-1"))
	vq := followCallback(t, base, ver.InstallRedirect("https://relay.example/oauth/vercel/callback", state("vercel"), "icfg_1"))
	senID, verID := sq.Get("connection_id"), vq.Get("connection_id")
	if sq.Get("status") != "active" || vq.Get("status") != "active" || senID == "" || verID == "" {
		t.Fatalf("connect: sentry %v, vercel %v", sq, vq)
	}
	if hooks := ver.Webhooks(); len(hooks) != 1 || hooks[0].URL != "https://relay.example/webhooks/vercel" {
		t.Fatalf("vercel webhooks %+v", hooks)
	}

	sb := simulator.SentryIssuePayload("inst-uuid-1", "1001")
	vb := simulator.VercelDeploymentPayload("evt_v_1", "team_1", "prj_1")
	if code, b := post(t, base+"/webhooks/sentry", simulator.SentryWebhook(sen.ClientSecret, "issue", sb, time.Now()), sb); code != 202 {
		t.Fatalf("sentry webhook: %d %s", code, b)
	}
	if code, b := post(t, base+"/webhooks/vercel", simulator.VercelWebhook(ver.ClientSecret, vb), vb); code != 202 {
		t.Fatalf("vercel webhook: %d %s", code, b)
	}
	waitUntil(t, "two deliveries", func() bool { return len(sink.all()) == 2 })
	got := map[any]any{}
	for _, d := range sink.all() {
		if d.env["org_id"] != "acme" {
			t.Fatalf("envelope org %v", d.env["org_id"])
		}
		got[d.env["provider"]] = d.env["connection_id"]
	}
	if got["sentry"] != senID || got["vercel"] != verID {
		t.Fatalf("connection ids %v, want sentry %s vercel %s", got, senID, verID)
	}

	before := sen.Calls("token_refresh")
	if code := apiCall(t, "GET", base+"/api/v1/connections/"+senID+"/token", testAdminKey, nil, nil); code != 200 || sen.Calls("token_refresh") != before+1 {
		t.Fatalf("sentry token: %d, refreshes %d", code, sen.Calls("token_refresh")-before)
	}
	var vt struct {
		AccessToken string `json:"access_token"`
	}
	if code := apiCall(t, "GET", base+"/api/v1/connections/"+verID+"/token", testAdminKey, nil, &vt); code != 200 || !ver.ValidToken(vt.AccessToken) {
		t.Fatalf("vercel token: %d", code)
	}
	var st struct {
		AccessToken string `json:"access_token"`
	}
	apiCall(t, "GET", base+"/api/v1/connections/"+senID+"/token", testAdminKey, nil, &st)
	assertNotStored(t, relayP, vt.AccessToken)
	assertNotStored(t, relayP, st.AccessToken)

	for _, id := range []string{senID, verID} {
		if code := apiCall(t, "DELETE", base+"/api/v1/connections/"+id, testAdminKey, nil, nil); code != 202 {
			t.Fatalf("delete %s: %d", id, code)
		}
	}
	waitUntil(t, "teardowns", func() bool {
		done := 0
		for _, id := range []string{senID, verID} {
			var c relay.Connection
			apiCall(t, "GET", base+"/api/v1/connections/"+id, testAdminKey, nil, &c)
			if c.Teardown == "done" {
				done++
			}
		}
		return done == 2
	})
	if len(ver.Webhooks()) != 0 || ver.ValidToken(vt.AccessToken) {
		t.Fatalf("vercel teardown left webhooks %v or a live token", ver.Webhooks())
	}
}

// TestKeyRotation: tokens stored under key A; `relay keys rotate` with
// [B, A]; then Relay with only B still hands out every token.
func TestKeyRotation(t *testing.T) {
	sim := simulator.NewGitHub(nil)
	defer sim.Close()
	sim.AddInstallation(simulator.GitHubInstallation{ID: 77, Login: "octo"})
	keyA, keyB := strings.Repeat("a1", 32), strings.Repeat("b2", 32)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "relay.yaml")
	cfg := fmt.Sprintf(`
admin_api_key: %q
connect: {allowed_return_origins: ["https://app.example"]}
log_level: warn
data_dir: %q
providers:
  github:
    webhook_secret: s
%s
`, testAdminKey, filepath.Join(dir, "data"), githubAppYAML(sim))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	serve := func(keys string) (string, func()) {
		getenv := func(k string) string {
			if k == "RELAY_ENCRYPTION_KEYS" {
				return keys
			}
			return ""
		}
		ctx, cancel := context.WithCancel(context.Background())
		out := &syncBuffer{}
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"relay", "serve", "--addr", "127.0.0.1:0", "--config", cfgPath}, getenv, strings.NewReader(""), out, io.Discard)
		}()
		var base string
		waitUntil(t, "relay to listen", func() bool {
			if m := listenRE.FindStringSubmatch(out.String()); m != nil {
				base = m[1]
				return true
			}
			return false
		})
		return base, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	}

	base, stop := serve(keyA)
	apiCall(t, "POST", base+"/api/v1/orgs", testAdminKey, map[string]string{"id": "acme"}, nil)
	id := connectGitHub(t, base, testAdminKey, "acme", sim, 77).Get("connection_id")
	var before struct {
		AccessToken string `json:"access_token"`
	}
	apiCall(t, "GET", base+"/api/v1/connections/"+id+"/token", testAdminKey, nil, &before)
	stop()

	var out bytes.Buffer
	getenv := func(k string) string {
		if k == "RELAY_ENCRYPTION_KEYS" {
			return keyB + "," + keyA
		}
		return ""
	}
	if err := run(context.Background(), []string{"relay", "keys", "rotate", "--config", cfgPath}, getenv, strings.NewReader(""), &out, io.Discard); err != nil {
		t.Fatalf("keys rotate: %v", err)
	}
	if !strings.Contains(out.String(), "1 tokens and secrets now encrypted under key") {
		t.Fatalf("rotate said %q", out.String())
	}

	base, stop = serve(keyB) // the old key is gone
	defer stop()
	var after struct {
		AccessToken string `json:"access_token"`
	}
	if code := apiCall(t, "GET", base+"/api/v1/connections/"+id+"/token", testAdminKey, nil, &after); code != 200 || after.AccessToken != before.AccessToken {
		t.Fatalf("token after rotation: %d", code)
	}
}
