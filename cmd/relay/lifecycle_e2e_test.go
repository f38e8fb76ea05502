package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/simulator"
)

// oneConn sends every request on one keep-alive connection. The server
// reads a connection's next request only once the previous handler has
// returned, so an answer to a later request proves that a webhook's
// handler, lifecycle work included, has finished.
type oneConn struct {
	t      *testing.T
	base   string
	client *http.Client
}

func newOneConn(t *testing.T, base string) *oneConn {
	tr := &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}
	t.Cleanup(tr.CloseIdleConnections)
	return &oneConn{t: t, base: base, client: &http.Client{Transport: tr}}
}

func (c *oneConn) do(req *http.Request) (int, string, bool) {
	c.t.Helper()
	reused := false
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused }}))
	resp, err := c.client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), reused
}

// webhook posts a signed GitHub webhook and waits until its handler has
// finished (see oneConn).
func (c *oneConn) webhook(event, delivery string, body []byte) {
	c.t.Helper()
	c.send("/webhooks/github", simulator.GitHubWebhook(testGitHub, event, delivery, body), body)
}

// send posts a webhook, expects 202, and waits until its handler has
// finished (see oneConn).
func (c *oneConn) send(path string, header http.Header, body []byte) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader(body))
	req.Header = header
	if code, answer, _ := c.do(req); code != http.StatusAccepted {
		c.t.Fatalf("%s: %d %s, want 202", path, code, answer)
	}
	req, _ = http.NewRequest(http.MethodGet, c.base+"/healthz", nil)
	if code, _, reused := c.do(req); code != http.StatusOK || !reused {
		c.t.Fatalf("healthz after a webhook: %d, same connection %v", code, reused)
	}
}

