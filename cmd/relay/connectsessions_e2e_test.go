package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/simulator"
	"github.com/relayhq/relay/storetest"
)

func TestConnectPageEndToEnd(t *testing.T) { testConnectPage(t, nil) }

// The same on PostgreSQL.
func TestConnectPageEndToEndPostgres(t *testing.T) {
	testConnectPage(t, map[string]string{"RELAY_DATABASE_URL": storetest.PostgresSchemaURL(t)})
}

// A team's app creates a connect session (through the CLI, which uses the
// API client); its customer's browser opens the page, presses GitHub's
// button, installs the App at the simulator and comes back to the app with
// the new connection. The page then shows GitHub connected and refuses to
// connect it again; the org's name, untrusted, renders as text.
func testConnectPage(t *testing.T, env map[string]string) {
	sim := simulator.NewGitHub(nil)
	defer sim.Close()
	sim.AddInstallation(simulator.GitHubInstallation{ID: 4242, Login: "octo-org",
		Repos: []simulator.GitHubRepo{{ID: 1296269, FullName: "octo-org/hello"}}})
	// The simulator's install page acts as a user installing the App.
	sim.SetSetupURL("https://relay.example/oauth/github/callback", 4242, "install")
	cfg := fmt.Sprintf(`
admin_api_key: %q
connect: {allowed_return_origins: ["https://app.example"]}
public_url: https://relay.example
log_level: warn
providers:
  github:
    webhook_secret: %q
%s
`, testAdminKey, testGitHub, githubAppYAML(sim))
	relayP := startRelay(t, cfg, env)
	base := relayP.url
	const evilName = `"><img src=x onerror=alert(1)><script>alert(2)</script>`
	for _, org := range []string{"acme", "globex"} {
		if code := apiCall(t, "POST", base+"/api/v1/orgs", testAdminKey, map[string]string{"id": org, "name": evilName}, nil); code != 201 {
			t.Fatalf("create org %s: %d", org, code)
		}
	}

	// Through the CLI: the page's URL alone on stdout.
	var stdout, stderr strings.Builder
	getenv := func(k string) string {
		return map[string]string{"RELAY_URL": base, "RELAY_API_KEY": testAdminKey}[k]
	}
	if err := run(context.Background(), []string{"relay", "connections", "session", "acme", "--return-url", "https://app.example/done?x=1"},
		getenv, strings.NewReader(""), &stdout, &stderr); err != nil {
		t.Fatalf("relay connections session: %v\n%s", err, stderr.String())
	}
	page := strings.TrimSpace(stdout.String())
	if !strings.HasPrefix(page, "https://relay.example/connect/cst_") || !strings.Contains(stderr.String(), "github") {
		t.Fatalf("page %q, stderr %q", page, stderr.String())
	}

	// Bad requests and other orgs' keys are refused.
	if code := apiCall(t, "POST", base+"/api/v1/orgs/acme/connect-sessions", testAdminKey,
		map[string]any{"providers": []string{"myspace"}, "return_url": "https://app.example/done"}, nil); code != 400 {
		t.Fatalf("unknown provider: %d", code)
	}
	if code := apiCall(t, "POST", base+"/api/v1/orgs/acme/connect-sessions", testAdminKey,
		map[string]any{"return_url": "https://evil.example/"}, nil); code != 400 {
		t.Fatalf("foreign return URL: %d", code)
	}
	var key struct {
		Key string `json:"key"`
	}
	apiCall(t, "POST", base+"/api/v1/orgs/globex/api-keys", testAdminKey, map[string]string{"name": "g"}, &key)
	if code := apiCall(t, "POST", base+"/api/v1/orgs/acme/connect-sessions", key.Key,
		map[string]any{"return_url": "https://app.example/done"}, nil); code != 404 {
		t.Fatalf("another org's key: %d", code)
	}

	// The page: a button per provider, no script, a strict policy, the
	// org's name as text.
	b := newBrowser(t, base)
	resp, body := b.start(t, page)
	csp := resp.Header.Get("Content-Security-Policy")
	if resp.StatusCode != 200 || !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe") ||
		resp.Header.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(body, "Connect GitHub") {
		t.Fatalf("page: %d %q\n%s", resp.StatusCode, csp, body)
	}
	if strings.Contains(body, "<script") || strings.Contains(body, "<img") || !strings.Contains(body, "&lt;script&gt;") {
		t.Fatalf("the org's name is not inert:\n%s", body)
	}
	// The page's only style is allowed by its hash: the browser applies it.
	_, style, _ := strings.Cut(body, "<style>")
	style, _, _ = strings.Cut(style, "</style>")
	sum := sha256.Sum256([]byte(style))
	if !strings.Contains(csp, "style-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") {
		t.Fatalf("the policy %q does not allow the page's style", csp)
	}
	action := formAction(t, body, "github")

	// The button starts the flow in this browser; the provider sends it
	// back through Relay to the app.
	resp, _ = b.postForm(t, page, action)
	start := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(start, "https://relay.example/oauth/github/start?") {
		t.Fatalf("button: %d %s", resp.StatusCode, start)
	}
	next := b.open(t, start) // the simulator's install page
	for range 3 {
		resp, body = b.get(t, next)
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("%s: %d %s", next, resp.StatusCode, body)
		}
		next = resp.Header.Get("Location")
		if strings.HasPrefix(next, "https://app.example/") {
			break
		}
	}
	done, _ := url.Parse(next)
	q := done.Query()
	if done.Host != "app.example" || done.Path != "/done" || q.Get("x") != "1" || q.Get("provider") != "github" ||
		q.Get("status") != relay.ConnectionActive || q.Get("connection_id") == "" {
		t.Fatalf("back at the app: %s", next)
	}
	var conn relay.Connection
	if code := apiCall(t, "GET", base+"/api/v1/connections/"+q.Get("connection_id"), testAdminKey, nil, &conn); code != 200 ||
		conn.OrgID != "acme" || conn.ExternalID != "4242" || conn.Status != relay.ConnectionActive {
		t.Fatalf("connection: %d %+v", code, conn)
	}

	// Single use per connection: GitHub shows connected, and its button
	// no longer works.
	resp, body = b.get(t, page)
	if resp.StatusCode != 200 || !strings.Contains(body, "Connected") || strings.Contains(body, "Connect GitHub") {
		t.Fatalf("page after connecting: %d\n%s", resp.StatusCode, body)
	}
	if resp, body = b.postForm(t, page, action); resp.StatusCode != http.StatusConflict || !strings.Contains(body, "already connected") {
		t.Fatalf("second connect: %d %s", resp.StatusCode, body)
	}
	// An unknown link gets a page saying so.
	if resp, body = b.get(t, "https://relay.example/connect/cst_nope"); resp.StatusCode != 404 || !strings.Contains(body, "unknown or has expired") {
		t.Fatalf("unknown link: %d %s", resp.StatusCode, body)
	}
}

// formAction returns the action of the page's form for provider.
func formAction(t *testing.T, body, provider string) string {
	t.Helper()
	for _, part := range strings.Split(body, `action="`)[1:] {
		action, _, _ := strings.Cut(part, `"`)
		if strings.HasSuffix(action, "/"+provider) {
			return action
		}
	}
	t.Fatalf("no form for %s in\n%s", provider, body)
	return ""
}

// postForm submits a form with no fields from page to action, as the
// browser does, and returns the answer, its body read.
func (b *browser) postForm(t *testing.T, page, action string) (*http.Response, string) {
	t.Helper()
	p, _ := url.Parse(page)
	u, err := p.Parse(action)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, u.String(), strings.NewReader(""))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}
