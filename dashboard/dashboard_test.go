package dashboard_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/dashboard"
	"github.com/relayhq/relay/sqlite"
)

// engine stands in for the delivery engine: routes nowhere, counts wakes.
type engine struct{ wakes int }

func (e *engine) Route(*relay.Event) []*relay.Destination { return nil }
func (e *engine) Refresh(context.Context) error           { return nil }
func (e *engine) Wake()                                   { e.wakes++ }

// fixture is a dashboard over a fresh SQLite store, with an admin key and
// an org key, in front of an API that answers 418 (to tell it apart).
type fixture struct {
	t      *testing.T
	store  *sqlite.Store
	srv    *httptest.Server
	keys   map[string]string // name → secret
	keyIDs map[string]string
	now    time.Time

	conns     *connSvc
	backfills *backfillSvc
}

// connSvc stands in for the connect service: it records the flows started.
type connSvc struct{ started []string }

func (c *connSvc) Providers() []string { return []string{"github"} }
func (c *connSvc) Authorize(_ context.Context, org, provider, returnURL string) (string, time.Time, error) {
	c.started = append(c.started, org+" "+provider+" "+returnURL)
	return "https://relay.example/oauth/" + provider + "/start?flow=f1", time.Now().Add(time.Minute), nil
}
func (c *connSvc) Teardown(context.Context, string, string) (*relay.Connection, error) {
	return nil, relay.Errorf(relay.ENOTFOUND, "no such connection")
}

// backfillSvc stands in for the backfill service: it records starts and
// cancels.
type backfillSvc struct{ calls []string }

func (b *backfillSvc) Start(_ context.Context, conn, org string, depth int, _ []string) (*relay.Backfill, bool, error) {
	b.calls = append(b.calls, "start "+conn+" "+org+" "+strconv.Itoa(depth))
	return &relay.Backfill{ID: "bf_1"}, true, nil
}
func (b *backfillSvc) Cancel(_ context.Context, conn, id, org string) (*relay.Backfill, error) {
	b.calls = append(b.calls, "cancel "+conn+" "+id+" "+org)
	return &relay.Backfill{ID: id}, nil
}

func newFixture(t *testing.T, cfg dashboard.Config) *fixture {
	t.Helper()
	return newFixtureWith(t, cfg, func(relay.Store) dashboard.Deliverer { return &engine{} })
}

// newFixtureWith is newFixture with the delivery engine newEngine builds
// over the fixture's store.
func newFixtureWith(t *testing.T, cfg dashboard.Config, newEngine func(relay.Store) dashboard.Deliverer) *fixture {
	t.Helper()
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "relay.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ctx := context.Background()
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, store: store, keys: map[string]string{}, keyIDs: map[string]string{}, now: time.Now().UTC()}
	for name, org := range map[string]string{"admin-1": "", "admin-2": "", "acme": "acme"} {
		secret := relay.NewAPIKeySecret()
		k := &relay.APIKey{ID: relay.NewID("key", f.now), OrgID: org, Name: name, Prefix: relay.APIKeyPrefix(secret),
			Hash: relay.HashAPIKey(secret), CreatedAt: f.now}
		if err := store.CreateAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		f.keys[name], f.keyIDs[name] = secret, k.ID
	}
	f.conns, f.backfills = &connSvc{}, &backfillSvc{}
	if err := store.CreateOrg(ctx, &relay.Org{ID: "acme", Name: "Acme", CreatedAt: f.now}); err != nil {
		t.Fatal(err)
	}
	d, err := dashboard.New(dashboard.Deps{Store: store, Delivery: newEngine(store), Conns: store, ConnSvc: f.conns, Backfills: store,
		BackfillSvc: f.backfills, Resolutions: store, Providers: []string{"github"}}, cfg, slog.New(slog.DiscardHandler), func() time.Time { return time.Now().UTC() })
	if err != nil {
		t.Fatal(err)
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	f.srv = httptest.NewServer(d.Handler(api))
	t.Cleanup(f.srv.Close)
	return f
}

// browser returns a client with its own cookies that does not follow
// redirects.
func (f *fixture) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// signIn signs c in with the named key and returns the session cookie's
// Set-Cookie header.
func (f *fixture) signIn(c *http.Client, key string) string {
	f.t.Helper()
	resp, err := c.PostForm(f.srv.URL+"/signin", url.Values{"api_key": {f.keys[key]}})
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		f.t.Fatalf("sign-in with %s: %d", key, resp.StatusCode)
	}
	return resp.Header.Get("Set-Cookie")
}