func readWebhook(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../testdata/webhooks/github/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Lifecycle webhooks change a connection only as GitHub confirms: a
// captured body replayed under X-GitHub-Event: installation with a new
// delivery id changes nothing, nor does an uninstall or unsuspend GitHub
// does not confirm; a genuine suspension and uninstall do.
func TestGitHubLifecycleConfirmedEndToEnd(t *testing.T) {
	sim := simulator.NewGitHub(nil)
	defer sim.Close()
	sim.AddInstallation(simulator.GitHubInstallation{ID: 4242, Login: "octo-org",
		Repos: []simulator.GitHubRepo{{ID: 1296269, FullName: "octo-org/hello"}, {ID: 7, FullName: "octo-org/x"}}})
	sink := newCollector(t)
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
`, testAdminKey, testGitHub, githubAppYAML(sim), sink.URL, testDestination)
	base := startRelay(t, cfg, nil).url
	if code := apiCall(t, "POST", base+"/api/v1/orgs", testAdminKey, map[string]string{"id": "org_a", "name": "A"}, nil); code != 201 {
		t.Fatalf("create org: %d", code)
	}
	connID := connectGitHub(t, base, testAdminKey, "org_a", sim, 4242).Get("connection_id")
	state := func() (string, []string) {
		t.Helper()
		var c struct {
			relay.Connection
			Resources []relay.Resource `json:"resources"`
		}
		if code := apiCall(t, "GET", base+"/api/v1/connections/"+connID, testAdminKey, nil, &c); code != 200 {
			t.Fatalf("connection: %d", code)
		}
		var ids []string
		for _, r := range c.Resources {
			ids = append(ids, r.ExternalID)
		}
		slices.Sort(ids)
		return c.Status, ids
	}
	expect := func(what, status string) {
		t.Helper()
		if st, _ := state(); st != status {
			t.Fatalf("%s: connection %s, want %s", what, st, status)
		}
	}
	gh := newOneConn(t, base)

	// A signed issues delivery, captured, replayed as an installation event
	// under a new delivery id: stored, but no change, and GitHub is not even
	// asked (the body is not an installation event's).
	captured := simulator.GitHubIssuesPayload(4242, 1296269, "deleted")
	gh.webhook("issues", "captured-1", captured)
	asked := sim.Calls("get_installation")
	gh.webhook("installation", "forged-1", captured)
	expect("replayed issues body as installation.deleted", relay.ConnectionActive)
	if n := sim.Calls("get_installation") - asked; n != 0 {
		t.Fatalf("GitHub asked %d times about a body of another event", n)
	}

	// A well-formed uninstall GitHub does not confirm (the installation is
	// there): asked, and nothing changes.
	deleted := readWebhook(t, "installation.deleted.json")
	gh.webhook("installation", "forged-2", []byte(deleted))
	expect("unconfirmed uninstall", relay.ConnectionActive)
	if n := sim.Calls("get_installation") - asked; n != 1 {
		t.Fatalf("GitHub asked %d times, want 1", n)
	}

	// Repositories: GitHub's list, not the webhook's (which adds 9 and 10).
	sim.AddInstallation(simulator.GitHubInstallation{ID: 4242, Login: "octo-org",
		Repos: []simulator.GitHubRepo{{ID: 1296269, FullName: "octo-org/hello"}, {ID: 9, FullName: "octo-org/nine"}}})
	gh.webhook("installation_repositories", "repos-1", []byte(readWebhook(t, "installation_repositories.added.json")))
	if st, ids := state(); st != relay.ConnectionActive || !slices.Equal(ids, []string{"1296269", "9"}) {
		t.Fatalf("after a repositories event: %s %v, want active [1296269 9]", st, ids)
	}

	// A genuine suspension.
	sim.SuspendInstallation(4242, true)
	gh.webhook("installation", "suspend-1", []byte(readWebhook(t, "installation.suspend.json")))
	expect("confirmed suspension", relay.ConnectionSuspended)
	// An unsuspend claim while GitHub still says suspended: no revival.
	unsuspend := strings.Replace(deleted, `"action": "deleted"`, `"action": "unsuspend"`, 1)
	gh.webhook("installation", "unsuspend-1", []byte(unsuspend))
	expect("unconfirmed unsuspend", relay.ConnectionSuspended)

	// A genuine uninstall: GitHub answers 404.
	sim.RemoveInstallation(4242)
	gh.webhook("installation", "deleted-1", []byte(deleted))
	expect("confirmed uninstall", relay.ConnectionRevoked)

	// An uninstall while GitHub cannot answer: nothing changes at once, and
	// the queued confirmation revokes the connection once GitHub answers.
	sim.AddInstallation(simulator.GitHubInstallation{ID: 5151, Login: "acme"})
	connID = connectGitHub(t, base, testAdminKey, "org_a", sim, 5151).Get("connection_id")
	sim.RemoveInstallation(5151)
	sim.FailNext("get_installation", http.StatusBadGateway, 2)
	asked = sim.Calls("get_installation")
	gh.webhook("installation", "deleted-2", []byte(strings.ReplaceAll(deleted, "4242", "5151")))
	expect("uninstall while GitHub is down", relay.ConnectionActive)
	waitUntil(t, "the retried confirmation", func() bool { st, _ := state(); return st == relay.ConnectionRevoked })
	if n := sim.Calls("get_installation") - asked; n != 3 {
		t.Fatalf("GitHub asked %d times, want 3 (at once, then twice by the job)", n)
	}
}

// Sentry-Hook-Resource is not signed either: a signed body of another
// resource re-sent as "installation" changes nothing, nor does an
// uninstall Sentry does not confirm; a genuine uninstall revokes.
func TestSentryLifecycleConfirmedEndToEnd(t *testing.T) {
	sen := simulator.NewSentry(nil)
	defer sen.Close()
	sen.AddInstallation(simulator.SentryInstallation{UUID: "inst-uuid-1", OrgSlug: "acme", Projects: []simulator.SentryProject{{ID: "1", Slug: "backend"}}})
	sink := newCollector(t)
	cfg := fmt.Sprintf(`
admin_api_key: %q
connect: {allowed_return_origins: ["https://app.example"]}
log_level: warn
public_url: https://relay.example
providers:
  sentry: {client_secret: %q, client_id: %q, slug: %q, api_url: %q, web_url: %q}
destinations:
  - {name: acme, url: %q, secret: %q, org_id: acme}
`, testAdminKey, sen.ClientSecret, sen.ClientID, sen.Slug, sen.URL(), sen.URL(), sink.URL, testDestination)
	base := startRelay(t, cfg, nil).url
	apiCall(t, "POST", base+"/api/v1/orgs", testAdminKey, map[string]string{"id": "acme"}, nil)
	u, _ := url.Parse(authorize(t, base, "acme", "sentry"))
	q := followCallback(t, base, sen.InstallRedirect("https://relay.example/oauth/sentry/callback", u.Query().Get("state"), "inst-uuid-1"))
	connID := q.Get("connection_id")
	expect := func(what, status string) {
		t.Helper()
		var c relay.Connection
		if code := apiCall(t, "GET", base+"/api/v1/connections/"+connID, testAdminKey, nil, &c); code != 200 || c.Status != status {
			t.Fatalf("%s: %d, connection %s, want %s", what, code, c.Status, status)
		}
	}
	conn := newOneConn(t, base)
	send := func(resource string, body []byte) {
		t.Helper()
		conn.send("/webhooks/sentry", simulator.SentryWebhook(sen.ClientSecret, resource, body, time.Now()), body)
	}

	// A captured, signed comment deletion sent as an installation event.
	// (Its delivery id is a hash of the body, so it must not have been
	// stored here as a comment already: it would be a duplicate.)
	comment := []byte(`{"action":"deleted","installation":{"uuid":"inst-uuid-1"},"data":{"comment_id":1234,"issue_id":100,` +
		`"project_slug":"backend","timestamp":"2024-05-14T16:08:02Z","comment":"spam"},"actor":{"type":"user","id":1,"name":"A"}}`)
	asked := sen.Calls("get_installation")
	send("installation", comment)
	expect("comment body as installation.deleted", relay.ConnectionActive)
	if n := sen.Calls("get_installation") - asked; n != 0 {
		t.Fatalf("Sentry asked %d times about a body of another resource", n)
	}

	// A well-formed uninstall Sentry does not confirm.
	b, err := os.ReadFile("../../testdata/webhooks/sentry/installation.deleted.json")
	if err != nil {
		t.Fatal(err)
	}
	deleted := []byte(strings.ReplaceAll(string(b), "7a485448-a9e2-4c85-8a3c-4f44175783c9", "inst-uuid-1"))
	// (Another copy than the genuine one below, which would be its duplicate.)
	send("installation", bytes.Replace(deleted, []byte(`"status": "installed"`), []byte(`"dateCreated": "2024-05-14T16:08:02Z", "status": "installed"`), 1))
	expect("unconfirmed uninstall", relay.ConnectionActive)
	if n := sen.Calls("get_installation") - asked; n != 1 {
		t.Fatalf("Sentry asked %d times, want 1", n)
	}

	// A genuine uninstall.
	sen.RemoveInstallation("inst-uuid-1")
	send("installation", deleted)
	expect("confirmed uninstall", relay.ConnectionRevoked)
}
