package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/internal/apispec"
	"github.com/relayhq/relay/simulator"
	"github.com/relayhq/relay/storetest"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Secrets of the test configuration.
const (
	testAdminKey    = "rk_test_admin_key_0123456789abcdef"
	testGitHub      = "gh-secret"
	testLinear      = "lin-secret"
	testSentry      = "sentry-secret"
	testVercel      = "vercel-secret"
	testBilling     = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	testAcme        = "acme-secret"
	testDestination = "whsec_c2luay1zZWNyZXQtc2luay1zZWNyZXQtc2luay0xMjM0"
)

// syncBuffer is an io.Writer safe to read while run writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// collector is a destination that records what it receives.
type collector struct {
	*httptest.Server
	mu    sync.Mutex
	got   []delivered
	code  int
	delay time.Duration // answer this late (the client may give up first)
}

type delivered struct {
	code   int // what the collector answered
	header http.Header
	body   []byte
	env    map[string]any
}

func newCollector(t *testing.T) *collector {
	c := &collector{code: 200}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var env map[string]any
		_ = json.Unmarshal(body, &env)
		if err := apispec.CheckEnvelope(apiDoc, body); err != nil {
			t.Errorf("delivered envelope not allowed by openapi.yaml: %v", err)
		}
		c.mu.Lock()
		delay := c.delay
		c.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return // the sender gave up: nothing was delivered
			}
		}
		c.mu.Lock()
		code := c.code
		c.got = append(c.got, delivered{code: code, header: r.Header.Clone(), body: body, env: env})
		c.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *collector) all() []delivered {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]delivered(nil), c.got...)
}

