package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/relayhq/relay"
	relayhttp "github.com/relayhq/relay/http"
	"github.com/relayhq/relay/simulator"
)

// The demo's fixed cast: one org, and in each simulator the account that
// org connects. The Bridge customer is one no connection knows: identity
// repair finds its email at Bridge and the Persona account with that email,
// whose reference-id is the org.
const (
	demoOrg            = "demo"
	demoGitHubInstall  = 4242
	demoGitHubRepo     = 1296269
	demoLinearOrg      = "org-linear-demo"
	demoLinearTeam     = "team-eng"
	demoSentryInstall  = "inst-uuid-demo"
	demoVercelConfig   = "icfg_demo"
	demoVercelProject  = "prj_web"
	demoBridgeCustomer = "cust-demo"
	demoPersonaAccount = "act_demo"
	demoEmail          = "ada@demo.test"
	// demoFlakyFor is how long the flaky destination answers 503 before it
	// recovers: long enough for a few retries to show, short enough that
	// its deliveries succeed within the first minute.
	demoFlakyFor = 5 * time.Second
)

// cmdDemo runs Relay with the built-in provider simulators, a local sink
// and a destination that fails for a while, connects every provider
// through its real connect flow, and streams signed webhooks until ctx
// ends. It returns an error when Relay or the set-up fails.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("relay demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address (port 0 picks a free port)")
	dataDir := fs.String("data-dir", "", "SQLite data directory to keep (default: a temporary one, removed on exit)")
	every := fs.Duration("every", time.Second, "how often each simulator sends a webhook")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: relay demo [--addr 127.0.0.1:8080] [--data-dir DIR]\n\nRuns Relay with simulated GitHub, Linear, Sentry, Vercel, Bridge and Persona\naccounts and a local destination, connects them, and streams webhooks until\nCtrl-C. Needs no configuration.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *every <= 0 {
		return errors.New("demo: --every must be positive")
	}
	listen, err := demoAddr(*addr)
	if err != nil {
		return err
	}
	dir := *dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "relay-demo-")
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("demo: --data-dir: %w", err)
	}

	d := newDemo()
	defer d.close()
	adminKey := relay.NewAPIKeySecret()
	cfgPath := filepath.Join(dir, "demo.yaml")
	if err := os.WriteFile(cfgPath, []byte(d.config(adminKey, "http://"+listen)), 0o600); err != nil {
		return fmt.Errorf("demo: %w", err)
	}

	// Relay runs as `relay serve` would, with an empty environment so that
	// nothing the shell holds (a RELAY_DATABASE_URL…) changes the demo.
	sctx, stopServe := context.WithCancel(ctx)
	defer stopServe()
	ready := newListenWatch()
	served := make(chan error, 1)
	go func() {
		served <- run(sctx, []string{"relay", "serve", "--addr", listen, "--data-dir", filepath.Join(dir, "data"), "--config", cfgPath},
			func(string) string { return "" }, strings.NewReader(""), ready, stderr)
	}()
	var base string
	select {
	case base = <-ready.url:
	case err := <-served:
		return fmt.Errorf("demo: relay serve: %v", err)
	case <-ctx.Done():
		return <-served
	}

	client := relayhttp.NewClient(base, adminKey)
	setupCtx, cancelSetup := context.WithTimeout(ctx, time.Minute)
	err = d.setUp(setupCtx, client, base)
	cancelSetup()
	if err != nil {
		stopServe()
		<-served
		return fmt.Errorf("demo: %w", err)
	}

	var streaming sync.WaitGroup
	streaming.Add(1)
	go func() { defer streaming.Done(); d.stream(sctx, base, *every, stderr) }()

	fmt.Fprintf(stdout, `Relay demo is running.

  Dashboard:  %[1]s/
  API:        %[1]s/api/v1/events   (OpenAPI: %[1]s/api/v1/openapi.yaml)
  Admin key:  %[2]s
  Connect page (GitHub, 30 minutes):  %[6]s

Try:  RELAY_URL=%[1]s RELAY_API_KEY=%[2]s relay events ls
Simulated GitHub, Linear, Sentry, Vercel, Bridge and Persona accounts are
connected to org %[3]q and send webhooks every %[4]s; destination "flaky"
fails for its first %[5]s and recovers. Ctrl-C stops everything.
`, base, adminKey, demoOrg, *every, demoFlakyFor, d.connectPage)

	err = <-served
	stopServe()
	streaming.Wait()
	if err != nil {
		return fmt.Errorf("demo: relay serve: %w", err)
	}
	return nil
}