func (f *fixture) get(c *http.Client, path string) (int, string) {
	f.t.Helper()
	resp, err := c.Get(f.srv.URL + path)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the session's pages.
func (f *fixture) csrf(c *http.Client) string {
	f.t.Helper()
	_, body := f.get(c, "/")
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		f.t.Fatalf("no CSRF token on the overview:\n%s", body)
	}
	return m[1]
}

// insertEvent stores an event of provider for org.
func (f *fixture) insertEvent(provider, org string, headers map[string]string, payload string) *relay.Event {
	f.t.Helper()
	e := &relay.Event{ID: relay.NewID("evt", f.now), Provider: provider, DeliveryID: relay.NewID("d", f.now), EventType: "issues.opened",
		Source: "live", OrgID: org, Headers: headers, Payload: json.RawMessage(payload), ReceivedAt: relay.EventTime(f.now)}
	if err := f.store.InsertEvents(context.Background(), []*relay.IngestItem{{Event: e}}); err != nil {
		f.t.Fatal(err)
	}
	return e
}

func TestSignInSetsAStrictHttpOnlySessionCookie(t *testing.T) {
	f := newFixture(t, dashboard.Config{SecureCookies: true})
	c := f.browser()
	if code, _ := f.get(c, "/events"); code != http.StatusSeeOther {
		t.Fatalf("a page without a session answered %d, want a redirect to sign-in", code)
	}
	set := f.signIn(c, "admin-1")
	for _, want := range []string{"relay_session=", "HttpOnly", "Secure", "SameSite=Strict", "Expires=", "Path=/"} {
		if !strings.Contains(set, want) {
			t.Errorf("session cookie %q lacks %s", set, want)
		}
	}
	if strings.Contains(set, f.keys["admin-1"]) || strings.Contains(set, relay.HashAPIKey(f.keys["admin-1"])) {
		t.Errorf("session cookie %q holds the key or its hash", set)
	}
	// The cookie is Secure, so the plain-HTTP test client does not send it back.
	resp, err := http.PostForm(f.srv.URL+"/signin", url.Values{"api_key": {"rk_wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a wrong key answered %d, want 401", resp.StatusCode)
	}
}

func TestEveryPageRendersWithAStrictCSP(t *testing.T) {
	f := newFixture(t, dashboard.Config{})
	e := f.insertEvent("github", "", map[string]string{"X-GitHub-Event": "issues"}, `{"a":1}`)
	c := f.browser()
	f.signIn(c, "admin-1")
	for _, path := range []string{"/", "/events", "/events/" + e.ID, "/events/rows?after=", "/deliveries", "/deliveries?status=dead",
		"/destinations", "/connections", "/identity", "/keys"} {
		resp, err := c.Get(f.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d\n%s", path, resp.StatusCode, body)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: Content-Security-Policy %q", path, csp)
		}
		if strings.Contains(string(body), "<script>") || strings.Contains(string(body), " style=") || strings.Contains(string(body), " onclick=") {
			t.Errorf("%s has inline script or style the policy would block", path)
		}
	}
	if code, _ := f.get(c, "/api/v1/events"); code != http.StatusTeapot {
		t.Errorf("an API path answered %d, want the API handler's", code)
	}
}

func TestUntrustedEventFieldsRenderAsText(t *testing.T) {
	f := newFixture(t, dashboard.Config{})
	evil := `"><img src=x onerror=alert(1)><script>alert(2)</script>`
	e := f.insertEvent(`gh<script>alert(3)</script>`, "", map[string]string{"X-Evil": evil}, `{"title":"`+strings.ReplaceAll(evil, `"`, `\"`)+`"}`)
	c := f.browser()
	f.signIn(c, "admin-1")
	for _, path := range []string{"/events", "/events/" + e.ID, "/events/rows?after="} {
		_, body := f.get(c, path)
		for _, raw := range []string{"<img", "<script>alert", `onerror=alert(1)>`} {
			if strings.Contains(body, raw) {
				t.Errorf("%s contains %q unescaped", path, raw)
			}
		}
		if path != "/events/rows?after=" && !strings.Contains(body, "&lt;script&gt;alert(3)") {
			t.Errorf("%s does not show the provider name as text", path)
		}
	}
}

