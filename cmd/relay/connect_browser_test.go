package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/simulator"
)

// The customer connect page in a real browser: a team's app creates a
// connect session through the API; its customer opens the page, presses
// GitHub, installs the App at the simulator and lands back on the app's
// return URL with the active connection; the page then shows GitHub
// connected.
func TestConnectPageInBrowser(t *testing.T) {
	chromiumPath(t) // skip before starting anything when there is no browser
	shots, err := os.MkdirTemp("", "relay-dashboard-screenshots-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", shots)
	sim := simulator.NewGitHub(nil)
	defer sim.Close()
	sim.AddInstallation(simulator.GitHubInstallation{ID: 4242, Login: "octo-org",
		Repos: []simulator.GitHubRepo{{ID: 1296269, FullName: "octo-org/hello"}}})
	// The team's app, where the customer comes back to.
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "Back at the app.")
	}))
	defer app.Close()
	relayP := startRelay(t, fmt.Sprintf(`
admin_api_key: %q
public_url: http://relay.example
connect: {allowed_return_origins: [%q]}
log_level: warn
providers:
  github:
    webhook_secret: %q
%s
`, testAdminKey, app.URL, testGitHub, githubAppYAML(sim)), nil)
	base := relayP.url
	const pub = "http://relay.example"
	// The simulator's install page acts as a user installing the App.
	sim.SetSetupURL(pub+"/oauth/github/callback", 4242, "install")
	browser := newChromium(t, "relay.example", strings.TrimPrefix(base, "http://"))
	if code := apiCall(t, "POST", base+"/api/v1/orgs", testAdminKey, map[string]string{"id": "acme", "name": "Acme Corp"}, nil); code != 201 {
		t.Fatalf("create org: %d", code)
	}
	var cs struct {
		URL string `json:"url"`
	}
	if code := apiCall(t, "POST", base+"/api/v1/orgs/acme/connect-sessions", testAdminKey,
		map[string]any{"providers": []string{"github"}, "return_url": app.URL + "/done"}, &cs); code != 201 || !strings.HasPrefix(cs.URL, pub+"/connect/") {
		t.Fatalf("create connect session: %d %q", code, cs.URL)
	}

	customer := tab(t, browser)
	button := `form[action$="/github"] button`
	do(t, customer, "open the connect page", chromedp.Navigate(cs.URL), chromedp.WaitVisible(chromedp.CSS(button)))
	if text := get(t, customer, "read the page", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(text, "Acme Corp") || !strings.Contains(text, "Connect GitHub") {
		t.Errorf("the connect page does not name the org and offer GitHub:\n%s", text)
	}
	screenshot(t, customer, shots, "connect")

	do(t, customer, "press GitHub", chromedp.Click(chromedp.CSS(button)))
	var back *url.URL
	waitUntil(t, "the browser back at the app", func() bool {
		u, err := url.Parse(location(customer))
		if err == nil && strings.HasPrefix(u.String(), app.URL+"/done?") {
			back = u
		}
		return back != nil
	})
	q := back.Query()
	if q.Get("status") != relay.ConnectionActive || !strings.HasPrefix(q.Get("connection_id"), "con_") || q.Get("provider") != "github" {
		t.Fatalf("back at the app with %s", back)
	}
	var conn relay.Connection
	if code := apiCall(t, "GET", base+"/api/v1/connections/"+q.Get("connection_id"), testAdminKey, nil, &conn); code != 200 ||
		conn.OrgID != "acme" || conn.ExternalID != "4242" || conn.Status != relay.ConnectionActive {
		t.Fatalf("the connection: %d %+v", code, conn)
	}

	do(t, customer, "open the connect page again", chromedp.Navigate(cs.URL), chromedp.WaitVisible(chromedp.CSS(".providers .done")))
	if text := get(t, customer, "read GitHub's line", chromedp.Text(chromedp.CSS(".providers li"))); !strings.Contains(text, "GitHub") || !strings.Contains(text, "Connected") {
		t.Errorf("the connect page shows GitHub as %q, want connected", text)
	}
	if n := get(t, customer, "count buttons", chromedp.Evaluate[int](`document.querySelectorAll(".providers button").length`)); n != 0 {
		t.Errorf("the connect page still offers %d connect buttons", n)
	}
	screenshot(t, customer, shots, "connect-done")
}