// demoAddr returns addr with a free port in place of port 0: Relay's
// public URL, which the connect flows redirect to, must name the port
// before Relay starts.
func demoAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("demo: --addr: %w", err)
	}
	if port != "0" {
		return addr, nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// listenWatch is serve's standard output in the demo: it discards it but
// for the "listening on" line, whose URL it sends once on url.
type listenWatch struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	sent bool
	url  chan string
}

func newListenWatch() *listenWatch { return &listenWatch{url: make(chan string, 1)} }

func (w *listenWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sent {
		return len(p), nil
	}
	w.buf.Write(p)
	if m := demoListenRE.FindStringSubmatch(w.buf.String()); m != nil {
		w.sent = true
		w.url <- m[1]
		w.buf.Reset()
	}
	return len(p), nil
}

// demoListenRE finds the URL in serve's start-up line.
var demoListenRE = regexp.MustCompile(`listening on (http://[^ ]+)`)

// demo is the demo's simulated world: the six providers' simulators and
// the two destinations.
type demo struct {
	github  *simulator.GitHub
	linear  *simulator.Linear
	sentry  *simulator.Sentry
	vercel  *simulator.Vercel
	bridge  *simulator.Bridge
	persona *simulator.Persona

	githubSecret, linearSecret, destSecret string

	sink, flaky *http.Server
	sinkURL     string
	flakyURL    string
	flakyUntil  time.Time
	connectPage string       // a connect session's page, made by setUp
	received    atomic.Int64 // deliveries the sink verified
	seq         atomic.Int64 // numbers the webhooks' ids
}

// newDemo starts the simulators with the demo's accounts and history, and
// the two destinations on loopback.
func newDemo() *demo {
	d := &demo{
		github: simulator.NewGitHub(nil), linear: simulator.NewLinear(nil), sentry: simulator.NewSentry(nil),
		vercel: simulator.NewVercel(nil), bridge: simulator.NewBridge(nil), persona: simulator.NewPersona(nil),
		githubSecret: relay.NewSecret(), linearSecret: relay.NewSecret(), destSecret: relay.NewSecret(),
	}
	d.github.AddInstallation(simulator.GitHubInstallation{ID: demoGitHubInstall, Login: "octo-org",
		Repos: []simulator.GitHubRepo{{ID: demoGitHubRepo, FullName: "octo-org/hello-world"}, {ID: 7, FullName: "octo-org/api"}}})
	d.github.SeedHistory(10, 20*24*time.Hour) // a small history: the backfill completes in seconds
	d.linear.AddOrganization(simulator.LinearOrg{ID: demoLinearOrg, Name: "Demo", Teams: []simulator.LinearTeam{{ID: demoLinearTeam, Name: "Eng"}}})
	d.sentry.AddInstallation(simulator.SentryInstallation{UUID: demoSentryInstall, OrgSlug: "demo",
		Projects: []simulator.SentryProject{{ID: "1", Slug: "backend"}}})
	d.vercel.AddAccount(simulator.VercelAccount{ConfigurationID: demoVercelConfig, TeamID: "team_demo", UserID: "usr_demo",
		Projects: []simulator.VercelProject{{ID: demoVercelProject, Name: "web"}}})
	d.bridge.AddCustomer(simulator.BridgeCustomer{ID: demoBridgeCustomer, Email: demoEmail, FirstName: "Ada"})
	d.persona.AddAccount(simulator.PersonaAccount{ReferenceID: demoOrg, Email: demoEmail})

	wh, _ := standardwebhooks.NewWebhook(d.destSecret)
	d.flakyUntil = time.Now().Add(demoFlakyFor)
	d.sink, d.sinkURL = serveLoopback(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/connected" {
			// The demo app's return URL, where connect flows end.
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprintf(w, "Back at the demo app. The connect flow's result: %s\n", r.URL.RawQuery)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 32<<20))
		if err != nil || wh.Verify(body, r.Header) != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		d.received.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	d.flaky, d.flakyURL = serveLoopback(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if time.Now().Before(d.flakyUntil) {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	return d
}

// serveLoopback serves h on a free loopback port and returns the server
// and its URL. It panics when no port is free, as httptest does.
func serveLoopback(h http.Handler) (*http.Server, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("demo: listen: %v", err))
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv, "http://" + ln.Addr().String()
}

// close stops the simulators and the destinations.
func (d *demo) close() {
	for _, c := range []interface{ Close() }{d.github, d.linear, d.sentry, d.vercel, d.bridge, d.persona} {
		c.Close()
	}
	for _, s := range []*http.Server{d.sink, d.flaky} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.Shutdown(ctx)
		cancel()
	}
}