func TestPostsWithoutTheSessionsCSRFTokenAreRefused(t *testing.T) {
	f := newFixture(t, dashboard.Config{})
	e := f.insertEvent("github", "", nil, `{}`)
	c, other := f.browser(), f.browser()
	f.signIn(c, "admin-1")
	f.signIn(other, "admin-2")
	replay := f.srv.URL + "/events/" + e.ID + "/replay"
	for name, form := range map[string]url.Values{
		"no token":                {},
		"a wrong token":           {"csrf": {"x"}},
		"another session's token": {"csrf": {f.csrf(other)}},
	} {
		resp, err := c.PostForm(replay, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("replay with %s: %d, want 403", name, resp.StatusCode)
		}
	}
	resp, err := c.PostForm(replay, url.Values{"csrf": {f.csrf(c)}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("replay with the session's token: %d, want 303", resp.StatusCode)
	}
	resp, err = http.PostForm(replay, url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("replay without a session: %d, want 401", resp.StatusCode)
	}
}

func TestRevokingTheKeyEndsItsSessions(t *testing.T) {
	f := newFixture(t, dashboard.Config{})
	c := f.browser()
	f.signIn(c, "admin-2")
	if code, _ := f.get(c, "/events"); code != http.StatusOK {
		t.Fatalf("signed in: %d", code)
	}
	if _, err := f.store.RevokeAPIKey(context.Background(), f.keyIDs["admin-2"], ""); err != nil {
		t.Fatal(err)
	}
	if code, _ := f.get(c, "/events"); code != http.StatusSeeOther {
		t.Errorf("after the key was revoked the session still works: %d", code)
	}
}

func TestSignOutEndsTheSession(t *testing.T) {
	f := newFixture(t, dashboard.Config{})
	c := f.browser()
	f.signIn(c, "admin-1")
	resp, err := c.PostForm(f.srv.URL+"/signout", url.Values{"csrf": {f.csrf(c)}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code, _ := f.get(c, "/events"); code != http.StatusSeeOther {
		t.Errorf("after signing out a page answered %d", code)
	}
}

func TestAnOrgKeySeesOnlyItsOrg(t *testing.T) {
	f := newFixture(t, dashboard.Config{})
	mine := f.insertEvent("github", "acme", nil, `{"mine":true}`)
	theirs := f.insertEvent("github", "globex", nil, `{"theirs":true}`)
	c := f.browser()
	f.signIn(c, "acme")
	_, body := f.get(c, "/events?org=globex")
	if !strings.Contains(body, mine.ID) || strings.Contains(body, theirs.ID) {
		t.Errorf("acme's Events page (asking for globex) shows the wrong events:\n%s", body)
	}
	if code, _ := f.get(c, "/events/"+theirs.ID); code != http.StatusNotFound {
		t.Errorf("acme opening globex's event: %d, want 404", code)
	}
	for _, path := range []string{"/destinations", "/identity"} {
		if code, _ := f.get(c, path); code != http.StatusForbidden {
			t.Errorf("acme opening %s: %d, want 403", path, code)
		}
	}
	_, body = f.get(c, "/keys")
	if strings.Contains(body, "admin-1") {
		t.Errorf("acme's keys page lists admin keys")
	}
}

// post sends a form with the session's CSRF token and returns the status,
// the redirect and the body.
func (f *fixture) post(c *http.Client, path string, form url.Values) (int, string, string) {
	f.t.Helper()
	form.Set("csrf", f.csrf(c))
	resp, err := c.PostForm(f.srv.URL+path, form)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

func TestConnectStartsTheNormalFlowReturningToTheDashboard(t *testing.T) {
	f := newFixture(t, dashboard.Config{PublicURL: "https://relay.example"})
	c := f.browser()
	f.signIn(c, "acme")
	// An org key connects for its own org, whatever the form says.
	code, _, body := f.post(c, "/connections/connect", url.Values{"org": {"globex"}, "provider": {"github"}})
	if code != http.StatusOK || !strings.Contains(body, `href="https://relay.example/oauth/github/start?flow=f1" data-follow`) {
		t.Fatalf("connect: %d\n%s", code, body)
	}
	if want := []string{"acme github https://relay.example/connections"}; strings.Join(f.conns.started, ",") != want[0] {
		t.Errorf("flows started %q, want %q", f.conns.started, want)
	}
}

func TestBackfillsStartAndCancelFromTheDashboard(t *testing.T) {
	f := newFixture(t, dashboard.Config{})
	c := f.browser()
	f.signIn(c, "acme")
	if code, _, body := f.post(c, "/connections/con_1/backfills", url.Values{"depth_days": {"400"}}); code != http.StatusBadRequest {
		t.Errorf("a 400-day backfill: %d %s", code, body)
	}
	if code, loc, _ := f.post(c, "/connections/con_1/backfills", url.Values{"depth_days": {"7"}}); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/connections?") {
		t.Errorf("start: %d %q", code, loc)
	}
	if code, _, _ := f.post(c, "/connections/con_1/backfills/bf_1/cancel", url.Values{}); code != http.StatusSeeOther {
		t.Errorf("cancel: %d", code)
	}
	if got, want := strings.Join(f.backfills.calls, "; "), "start con_1 acme 7; cancel con_1 bf_1 acme"; got != want {
		t.Errorf("backfill calls %q, want %q", got, want)
	}
}

func TestOrgsKeysAndDestinationsFromTheDashboard(t *testing.T) {
	f := newFixture(t, dashboard.Config{})
	c := f.browser()
	f.signIn(c, "admin-1")
	if code, _, body := f.post(c, "/orgs", url.Values{"id": {"globex"}, "name": {"Globex <b>"}}); code != http.StatusSeeOther {
		t.Fatalf("create org: %d %s", code, body)
	}
	code, _, body := f.post(c, "/orgs/globex/api-keys", url.Values{"name": {"ci"}})
	m := regexp.MustCompile(`id="new-key">(rk_[0-9a-f]+)<`).FindStringSubmatch(body)
	if code != http.StatusOK || m == nil {
		t.Fatalf("create org key: %d %s", code, body)
	}
	k, err := f.store.FindAPIKey(context.Background(), relay.HashAPIKey(m[1]))
	if err != nil || k.OrgID != "globex" || k.Name != "ci" {
		t.Fatalf("the key shown is %+v %v", k, err)
	}
	if code, _, _ := f.post(c, "/keys/"+k.ID+"/revoke", url.Values{}); code != http.StatusSeeOther {
		t.Errorf("revoke: %d", code)
	}
	if _, err := f.store.FindAPIKey(context.Background(), k.Hash); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Errorf("the revoked key is still stored: %v", err)
	}

	code, _, body = f.post(c, "/destinations", url.Values{"name": {"app"}, "url": {"https://app.example/hook"}, "providers": {"github, linear"}})
	if code != http.StatusOK || !strings.Contains(body, "whsec_") {
		t.Fatalf("create destination: %d %s", code, body)
	}
	ds, _ := f.store.ListDestinations(context.Background())
	if len(ds) != 1 || strings.Join(ds[0].Providers, ",") != "github,linear" {
		t.Fatalf("destinations %+v", ds)
	}
	secret := ds[0].Secret
	if code, _, body := f.post(c, "/destinations/"+ds[0].ID, url.Values{"url": {"https://app.example/v2"}, "max_concurrency": {"4"}}); code != http.StatusSeeOther {
		t.Fatalf("edit destination: %d %s", code, body)
	}
	if code, _, _ := f.post(c, "/destinations/"+ds[0].ID+"/disabled", url.Values{"disabled": {"true"}}); code != http.StatusSeeOther {
		t.Fatalf("disable destination: %d", code)
	}
	got, _ := f.store.GetDestination(context.Background(), ds[0].ID)
	if got.URL != "https://app.example/v2" || got.MaxConcurrency != 4 || len(got.Providers) != 0 || !got.Disabled || got.Secret != secret {
		t.Errorf("after edit and disable: %+v", got)
	}

	// An org key can do none of it.
	o := f.browser()
	f.signIn(o, "acme")
	for _, path := range []string{"/orgs", "/orgs/acme/api-keys", "/destinations", "/destinations/" + ds[0].ID, "/deliveries/replay-dead"} {
		if code, _, _ := f.post(o, path, url.Values{"id": {"x"}, "name": {"x"}, "url": {"https://x.example"}}); code != http.StatusForbidden {
			t.Errorf("an org key posting to %s: %d, want 403", path, code)
		}
	}
	if code, _, _ := f.post(o, "/keys/"+f.keyIDs["admin-1"]+"/revoke", url.Values{}); code != http.StatusNotFound {
		t.Errorf("an org key revoking an admin key: %d, want 404", code)
	}
}

func TestSignInFromAnotherSiteIsRefused(t *testing.T) {
	f := newFixture(t, dashboard.Config{})
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/signin", strings.NewReader(url.Values{"api_key": {f.keys["admin-1"]}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	resp, err := f.browser().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Set-Cookie") != "" {
		t.Errorf("a cross-site sign-in answered %d with cookie %q", resp.StatusCode, resp.Header.Get("Set-Cookie"))
	}
}

func TestEventsPageByPage(t *testing.T) {
	f := newFixture(t, dashboard.Config{})
	var ids []string
	for range 55 {
		ids = append(ids, f.insertEvent("github", "", nil, `{}`).ID)
	}
	c := f.browser()
	f.signIn(c, "admin-1")
	_, body := f.get(c, "/events?provider=github")
	m := regexp.MustCompile(`href="(/events\?[^"]*cursor=[^"]+)">Older events`).FindStringSubmatch(body)
	if m == nil || !strings.Contains(body, ids[54]) || strings.Contains(body, ids[0]) {
		t.Fatalf("first page (no link to older events, or the wrong events):\n%s", body)
	}
	if !strings.Contains(body, `data-live="/events/rows?provider=github"`) {
		t.Errorf("the first page does not poll for new events with its filters")
	}
	_, body = f.get(c, strings.ReplaceAll(m[1], "&amp;", "&"))
	if !strings.Contains(body, ids[0]) || strings.Contains(body, ids[54]) || strings.Contains(body, "data-live") {
		t.Errorf("second page shows the wrong events or polls:\n%s", body)
	}
	_, rows := f.get(c, "/events/rows?provider=github&after="+ids[52])
	if strings.Count(rows, "<tr") != 2 || !strings.Contains(rows, ids[53]) || !strings.Contains(rows, ids[54]) {
		t.Errorf("rows after %s: %s", ids[52], rows)
	}
}

func TestStaticFilesAreServedWithoutAListing(t *testing.T) {
	f := newFixture(t, dashboard.Config{})
	c := f.browser()
	if code, body := f.get(c, "/static/live.js"); code != http.StatusOK || !strings.Contains(body, "data-live") {
		t.Errorf("live.js: %d", code)
	}
	if code, body := f.get(c, "/static/"); code == http.StatusOK && strings.Contains(body, "app.css") {
		t.Errorf("/static/ lists the files")
	}
}

func TestConnectionsRefreshThemselvesWhileABackfillRuns(t *testing.T) {
	f := newFixture(t, dashboard.Config{})
	ctx := context.Background()
	c, err := f.store.PairConnection(ctx, &relay.Connection{OrgID: "acme", Provider: "github", ExternalID: "4242", AccountName: "octo-org",
		Status: relay.ConnectionActive, CreatedAt: f.now, UpdatedAt: f.now})
	if err != nil {
		t.Fatal(err)
	}
	b := &relay.Backfill{ID: relay.NewID("bf", f.now), ConnectionID: c.ID, OrgID: "acme", Provider: "github", DepthDays: 7,
		EntityTypes: []string{"issues"}, Since: f.now.AddDate(0, 0, -7), Status: relay.BackfillRunning, CreatedAt: f.now}
	task := &relay.BackfillTask{ID: relay.NewID("bft", f.now), ResourceID: "r1", ResourceName: "octo-org/hello", EntityType: "issues", Status: relay.TaskRunning}
	if _, _, err := f.store.CreateBackfill(ctx, b, []*relay.BackfillTask{task}); err != nil {
		t.Fatal(err)
	}
	br := f.browser()
	f.signIn(br, "acme")
	_, body := f.get(br, "/connections")
	if !strings.Contains(body, `id="connections-live" data-refresh="/connections"`) || !strings.Contains(body, "issues octo-org/hello: ") ||
		!strings.Contains(body, `/backfills/`+b.ID+`/cancel"`) {
		t.Errorf("a running backfill's connection page does not refresh itself, show its task, or offer to cancel:\n%s", body)
	}
	if err := f.store.UpdateBackfillTask(ctx, task.ID, relay.TaskDone, "", false, f.now); err != nil {
		t.Fatal(err)
	}
	_, body = f.get(br, "/connections")
	if strings.Contains(body, "data-refresh") || !strings.Contains(body, "s-completed") {
		t.Errorf("a finished backfill's page still refreshes, or does not say it completed:\n%s", body)
	}
}
