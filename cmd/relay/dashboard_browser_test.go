package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/relayhq/relay/simulator"
	"github.com/relayhq/relay/storetest"
)

// chromiumPath returns the Chromium (or Chrome) binary the browser tests
// drive, skipping the test with what to install when there is none.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium found for the dashboard's browser tests: install it with `apt-get install chromium chromium-driver`")
	return ""
}

// newChromium starts a headless Chromium with a fresh profile, which
// reaches publicHost (Relay's public URL's host, plain HTTP) at addr, as DNS
// and a proxy would; it returns a context for its first tab, and the browser
// is closed when the test ends.
func newChromium(t *testing.T, publicHost, addr string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.Flag("host-resolver-rules", "MAP "+publicHost+" "+addr),
		chromedp.Flag("disable-features", "HttpsUpgrades,HttpsFirstBalancedModeAutoEnable"),
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// tab returns a new tab in a browser context of its own (no cookies shared
// with other tabs), with a timeout so a stuck page fails the test.
func tab(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	// A script that got to run would open a dialog or set window.__xss.
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext(), chromedp.WithListener(func(ev any) {
		if d, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			t.Errorf("a page opened a JavaScript dialog: %q", d.Message)
		}
	}))
	if err := chromedp.Do(ctx); err != nil { // opens the tab
		t.Fatalf("opening a tab: %v", err)
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel() })
	return ctx
}

// do runs browser steps, failing the test with what was being done.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
}

// get runs a browser action and returns its value, failing the test with
// what was being done.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
	return v
}

// location returns the tab's URL, or "" while it cannot be read: polled
// during a chain of redirects, the page being inspected may be replaced
// under the read (CDP "Inspected target navigated or closed").
func location(ctx context.Context) string {
	v, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return ""
	}
	return v
}

// signIn signs the tab in to the dashboard at base with key.
func signIn(t *testing.T, ctx context.Context, base, key string) {
	t.Helper()
	do(t, ctx, "sign in",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("api_key")),
		chromedp.SendKeys(chromedp.ID("api_key"), key),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("who")),
	)
}

// screenshot saves the tab's full page as name.png in dir and logs where.
func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png := get(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of %s: %s", name, path)
}

// xssPayload is a GitHub issues webhook for installation 4242 whose title
// tries both a script element and an attribute break-out.
const xssTitle = `<script>window.__xss=1;alert(1)</script>"><img src=x onerror="window.__xss=2;alert(2)">`

// The dashboard in a real browser: sign in, watch an event arrive without
// a reload, open it (an XSS payload renders as text), replay it and see the
// new attempt; a POST without the CSRF token is refused; org keys see only
// their org.
func TestDashboardInBrowser(t *testing.T) { testDashboardInBrowser(t, nil) }

// The same on PostgreSQL.
func TestDashboardInBrowserPostgres(t *testing.T) {
	testDashboardInBrowser(t, map[string]string{"RELAY_DATABASE_URL": storetest.PostgresSchemaURL(t)})
}