// config is Relay's configuration for the demo: every provider pointed at
// its simulator, identity repair for Bridge (customer email → Persona
// account) and Persona (the payload's reference-id), fast retries, and the
// two destinations.
func (d *demo) config(adminKey, publicURL string) string {
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(d.github.Key)})
	gh, lin, sen, ver, br, per := d.github, d.linear, d.sentry, d.vercel, d.bridge, d.persona
	return fmt.Sprintf(`admin_api_key: %q
public_url: %q
log_level: warn
connect: {allowed_return_origins: [%q]}
providers:
  github:
    webhook_secret: %q
    app_id: %q
    app_slug: %q
    client_id: %q
    client_secret: %q
    api_url: %q
    web_url: %q
    private_key: |
      %s
  linear: {webhook_secret: %q, client_id: %q, client_secret: %q, api_url: %q, web_url: %q}
  sentry: {client_secret: %q, client_id: %q, slug: %q, api_url: %q, web_url: %q}
  vercel: {client_secret: %q, client_id: %q, slug: %q, api_url: %q, web_url: %q}
  bridge: {webhook_public_keys: [%q], api_key: %q, api_url: %q}
  persona: {webhook_secrets: [%q], api_key: %q, api_url: %q}
resolve:
  sweep_interval: 1s
  resolvers:
    - {provider: bridge, type: bridge_customer}
    - {provider: bridge, type: persona_accounts_by_email}
    - {provider: persona, type: payload, path: "data.attributes.payload.data.attributes.reference-id", as: org_id}
delivery:
  retry_schedule: [1s, 1s, 2s, 2s, 2s, 2s, 5s, 30s, 5m]
destinations:
  - {name: app, url: %q, secret: %q, org_id: %s}
  - {name: flaky, url: %q, secret: %q, org_id: %s}
`, adminKey, publicURL, d.sinkURL,
		d.githubSecret, gh.AppID, gh.AppSlug, gh.ClientID, gh.ClientSecret, gh.URL(), gh.URL(),
		strings.ReplaceAll(strings.TrimSpace(string(keyPEM)), "\n", "\n      "),
		d.linearSecret, lin.ClientID, lin.ClientSecret, lin.URL(), lin.URL(),
		sen.ClientSecret, sen.ClientID, sen.Slug, sen.URL(), sen.URL(),
		ver.ClientSecret, ver.ClientID, ver.Slug, ver.URL(), ver.URL(),
		br.PublicKeyPEM(), br.APIKey, br.URL(),
		per.WebhookSecret, per.APIKey, per.URL(),
		d.sinkURL+"/webhooks", d.destSecret, demoOrg, d.flakyURL+"/webhooks", d.destSecret, demoOrg)
}

// setUp creates the org, connects GitHub, Linear, Sentry and Vercel
// through their connect flows, and starts a GitHub backfill. Bridge and
// Persona connect through identity repair once their webhooks arrive.
func (d *demo) setUp(ctx context.Context, client *relayhttp.Client, base string) error {
	// With a kept --data-dir the org exists from an earlier run.
	if _, err := client.CreateOrg(ctx, demoOrg, "Demo"); err != nil && relay.ErrorCode(err) != relay.ECONFLICT {
		return fmt.Errorf("create org: %w", err)
	}
	// The GitHub simulator's install page answers as a user who installs
	// the App on the demo's installation.
	d.github.SetSetupURL(base+"/oauth/github/callback", demoGitHubInstall, "install")
	flows := []struct {
		provider string
		// consent is what the user does on the provider's page: the URL
		// the provider sends the browser back to Relay with.
		consent func(authorizeURL string) (string, error)
	}{
		{"github", func(string) (string, error) { return "", nil }},
		{"linear", func(u string) (string, error) { return d.linear.Consent(u, demoLinearOrg) }},
		{"sentry", func(u string) (string, error) {
			return d.sentry.InstallRedirect(base+"/oauth/sentry/callback", stateOf(u), demoSentryInstall), nil
		}},
		{"vercel", func(u string) (string, error) {
			return d.vercel.InstallRedirect(base+"/oauth/vercel/callback", stateOf(u), demoVercelConfig), nil
		}},
	}
	var githubID string
	for _, f := range flows {
		id, err := d.connect(ctx, client, f.provider, f.consent)
		if err != nil {
			return fmt.Errorf("connect %s: %w", f.provider, err)
		}
		if f.provider == "github" {
			githubID = id
		}
	}
	if _, _, err := client.StartBackfill(ctx, githubID, 30, nil); err != nil {
		return fmt.Errorf("start backfill: %w", err)
	}
	// A connect page to try in a browser: the GitHub simulator's install
	// page installs at once and comes back.
	_, _, page, err := client.CreateConnectSession(ctx, demoOrg, []string{"github"}, d.sinkURL+"/connected")
	if err != nil {
		return fmt.Errorf("create connect session: %w", err)
	}
	d.connectPage = page
	return nil
}