// relayProcess is `relay serve` running in-process through run().
type relayProcess struct {
	url    string
	stdout *syncBuffer
	stderr *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

var listenRE = regexp.MustCompile(`listening on (http://[^ ]+)`)

// startRelay runs `relay serve` on a free port with the given config file
// and environment, and waits until /readyz answers.
func startRelay(t *testing.T, configYAML string, env map[string]string) *relayProcess {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "relay.yaml")
	if err := os.WriteFile(cfgPath, []byte(configYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string { return env[k] }
	ctx, cancel := context.WithCancel(context.Background())
	p := &relayProcess{stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	args := []string{"relay", "serve", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), "--config", cfgPath}
	go func() { p.done <- run(ctx, args, getenv, strings.NewReader(""), p.stdout, p.stderr) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := listenRE.FindStringSubmatch(p.stdout.String()); m != nil {
			p.url = m[1]
			break
		}
		select {
		case err := <-p.done:
			t.Fatalf("relay serve exited early: %v\nstdout: %s\nstderr: %s", err, p.stdout, p.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("relay serve did not start\nstdout: %s\nstderr: %s", p.stdout, p.stderr)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Cleanup(func() { p.stop(t) })
	checkAPISpec(t, p.url)
	return p
}

func (p *relayProcess) stop(t *testing.T) {
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.cancel = nil
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("relay serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("relay serve did not stop within 30s")
	}
}

func post(t *testing.T, url string, header http.Header, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func apiGet(t *testing.T, url string, v any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+testAdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// metricValue reads one sample from /metrics ("" labels = the bare name).
func metricValue(t *testing.T, base, series string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, _ := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v
		}
	}
	return 0
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // generous: -race on a busy 2-core machine
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitSettled waits until the relay has nothing left to send: no delivery
// pending or retrying and none held in memory (queued or being sent).
// From then on a destination receives nothing more unless something new
// is ingested, so a test asserting that nothing more arrived can look now.
func waitSettled(t *testing.T, base string) {
	t.Helper()
	waitUntil(t, "every delivery settled", func() bool {
		for _, status := range []string{relay.DeliveryPending, relay.DeliveryRetrying} {
			var page relay.Page[*relay.Delivery]
			if code := apiGet(t, base+"/api/v1/deliveries?limit=1&status="+status, &page); code != 200 || len(page.Items) > 0 {
				return false
			}
		}
		return metricValue(t, base, "relay_delivery_in_memory") == 0
	})
}

func e2eConfig(sinkURL string) string {
	return fmt.Sprintf(`
admin_api_key: %q
log_level: warn
ingest:
  max_body_bytes: 65536
providers:
  github: {webhook_secret: %q}
  linear: {webhook_secret: %q}
  sentry: {client_secret: %q}
  vercel: {client_secret: %q}
sources:
  - {name: billing, scheme: standard-webhooks, secret: %q}
  - {name: acme, scheme: hmac-sha256, header: X-Acme-Signature, secret: %q}
destinations:
  - {name: app, url: %q, secret: %q}
`, testAdminKey, testGitHub, testLinear, testSentry, testVercel, testBilling, testAcme, sinkURL, testDestination)
}

// webhookCase is one correctly signed webhook of one provider or source.
type webhookCase struct {
	name      string
	path      string
	header    http.Header
	body      []byte
	eventType string
}

func validWebhooks(now time.Time) []webhookCase {
	gh := simulator.GitHubIssuesPayload(4242, 1296269, "opened")
	lin := simulator.LinearIssuePayload("org-linear-1", "team-1", "issue-1", now)
	sen := simulator.SentryIssuePayload("inst-uuid-1", "1001")
	ver := simulator.VercelDeploymentPayload("evt_vercel_1", "team_1", "prj_1")
	bill := []byte(`{"type":"invoice.paid","data":{"id":"in_1"}}`)
	acme := []byte(`{"id":"acme-1","type":"order.created"}`)
	return []webhookCase{
		{"github", "/webhooks/github", simulator.GitHubWebhook(testGitHub, "issues", "72d3162e-cc78-11e3-81ab-4c9367dc0958", gh), gh, "issues.opened"},
		{"linear", "/webhooks/linear", simulator.LinearWebhook(testLinear, lin, ""), lin, "Issue.create"},
		{"sentry", "/webhooks/sentry", simulator.SentryWebhook(testSentry, "issue", sen, now), sen, "issue.created"},
		{"vercel", "/webhooks/vercel", simulator.VercelWebhook(testVercel, ver), ver, "deployment.created"},
		{"billing", "/webhooks/billing", simulator.StandardWebhook(testBilling, "msg_billing_1", now, bill), bill, "invoice.paid"},
		{"acme", "/webhooks/acme", simulator.HMACWebhook("X-Acme-Signature", "", testAcme, acme), acme, "order.created"},
	}
}

// Acceptance 2: every provider's valid webhook → 202 and exactly one signed
// delivery; the same delivery again → 200 and no second delivery.
func TestWebhooksAreDeliveredOnce(t *testing.T) {
	testWebhooksAreDeliveredOnce(t, nil)
}

// The same on PostgreSQL: one suite of behaviour, both backends.
func TestWebhooksAreDeliveredOncePostgres(t *testing.T) {
	testWebhooksAreDeliveredOnce(t, map[string]string{"RELAY_DATABASE_URL": storetest.PostgresSchemaURL(t)})
}

func testWebhooksAreDeliveredOnce(t *testing.T, env map[string]string) {
	sink := newCollector(t)
	p := startRelay(t, e2eConfig(sink.URL), env)
	wh, err := standardwebhooks.NewWebhook(testDestination)
	if err != nil {
		t.Fatal(err)
	}
	cases := validWebhooks(time.Now())
	for i, c := range cases {
		code, body := post(t, p.url+c.path, c.header, c.body)
		if code != http.StatusAccepted {
			t.Fatalf("%s: got %d %s, want 202", c.name, code, body)
		}
		waitUntil(t, c.name+" delivery", func() bool { return len(sink.all()) == i+1 })
		d := sink.all()[i]
		if err := wh.Verify(d.body, d.header); err != nil {
			t.Fatalf("%s: delivery signature does not verify: %v", c.name, err)
		}
		if d.env["provider"] != c.name || d.env["event_type"] != c.eventType || d.env["source"] != "live" {
			t.Fatalf("%s: envelope %v", c.name, d.env)
		}
		if d.header.Get("webhook-id") != d.env["id"] {
			t.Fatalf("%s: webhook-id %q differs from envelope id %v", c.name, d.header.Get("webhook-id"), d.env["id"])
		}
		var payload, sent any
		_ = json.Unmarshal(c.body, &sent)
		b, _ := json.Marshal(d.env["payload"])
		_ = json.Unmarshal(b, &payload)
		if fmt.Sprint(payload) != fmt.Sprint(sent) {
			t.Fatalf("%s: payload changed in the envelope", c.name)
		}

		// The provider redelivers: acknowledged as a duplicate, not delivered again.
		code, body = post(t, p.url+c.path, c.header, c.body)
		if code != http.StatusOK || !strings.Contains(body, `"duplicate":true`) {
			t.Fatalf("%s redelivered: got %d %s, want 200 duplicate", c.name, code, body)
		}
	}
	// Let any stray second delivery arrive before counting: the metric of
	// attempts settles once every delivery is recorded.
	waitUntil(t, "attempts recorded", func() bool {
		return metricValue(t, p.url, `relay_delivery_attempts_total{outcome="success"}`) == float64(len(cases))
	})
	if n := len(sink.all()); n != len(cases) {
		t.Fatalf("sink got %d deliveries, want %d", n, len(cases))
	}
	if v := metricValue(t, p.url, `relay_ingest_duplicates_total{provider="github"}`); v != 1 {
		t.Fatalf("duplicates metric for github = %v, want 1", v)
	}
	// The attempt metric is counted when an outcome is queued for the
	// store, a moment before the store records it: poll the API.
	var page struct {
		Items []map[string]any `json:"items"`
	}
	code := 0
	waitUntil(t, "every event listed as succeeded", func() bool {
		page.Items = nil
		code = apiGet(t, p.url+"/api/v1/events?status=succeeded", &page)
		return code != 200 || len(page.Items) >= len(cases)
	})
	if code != 200 || len(page.Items) != len(cases) {
		t.Fatalf("events list: %d, %d items", code, len(page.Items))
	}
}

// Acceptance 3: bad input gets the right code, nothing is stored or
// delivered, and a metric counts each.
func TestBadWebhooksAreRejected(t *testing.T) {
	sink := newCollector(t)
	p := startRelay(t, e2eConfig(sink.URL), nil)
	now := time.Now()
	gh := simulator.GitHubIssuesPayload(4242, 1296269, "opened")
	good := simulator.GitHubWebhook(testGitHub, "issues", "d-1", gh)
	wrong := simulator.GitHubWebhook("not-the-secret", "issues", "d-2", gh)
	missing := simulator.GitHubWebhook(testGitHub, "issues", "d-3", gh)
	missing.Del("X-Hub-Signature-256")
	staleLinear := simulator.LinearIssuePayload("org-1", "team-1", "issue-9", now.Add(-10*time.Minute))
	bill := []byte(`{"type":"invoice.paid"}`)
	big := append(append([]byte(`{"pad":"`), bytes.Repeat([]byte("x"), 70000)...), '"', '}')
	notJSON := []byte(`{"action": "opened", `)

	cases := []struct {
		name   string
		path   string
		header http.Header
		body   []byte
		code   int
		series string
	}{
		{"wrong signature", "/webhooks/github", wrong, gh, 401, `relay_ingest_requests_total{outcome="unverified",provider="github"}`},
		{"missing signature", "/webhooks/github", missing, gh, 401, `relay_ingest_requests_total{outcome="unverified",provider="github"}`},
		{"stale linear", "/webhooks/linear", simulator.LinearWebhook(testLinear, staleLinear, ""), staleLinear, 401, `relay_ingest_requests_total{outcome="unverified",provider="linear"}`},
		{"stale standard webhook", "/webhooks/billing", simulator.StandardWebhook(testBilling, "msg_old", now.Add(-time.Hour), bill), bill, 401, `relay_ingest_requests_total{outcome="unverified",provider="billing"}`},
		{"tampered body", "/webhooks/github", good, append([]byte(" "), gh...), 401, `relay_ingest_requests_total{outcome="unverified",provider="github"}`},
		{"too large", "/webhooks/github", simulator.GitHubWebhook(testGitHub, "issues", "d-4", big), big, 413, `relay_ingest_requests_total{outcome="too_large",provider="github"}`},
		{"malformed JSON", "/webhooks/github", simulator.GitHubWebhook(testGitHub, "issues", "d-5", notJSON), notJSON, 400, `relay_ingest_requests_total{outcome="invalid",provider="github"}`},
		{"unknown provider", "/webhooks/nope", good, gh, 404, `relay_ingest_requests_total{outcome="unknown_provider",provider=""}`},
	}
	for _, c := range cases {
		before := metricValue(t, p.url, c.series)
		code, body := post(t, p.url+c.path, c.header, c.body)
		if code != c.code {
			t.Errorf("%s: got %d %s, want %d", c.name, code, body, c.code)
			continue
		}
		if !strings.Contains(body, `"error"`) {
			t.Errorf("%s: body %s has no error", c.name, body)
		}
		if after := metricValue(t, p.url, c.series); after != before+1 {
			t.Errorf("%s: metric %s went %v → %v, want +1", c.name, c.series, before, after)
		}
	}
	if v := metricValue(t, p.url, `relay_ingest_verification_failures_total{provider="github"}`); v != 3 {
		t.Errorf("verification failures for github = %v, want 3", v)
	}
	var page struct {
		Items []map[string]any `json:"items"`
	}
	if code := apiGet(t, p.url+"/api/v1/events", &page); code != 200 || len(page.Items) != 0 {
		t.Fatalf("events stored after bad input: %d items", len(page.Items))
	}
	// A valid one still goes through (and is the only delivery).
	if code, body := post(t, p.url+"/webhooks/github", good, gh); code != 202 {
		t.Fatalf("valid after bad: %d %s", code, body)
	}
	waitUntil(t, "one delivery", func() bool { return len(sink.all()) == 1 })
}

func TestAPIRequiresKey(t *testing.T) {
	sink := newCollector(t)
	p := startRelay(t, e2eConfig(sink.URL), nil)
	for _, auth := range []string{"", "Bearer wrong", "Basic abc"} {
		req, _ := http.NewRequest(http.MethodGet, p.url+"/api/v1/events", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("auth %q: %d, want 401", auth, resp.StatusCode)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(p.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
	}
}

// First start on an empty database prints a new admin key once; it works,
// and a restart on the same data does not print another.
func TestFirstStartCreatesAdminKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // t.TempDir is 0755: Relay refuses it as a data dir
	start := func() (*syncBuffer, context.CancelFunc, chan error, string) {
		out := &syncBuffer{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"relay", "serve", "--addr", "127.0.0.1:0", "--data-dir", dir},
				func(string) string { return "" }, strings.NewReader(""), out, io.Discard)
		}()
		var url string
		waitUntil(t, "listening", func() bool {
			m := listenRE.FindStringSubmatch(out.String())
			if m != nil {
				url = m[1]
			}
			return m != nil
		})
		return out, cancel, done, url
	}
	out, cancel, done, url := start()
	key := regexp.MustCompile(`rk_[0-9a-f]{64}`).FindString(out.String())
	if key == "" {
		t.Fatalf("no admin key printed:\n%s", out)
	}
	req, _ := http.NewRequest(http.MethodGet, url+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("printed key rejected: %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	out2, cancel2, done2, _ := start()
	if strings.Contains(out2.String(), "rk_") {
		t.Fatalf("second start printed a key again:\n%s", out2)
	}
	cancel2()
	if err := <-done2; err != nil {
		t.Fatal(err)
	}
}