func testDashboardInBrowser(t *testing.T, env map[string]string) {
	chromiumPath(t) // skip before starting anything when there is no browser
	shots, err := os.MkdirTemp("", "relay-dashboard-screenshots-")
	if err != nil {
		t.Fatal(err)
	}
	sim := simulator.NewGitHub(nil)
	defer sim.Close()
	sim.AddInstallation(simulator.GitHubInstallation{ID: 4242, Login: "octo-org",
		Repos: []simulator.GitHubRepo{{ID: 1296269, FullName: "octo-org/hello"}}})
	sink := newCollector(t)
	relayP := startRelay(t, fmt.Sprintf(`
admin_api_key: %q
public_url: http://relay.example
connect: {allowed_return_origins: ["https://app.example"]}
log_level: warn
providers:
  github:
    webhook_secret: %q
%s
destinations:
  - {name: app, url: %q, secret: %q}
`, testAdminKey, testGitHub, githubAppYAML(sim), sink.URL, testDestination), env)
	base := relayP.url // for the API and webhooks
	// The browser uses Relay's public URL, where connect flows return.
	const pub = "http://relay.example"
	browser := newChromium(t, "relay.example", strings.TrimPrefix(base, "http://"))
	if !strings.Contains(relayP.stdout.String(), "Dashboard: "+base+"/") { // the address it listens on
		t.Errorf("start-up output does not print the dashboard's URL:\n%s", relayP.stdout)
	}
	keyOf := map[string]string{}
	for _, org := range []string{"acme", "globex"} {
		if code := apiCall(t, "POST", base+"/api/v1/orgs", testAdminKey, map[string]string{"id": org, "name": org}, nil); code != 201 {
			t.Fatalf("create org %s: %d", org, code)
		}
		var k struct {
			Key string `json:"key"`
		}
		if code := apiCall(t, "POST", base+"/api/v1/orgs/"+org+"/api-keys", testAdminKey, map[string]string{"name": org + " dashboard"}, &k); code != 201 {
			t.Fatalf("org key for %s: %d", org, code)
		}
		keyOf[org] = k.Key
	}
	admin := tab(t, browser)
	signIn(t, admin, pub, testAdminKey)

	// Connect from the dashboard: the normal flow, through the provider's
	// install page (which installs at once), back to the Connections page.
	connect := func(org string, installation int64, repo string) {
		t.Helper()
		sim.SetSetupURL(pub+"/oauth/github/callback", installation, "install")
		do(t, admin, "connect "+org+"'s GitHub", chromedp.Navigate(pub+"/connections"),
			chromedp.SetValue(chromedp.CSS(`select[name=org]`), org), chromedp.Click(chromedp.ID("connect")))
		waitUntil(t, "the connect flow back on Connections", func() bool {
			return strings.HasPrefix(location(admin), pub+"/connections?")
		})
		do(t, admin, "see the result", chromedp.WaitVisible(chromedp.CSS(".flash")))
		if flash := get(t, admin, "read the result", chromedp.Text(chromedp.CSS(".flash"))); !strings.Contains(flash, "Connected: con_") {
			t.Errorf("after the connect flow the dashboard says %q", flash)
		}
		if text := get(t, admin, "read Connections", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(text, "Org "+org) || !strings.Contains(text, repo) {
			t.Errorf("Connections does not show %s's new connection:\n%s", org, text)
		}
	}
	connect("acme", 4242, "octo-org/hello")
	do(t, admin, "open Events", chromedp.Navigate(pub+"/events"), chromedp.WaitReady(chromedp.ID("event-rows")))

	// A webhook sent now shows up on the open Events page by itself.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // the markup arrives as providers send it, unescaped
	_ = enc.Encode(map[string]any{"action": "opened", "installation": map[string]any{"id": 4242},
		"repository": map[string]any{"id": 1296269, "full_name": "octo-org/hello"},
		"issue":      map[string]any{"number": 1, "title": xssTitle}})
	body := bytes.TrimSpace(buf.Bytes())
	code, answer := post(t, base+"/webhooks/github", simulator.GitHubWebhook(testGitHub, "issues", "dash-xss-1", body), body)
	if code != 202 {
		t.Fatalf("webhook: %d %s", code, answer)
	}
	var accepted struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(answer), &accepted); err != nil || accepted.ID == "" {
		t.Fatalf("webhook answer %s", answer)
	}
	row := fmt.Sprintf(`tr[data-id=%q]`, accepted.ID)
	do(t, admin, "see the event arrive live", chromedp.WaitVisible(chromedp.CSS(row)))
	waitUntil(t, "the event delivered", func() bool { return len(sink.all()) >= 1 })

	// Open it: the payload is shown, as text.
	do(t, admin, "open the event", chromedp.Click(chromedp.CSS(row+` a.mono`)), chromedp.WaitVisible(chromedp.ID("payload")))
	payload := get(t, admin, "read the payload", chromedp.Text(chromedp.ID("payload")))
	imgs := get(t, admin, "count images", chromedp.Evaluate[int](`document.querySelectorAll("main img").length`))
	xss := get(t, admin, "look for the script's mark", chromedp.Evaluate[bool](`window.__xss !== undefined`))
	if !strings.Contains(payload, `<script>window.__xss=1`) || !strings.Contains(payload, `"><img src=x onerror=`) {
		t.Errorf("the payload is not shown as text: %q", payload)
	}
	if imgs != 0 || xss {
		t.Errorf("the payload was rendered as markup: %d img elements, script ran: %v", imgs, xss)
	}
	attempts := func() int {
		do(t, admin, "reload the event", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("payload")))
		return get(t, admin, "count attempts", chromedp.Evaluate[int](`document.querySelectorAll("tr.attempt").length`))
	}
	waitUntil(t, "the first attempt shown", func() bool { return attempts() == 1 })
	screenshot(t, admin, shots, "event")

	// A POST without the CSRF token is refused, even from a signed-in tab.
	status := get(t, admin, "POST without a CSRF token", chromedp.Evaluate[int](
		fmt.Sprintf(`fetch("/events/%s/replay", {method: "POST", body: new URLSearchParams({x: "1"})}).then(r => r.status)`, accepted.ID),
		chromedp.EvalAwaitPromise))
	if status != 403 {
		t.Errorf("a POST without a CSRF token answered %d, want 403", status)
	}
	if got := attempts(); got != 1 {
		t.Errorf("after the refused POST the event shows %d attempts, want 1", got)
	}

	// Replay: a new attempt appears.
	do(t, admin, "replay", chromedp.Click(chromedp.ID("replay")), chromedp.WaitVisible(chromedp.CSS(".flash")))
	waitUntil(t, "the replay's attempt shown", func() bool { return attempts() == 2 })
	if n := len(sink.all()); n != 2 {
		t.Errorf("the sink received %d deliveries, want 2 (the first and the replay)", n)
	}

	do(t, admin, "open Overview", chromedp.Navigate(pub+"/"), chromedp.WaitVisible(chromedp.ID("queue-depth")))
	screenshot(t, admin, shots, "overview")
	sim.AddInstallation(simulator.GitHubInstallation{ID: 5151, Login: "globex-gh",
		Repos: []simulator.GitHubRepo{{ID: 77, FullName: "globex-gh/site"}}})
	connect("globex", 5151, "globex-gh/site")
	// A backfill started here shows its tasks and its end on Connections
	// (which refreshes itself while one runs).
	do(t, admin, "start a backfill", chromedp.Navigate(pub+"/connections"),
		chromedp.Click(chromedp.CSS(`tr[data-connection]:last-child form[action$="/backfills"] button`)),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	do(t, admin, "see the backfill complete", chromedp.WaitVisible(chromedp.CSS(`.backfill .status.s-completed`)))
	if text := get(t, admin, "read the backfill", chromedp.Text(chromedp.CSS(".backfill"))); !strings.Contains(text, "done") {
		t.Errorf("the backfill's tasks are not shown: %q", text)
	}
	screenshot(t, admin, shots, "connections")
	do(t, admin, "phone width", chromedp.EmulateViewport(390, 844), chromedp.Navigate(pub+"/events"),
		chromedp.WaitVisible(chromedp.CSS(row)))
	screenshot(t, admin, shots, "events-phone")

	// Org keys: acme sees its event; globex sees neither it nor admin pages.
	acme := tab(t, browser)
	signIn(t, acme, pub, keyOf["acme"])
	do(t, acme, "acme's Events", chromedp.Navigate(pub+"/events"), chromedp.WaitVisible(chromedp.CSS(row)))
	globex := tab(t, browser)
	signIn(t, globex, pub, keyOf["globex"])
	do(t, globex, "globex's Events", chromedp.Navigate(pub+"/events"), chromedp.WaitReady(chromedp.ID("event-rows")))
	if rows := get(t, globex, "count globex's events", chromedp.Evaluate[int](`document.querySelectorAll("#event-rows tr").length`)); rows != 0 {
		t.Errorf("globex's Events page lists %d events of other orgs", rows)
	}
	do(t, globex, "globex opens acme's event", chromedp.Navigate(pub+"/events/"+accepted.ID))
	if text := get(t, globex, "read the page", chromedp.Text(chromedp.CSS("main"))); strings.Contains(text, "dash-xss-1") || strings.Contains(text, "window.__xss") {
		t.Errorf("globex opened acme's event: %s", text)
	}
	// With JavaScript off the pages still read (and forms still post).
	noJS := tab(t, browser)
	do(t, noJS, "turn JavaScript off", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
	signIn(t, noJS, pub, testAdminKey)
	do(t, noJS, "Events without JavaScript", chromedp.Navigate(pub+"/events"), chromedp.WaitVisible(chromedp.CSS(row)),
		chromedp.Click(chromedp.CSS(row+` a.mono`)), chromedp.WaitVisible(chromedp.ID("payload")))
	if n := get(t, noJS, "count attempts without JavaScript", chromedp.Text(chromedp.CSS(".delivery .hint"))); !strings.Contains(n, "2 attempt(s)") {
		t.Errorf("without JavaScript the event shows %q, want its 2 attempts", n)
	}

	do(t, globex, "globex's Destinations", chromedp.Navigate(pub+"/destinations"))
	if text := get(t, globex, "read the page", chromedp.Text(chromedp.CSS("main"))); strings.Contains(text, sink.URL) {
		t.Errorf("an org key sees the destinations page: %s", text)
	}
}