// connect runs provider's connect flow for the demo org in a browser of
// its own (a cookie jar: the flow is bound to the browser that starts it)
// and returns the new connection's id. consent is what the user does on
// the provider's page: it returns the provider's redirect back to Relay,
// or "" when the provider's page redirects by itself.
func (d *demo) connect(ctx context.Context, client *relayhttp.Client, provider string, consent func(string) (string, error)) (string, error) {
	returnURL := d.sinkURL + "/connected"
	start, _, err := client.AuthorizeConnection(ctx, demoOrg, provider, returnURL)
	if err != nil {
		return "", err
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	authorize, err := redirectOf(ctx, browser, start)
	if err != nil {
		return "", err
	}
	back, err := consent(authorize)
	if err != nil {
		return "", err
	}
	if back == "" {
		if back, err = redirectOf(ctx, browser, authorize); err != nil {
			return "", err
		}
	}
	done, err := redirectOf(ctx, browser, back)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(done)
	if err != nil || !strings.HasPrefix(done, returnURL) {
		return "", fmt.Errorf("the flow ended at %s", done)
	}
	if q := u.Query(); q.Get("status") == "active" && q.Get("connection_id") != "" {
		return q.Get("connection_id"), nil
	}
	return "", fmt.Errorf("the flow ended with %s", u.RawQuery)
}

// redirectOf fetches u with browser and returns where it redirects to.
func redirectOf(ctx context.Context, browser *http.Client, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := browser.Do(req)
	if err != nil {
		return "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || resp.StatusCode/100 != 3 {
		return "", fmt.Errorf("%s answered %d, not a redirect", u, resp.StatusCode)
	}
	return loc.String(), nil
}

// stateOf returns the state parameter of an authorize URL.
func stateOf(authorizeURL string) string {
	u, err := url.Parse(authorizeURL)
	if err != nil {
		return ""
	}
	return u.Query().Get("state")
}

// stream sends one signed webhook from each simulator every interval until
// ctx ends. A refused webhook is reported on stderr and streaming goes on.
func (d *demo) stream(ctx context.Context, base string, every time.Duration, stderr io.Writer) {
	client := &http.Client{Timeout: 10 * time.Second}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		d.sendAll(ctx, client, base, logger)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// sendAll sends one webhook of each provider.
func (d *demo) sendAll(ctx context.Context, client *http.Client, base string, logger *slog.Logger) {
	n := d.seq.Add(1)
	now := time.Now()
	id := strconv.FormatInt(n, 10)
	actions := []string{"opened", "edited", "labeled", "closed"}
	gh := simulator.GitHubIssuesPayload(demoGitHubInstall, demoGitHubRepo, actions[n%int64(len(actions))])
	lin, linH := d.linear.IssueWebhook(demoLinearOrg, demoLinearTeam, "issue-"+id, now)
	linH.Set("Linear-Delivery", "lin-demo-"+id+"-"+strconv.FormatInt(now.UnixNano(), 36))
	sen := simulator.SentryIssuePayload(demoSentryInstall, strconv.FormatInt(100000+n, 10))
	ver, verH := d.vercel.DeploymentWebhook(demoVercelConfig, "evt_demo_"+id+"_"+strconv.FormatInt(now.UnixNano(), 36), demoVercelProject)
	br := simulator.BridgeCustomerEvent("wh_demo_"+id+"_"+strconv.FormatInt(now.UnixNano(), 36), demoBridgeCustomer, "customer.updated")
	per := simulator.PersonaEvent("evt_demo_"+id+"_"+strconv.FormatInt(now.UnixNano(), 36), "inquiry.approved", demoPersonaAccount, demoOrg)
	hooks := []struct {
		provider string
		body     []byte
		header   http.Header
	}{
		{"github", gh, simulator.GitHubWebhook(d.githubSecret, "issues", fmt.Sprintf("gh-demo-%s-%d", id, now.UnixNano()), gh)},
		{"linear", lin, linH},
		{"sentry", sen, simulator.SentryWebhook(d.sentry.ClientSecret, "issue", sen, now)},
		{"vercel", ver, verH},
		{"bridge", br, d.bridge.Webhook(br, now)},
		{"persona", per, d.persona.Webhook(per, now)},
	}
	for _, h := range hooks {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/webhooks/"+h.provider, bytes.NewReader(h.body))
		if err != nil {
			return
		}
		req.Header = h.header
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				logger.Warn("demo webhook failed", "provider", h.provider, "err", err)
			}
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
			logger.Warn("demo webhook refused", "provider", h.provider, "status", resp.StatusCode)
		}
	}
}
