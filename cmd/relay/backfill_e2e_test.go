package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/simulator"
)

// historySim is what the backfill tests need of a provider simulator.
type historySim interface {
	SeedHistory(perResource int, span time.Duration)
	History(resourceID, entity string) []simulator.HistoryItem
}

// expectedBackfill returns the delivery ids a backfill b must import: every
// seeded item of every (resource, entity) updated inside its window.
func expectedBackfill(sim historySim, b *relay.Backfill, resources []string) map[string]bool {
	want := map[string]bool{}
	for _, r := range resources {
		for _, et := range b.EntityTypes {
			for _, it := range sim.History(r, et) {
				if !it.UpdatedAt.Before(b.Since) && !it.UpdatedAt.After(b.CreatedAt) {
					want[relay.BackfillDeliveryID(et, it.ID, it.UpdatedAt)] = true
				}
			}
		}
	}
	return want
}

// runBackfill starts a 30-day backfill of the connection through the API,
// waits for it to complete and for its events to reach sink, and checks
// that sink got every expected item exactly once and nothing else.
func runBackfill(t *testing.T, base, connID string, sim historySim, resources []string, sink *collector) *relay.Backfill {
	t.Helper()
	var b relay.Backfill
	if code := apiCall(t, "POST", base+"/api/v1/connections/"+connID+"/backfills", testAdminKey,
		map[string]any{"depth_days": 30}, &b); code != 201 {
		t.Fatalf("start backfill: %d %+v", code, b)
	}
	var again relay.Backfill
	if code := apiCall(t, "POST", base+"/api/v1/connections/"+connID+"/backfills", testAdminKey,
		map[string]any{"depth_days": 30}, &again); code != 200 && again.ID != b.ID {
		// Finished already (a small history): a new run is allowed then.
		if again.Status == relay.BackfillCompleted {
			t.Fatalf("idempotent start: %d %s vs %s", code, again.ID, b.ID)
		}
	}
	return checkBackfill(t, base, connID, &b, sim, resources, sink)
}

// checkBackfill waits for backfill b of the connection to complete and
// for its events to reach sink, and checks that sink got every expected
// item of the connection exactly once and nothing else.
func checkBackfill(t *testing.T, base, connID string, b *relay.Backfill, sim historySim, resources []string, sink *collector) *relay.Backfill {
	t.Helper()
	want := expectedBackfill(sim, b, resources)
	if len(want) == 0 {
		t.Fatal("the simulator's history has nothing in the window")
	}
	var got relay.Backfill
	waitUntil(t, "backfill completed", func() bool {
		apiCall(t, "GET", base+"/api/v1/connections/"+connID+"/backfills/"+b.ID, testAdminKey, nil, &got)
		return got.Status == relay.BackfillCompleted
	})
	if got.Failed != 0 || got.Items < len(want) {
		t.Fatalf("backfill: %+v", got)
	}
	backfilled := func() []delivered {
		var out []delivered
		for _, d := range sink.all() {
			if d.env["source"] == relay.SourceBackfill && d.env["connection_id"] == connID {
				out = append(out, d)
			}
		}
		return out
	}
	waitUntil(t, fmt.Sprintf("%d backfilled deliveries", len(want)), func() bool { return len(backfilled()) >= len(want) })
	waitSettled(t, base) // a duplicate would be sent by now
	seen := map[string]int{}
	for _, d := range backfilled() {
		id, _ := d.env["delivery_id"].(string)
		seen[id]++
		if d.env["org_id"] == "" || d.env["payload"] == nil {
			t.Fatalf("envelope: %v", d.env)
		}
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("%s delivered %d times, want once", id, seen[id])
		}
	}
	for id := range seen {
		if !want[id] {
			t.Errorf("%s delivered but outside the window or unknown", id)
		}
	}
	return &got
}

func githubBackfillConfig(sim *simulator.GitHub, sinkURL, extra string) string {
	return fmt.Sprintf(`
admin_api_key: %q
connect: {allowed_return_origins: ["https://app.example"]}
log_level: warn
providers:
  github:
    webhook_secret: %q
%s
destinations:
  - {name: acme, url: %q, secret: %q, org_id: acme}
%s`, testAdminKey, testGitHub, githubAppYAML(sim), sinkURL, testDestination, extra)
}

func TestGitHubBackfillEndToEnd(t *testing.T) {
	sim := simulator.NewGitHub(nil)
	defer sim.Close()
	sim.AddInstallation(simulator.GitHubInstallation{ID: 4242, Login: "octo-org",
		Repos: []simulator.GitHubRepo{{ID: 1296269, FullName: "octo-org/hello"}, {ID: 7, FullName: "octo-org/x"}}})
	sim.SeedHistory(150, 60*24*time.Hour) // 2 repos × 3 entities × 150 items over 60 days: half in the window
	sink := newCollector(t)
	relayP := startRelay(t, githubBackfillConfig(sim, sink.URL, ""), nil)
	base := relayP.url
	apiCall(t, "POST", base+"/api/v1/orgs", testAdminKey, map[string]string{"id": "acme"}, nil)
	connID := connectGitHub(t, base, testAdminKey, "acme", sim, 4242).Get("connection_id")

	// Bad requests name what is valid.
	var e struct {
		Error struct{ Message string } `json:"error"`
	}
	if code := apiCall(t, "POST", base+"/api/v1/connections/"+connID+"/backfills", testAdminKey,
		map[string]any{"entity_types": []string{"wikis"}}, &e); code != 400 ||
		!strings.Contains(e.Error.Message, "valid: issues, pull_requests, releases") {
		t.Fatalf("unknown entity type: %d %+v", code, e)
	}
	if code := apiCall(t, "POST", base+"/api/v1/connections/"+connID+"/backfills", testAdminKey,
		map[string]any{"depth_days": 400}, nil); code != 400 {
		t.Fatalf("depth 400: %d", code)
	}
	b := runBackfill(t, base, connID, sim, []string{"1296269", "7"}, sink)
	if len(b.Tasks) != 6 || sim.OverLimit() != 0 {
		t.Fatalf("tasks %d, requests over the limit %d", len(b.Tasks), sim.OverLimit())
	}

	// A second run of the same window delivers nothing new.
	before := len(sink.all())
	var b2 relay.Backfill
	if code := apiCall(t, "POST", base+"/api/v1/connections/"+connID+"/backfills", testAdminKey,
		map[string]any{"depth_days": 30}, &b2); code != 201 {
		t.Fatalf("second run: %d", code)
	}
	waitUntil(t, "second run completed", func() bool {
		apiCall(t, "GET", base+"/api/v1/connections/"+connID+"/backfills/"+b2.ID, testAdminKey, nil, &b2)
		return b2.Status == relay.BackfillCompleted
	})
	waitSettled(t, base)
	if n := len(sink.all()); n != before {
		t.Fatalf("a second run delivered %d more", n-before)
	}
}

// Rate limits: the simulator allows a few requests per window; the run
// waits for each reset and finishes without one request past the limit.
// A 429 with Retry-After is honoured; an org-scoped key of another org
// sees nothing; teardown cancels an active backfill.
func TestGitHubBackfillRateLimitsAndTeardown(t *testing.T) {
	sim := simulator.NewGitHub(nil)
	defer sim.Close()
	sim.AddInstallation(simulator.GitHubInstallation{ID: 4242, Login: "octo-org",
		Repos: []simulator.GitHubRepo{{ID: 1296269, FullName: "octo-org/hello"}}})
	sim.SeedHistory(250, 90*24*time.Hour)
	sink := newCollector(t)
	relayP := startRelay(t, githubBackfillConfig(sim, sink.URL, "backfill: {max_undelivered: 20}\n"), nil)
	base := relayP.url
	apiCall(t, "POST", base+"/api/v1/orgs", testAdminKey, map[string]string{"id": "acme"}, nil)
	connID := connectGitHub(t, base, testAdminKey, "acme", sim, 4242).Get("connection_id")

	sim.SetRateLimit(2, 3*time.Second)
	sim.RateLimitNext("list-releases", 1, time.Second)
	b := runBackfill(t, base, connID, sim, []string{"1296269"}, sink)
	waits := 0
	for _, tk := range b.Tasks {
		waits += tk.RateLimitWaits
	}
	if sim.OverLimit() != 0 || waits == 0 {
		t.Fatalf("requests over the limit: %d, rate-limit waits: %d", sim.OverLimit(), waits)
	}
	sim.SetRateLimit(0, 0)

	// Teardown cancels a backfill that cannot finish: the destination is
	// down, so backpressure holds the 90-day run after its first page.
	sink.mu.Lock()
	sink.code = 503
	sink.mu.Unlock()
	var k struct {
		Key string `json:"key"`
	}
	apiCall(t, "POST", base+"/api/v1/orgs", testAdminKey, map[string]string{"id": "other"}, nil)
	apiCall(t, "POST", base+"/api/v1/orgs/other/api-keys", testAdminKey, map[string]string{"name": "o"}, &k)
	var b2 relay.Backfill
	if code := apiCall(t, "POST", base+"/api/v1/connections/"+connID+"/backfills", k.Key, map[string]any{"depth_days": 7}, nil); code != 404 {
		t.Fatalf("another org's key starts a backfill: %d", code)
	}
	if code := apiCall(t, "POST", base+"/api/v1/connections/"+connID+"/backfills", testAdminKey, map[string]any{"depth_days": 90}, &b2); code != 201 {
		t.Fatalf("start: %d", code)
	}
	if code := apiCall(t, "GET", base+"/api/v1/connections/"+connID+"/backfills/"+b2.ID, k.Key, nil, nil); code != 404 {
		t.Fatalf("another org's key reads the backfill: %d", code)
	}
	waitUntil(t, "the run held by backpressure", func() bool {
		apiCall(t, "GET", base+"/api/v1/connections/"+connID+"/backfills/"+b2.ID, testAdminKey, nil, &b2)
		return b2.Items > 0 && len(b2.Tasks) > 0 && slices.ContainsFunc(b2.Tasks, func(tk *relay.BackfillTask) bool { return tk.Status == relay.TaskWaiting })
	})
	if code := apiCall(t, "DELETE", base+"/api/v1/connections/"+connID, testAdminKey, nil, nil); code != 202 {
		t.Fatalf("delete: %d", code)
	}
	waitUntil(t, "backfill cancelled by teardown", func() bool {
		apiCall(t, "GET", base+"/api/v1/connections/"+connID+"/backfills/"+b2.ID, testAdminKey, nil, &b2)
		return b2.Status == relay.BackfillCancelled
	})
	if b2.Reason != "connection deleted" || b2.Items == 0 {
		t.Fatalf("reason %q, items %d", b2.Reason, b2.Items)
	}
}

// SIGKILL in the middle of a backfill: the restarted process resumes it
// from its last committed page; every item is imported, and each delivery
// id is stored once (redeliveries after the kill carry the same event id).
func TestBackfillSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the relay binary; skipped with -short")
	}
	bin, err := buildRelay()
	if err != nil {
		t.Fatal(err)
	}
	sim := simulator.NewGitHub(nil)
	defer sim.Close()
	sim.AddInstallation(simulator.GitHubInstallation{ID: 4242, Login: "octo-org",
		Repos: []simulator.GitHubRepo{{ID: 1296269, FullName: "octo-org/hello"}, {ID: 7, FullName: "octo-org/x"}}})
	sim.SeedHistory(300, 30*24*time.Hour)
	sink := newCollector(t)
	sink.delay = 5 * time.Millisecond // paces the run: backpressure holds it to what the app takes
	dir := t.TempDir()
	cfg := filepath.Join(dir, "relay.yaml")
	// Short leases and rescue times: the deliveries and jobs the killed
	// process held are taken over within seconds.
	extra := "backfill: {max_undelivered: 50, concurrency: 2}\njobs: {rescue_after: 2s}\ndelivery: {lease: 3s, timeout: 2s}\n"
	if err := os.WriteFile(cfg, []byte(githubBackfillConfig(sim, sink.URL, extra)), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), "--config", cfg}
	p := startProcess(t, bin, args, nil)
	apiCall(t, "POST", p.url+"/api/v1/orgs", testAdminKey, map[string]string{"id": "acme"}, nil)
	connID := connectGitHub(t, p.url, testAdminKey, "acme", sim, 4242).Get("connection_id")
	var b relay.Backfill
	if code := apiCall(t, "POST", p.url+"/api/v1/connections/"+connID+"/backfills", testAdminKey, map[string]any{"depth_days": 30}, &b); code != 201 {
		t.Fatalf("start: %d", code)
	}
	waitUntil(t, "a few pages committed", func() bool {
		var got relay.Backfill
		apiCall(t, "GET", p.url+"/api/v1/connections/"+connID+"/backfills/"+b.ID, testAdminKey, nil, &got)
		return got.Pages >= 3
	})
	p.kill(t)
	var atKill relay.Backfill
	p = startProcess(t, bin, args, []string{"RELAY_LOG_LEVEL=info"})
	apiCall(t, "GET", p.url+"/api/v1/connections/"+connID+"/backfills/"+b.ID, testAdminKey, nil, &atKill)
	if atKill.Status == relay.BackfillCompleted {
		t.Fatal("the backfill completed before the kill: nothing to resume")
	}
	defer func() {
		if t.Failed() {
			t.Logf("relay's log after the restart:\n%s", p.stderr)
		}
	}()
	got := runWait(t, p.url, connID, b.ID)
	want := expectedBackfill(sim, &b, []string{"1296269", "7"})
	if got.Items != len(want) || got.Failed != 0 {
		t.Fatalf("after restart: %d items (want %d), %d failed tasks", got.Items, len(want), got.Failed)
	}
	waitUntil(t, "every item delivered", func() bool {
		seen := map[string]bool{}
		for _, d := range sink.all() {
			if id, _ := d.env["delivery_id"].(string); want[id] {
				seen[id] = true
			}
		}
		return len(seen) == len(want)
	})
	events := map[string]string{}
	for _, d := range sink.all() {
		id, _ := d.env["delivery_id"].(string)
		ev, _ := d.env["id"].(string)
		if prev, ok := events[id]; ok && prev != ev {
			t.Fatalf("%s stored twice: events %s and %s", id, prev, ev)
		}
		events[id] = ev
	}
}

// runWait waits for a backfill to complete and returns it.
func runWait(t *testing.T, base, connID, id string) relay.Backfill {
	t.Helper()
	var got relay.Backfill
	deadline := time.Now().Add(90 * time.Second) // a job of the killed process is rescued first
	for {
		apiCall(t, "GET", base+"/api/v1/connections/"+connID+"/backfills/"+id, testAdminKey, nil, &got)
		if got.Status == relay.BackfillCompleted {
			return got
		}
		if time.Now().After(deadline) {
			for _, tk := range got.Tasks {
				t.Logf("task %s %s: %s, %d pages, cursor %q, last error %q", tk.ResourceName, tk.EntityType, tk.Status, tk.Pages, tk.Cursor, tk.LastError)
			}
			t.Fatalf("backfill %s after the restart", got.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Live webhooks keep flowing during a large backfill: a live event waits
// behind at most the backfill's backpressure bound plus the pages in
// flight, however large the backfill is (counted in deliveries, not time).
func TestLiveEventsFlowDuringBackfill(t *testing.T) {
	sim := simulator.NewGitHub(nil)
	defer sim.Close()
	sim.AddInstallation(simulator.GitHubInstallation{ID: 4242, Login: "octo-org",
		Repos: []simulator.GitHubRepo{{ID: 1296269, FullName: "octo-org/hello"}, {ID: 7, FullName: "octo-org/x"}}})
	sim.SeedHistory(1000, 30*24*time.Hour) // 6,000 items
	sink := newCollector(t)
	sink.delay = 10 * time.Millisecond
	const bound, concurrency, page = 100, 2, 100
	relayP := startRelay(t, githubBackfillConfig(sim, sink.URL,
		fmt.Sprintf("backfill: {max_undelivered: %d, concurrency: %d}\n", bound, concurrency)), nil)
	base := relayP.url
	apiCall(t, "POST", base+"/api/v1/orgs", testAdminKey, map[string]string{"id": "acme"}, nil)
	connID := connectGitHub(t, base, testAdminKey, "acme", sim, 4242).Get("connection_id")
	var b relay.Backfill
	if code := apiCall(t, "POST", base+"/api/v1/connections/"+connID+"/backfills", testAdminKey, map[string]any{"depth_days": 30}, &b); code != 201 {
		t.Fatalf("start: %d", code)
	}
	waitUntil(t, "the backfill under way", func() bool { return len(sink.all()) >= 300 })

	worst := 0
	for i := range 5 {
		before := len(sink.all())
		body := simulator.GitHubIssuesPayload(4242, 1296269, "opened")
		id := fmt.Sprintf("live-%d", i)
		if code, answer := post(t, base+"/webhooks/github", simulator.GitHubWebhook(testGitHub, "issues", id, body), body); code != 202 {
			t.Fatalf("live webhook: %d %s", code, answer)
		}
		pos := -1
		waitUntil(t, "the live event delivered", func() bool {
			for j, d := range sink.all() {
				if d.env["delivery_id"] == id {
					pos = j
					return true
				}
			}
			return false
		})
		worst = max(worst, pos-before)
	}
	var got relay.Backfill
	apiCall(t, "GET", base+"/api/v1/connections/"+connID+"/backfills/"+b.ID, testAdminKey, nil, &got)
	if got.Status != relay.BackfillRunning {
		t.Fatalf("the backfill was %s before the live events were measured", got.Status)
	}
	if limit := bound + concurrency*page; worst > limit {
		t.Fatalf("a live event waited behind %d backfilled deliveries (bound %d)", worst, limit)
	}
	t.Logf("a live event waited behind at most %d deliveries (bound %d); backfill %s with %d items so far", worst, bound+concurrency*page, got.Status, got.Items)
}

// connectionBackfill waits for the connection's only backfill (started by
// backfill.on_connect) and returns it.
func connectionBackfill(t *testing.T, base, connID string) *relay.Backfill {
	t.Helper()
	var list struct {
		Items []relay.Backfill `json:"items"`
	}
	waitUntil(t, "a backfill started on connect", func() bool {
		apiCall(t, "GET", base+"/api/v1/connections/"+connID+"/backfills", testAdminKey, nil, &list)
		return len(list.Items) > 0
	})
	if len(list.Items) != 1 {
		t.Fatalf("backfills on connect: %d", len(list.Items))
	}
	return &list.Items[0]
}

// Sentry, Linear and Vercel connections with backfill.on_connect: each
// starts a 30-day backfill of every entity type when it connects, and
// delivers every item of the window once, named like the live webhooks.
func TestBackfillsOnConnect(t *testing.T) {
	sen := simulator.NewSentry(nil)
	defer sen.Close()
	sen.AddInstallation(simulator.SentryInstallation{UUID: "inst-uuid-1", OrgSlug: "acme",
		Projects: []simulator.SentryProject{{ID: "1", Slug: "backend"}, {ID: "2", Slug: "web"}}})
	sen.SeedHistory(300, 60*24*time.Hour)
	lin := simulator.NewLinear(nil)
	defer lin.Close()
	lin.AddOrganization(simulator.LinearOrg{ID: "org-linear-1", Name: "Acme", URLKey: "acme",
		Teams: []simulator.LinearTeam{{ID: "team-1", Name: "Eng", Key: "ENG"}, {ID: "team-2", Name: "Ops", Key: "OPS"}}})
	lin.SeedHistory(300, 60*24*time.Hour)
	ver := simulator.NewVercel(nil)
	defer ver.Close()
	ver.AddAccount(simulator.VercelAccount{ConfigurationID: "icfg_1", TeamID: "team_1", UserID: "usr_1",
		Projects: []simulator.VercelProject{{ID: "prj_1", Name: "web"}, {ID: "prj_2", Name: "api"}}})
	ver.SeedHistory(300, 60*24*time.Hour)
	sink := newCollector(t)
	cfg := fmt.Sprintf(`
admin_api_key: %q
connect: {allowed_return_origins: ["https://app.example"]}
log_level: warn
public_url: https://relay.example
providers:
  sentry: {client_secret: %q, client_id: %q, slug: %q, api_url: %q, web_url: %q}
  linear: {webhook_secret: %q, client_id: %q, client_secret: %q, api_url: %q, web_url: %q}
  vercel: {client_secret: %q, client_id: %q, slug: %q, api_url: %q, web_url: %q}
destinations:
  - {name: acme, url: %q, secret: %q, org_id: acme}
backfill: {on_connect: true}
`, testAdminKey, sen.ClientSecret, sen.ClientID, sen.Slug, sen.URL(), sen.URL(),
		testLinear, lin.ClientID, lin.ClientSecret, lin.URL(), lin.URL(),
		ver.ClientSecret, ver.ClientID, ver.Slug, ver.URL(), ver.URL(), sink.URL, testDestination)
	relayP := startRelay(t, cfg, nil)
	base := relayP.url
	apiCall(t, "POST", base+"/api/v1/orgs", testAdminKey, map[string]string{"id": "acme"}, nil)

	u, _ := url.Parse(authorize(t, base, "acme", "sentry"))
	sq := followCallback(t, base, sen.InstallRedirect("https://relay.example/oauth/sentry/callback", u.Query().Get("state"), "inst-uuid-1"))
	to, err := lin.Consent(authorize(t, base, "acme", "linear"), "org-linear-1")
	if err != nil {
		t.Fatal(err)
	}
	lq := followCallback(t, base, to)
	v, _ := url.Parse(authorize(t, base, "acme", "vercel"))
	vq := followCallback(t, base, ver.InstallRedirect("https://relay.example/oauth/vercel/callback", v.Query().Get("state"), "icfg_1"))
	senID, linID, verID := sq.Get("connection_id"), lq.Get("connection_id"), vq.Get("connection_id")
	if sq.Get("status") != "active" || lq.Get("status") != "active" || vq.Get("status") != "active" {
		t.Fatalf("connect: sentry %v, linear %v, vercel %v", sq, lq, vq)
	}

	sb := connectionBackfill(t, base, senID)
	lb := connectionBackfill(t, base, linID)
	vb := connectionBackfill(t, base, verID)
	if sb.DepthDays != 30 || !slices.Equal(sb.EntityTypes, []string{"issues"}) ||
		lb.DepthDays != 30 || !slices.Equal(lb.EntityTypes, []string{"comments", "issues"}) {
		t.Fatalf("on-connect backfills: sentry %d %v, linear %d %v", sb.DepthDays, sb.EntityTypes, lb.DepthDays, lb.EntityTypes)
	}
	got := checkBackfill(t, base, senID, sb, sen, []string{"1", "2"}, sink)
	if len(got.Tasks) != 2 || sen.OverLimit() != 0 {
		t.Fatalf("sentry tasks %d, requests over the limit %d", len(got.Tasks), sen.OverLimit())
	}
	got = checkBackfill(t, base, linID, lb, lin, []string{"team-1", "team-2"}, sink)
	if len(got.Tasks) != 4 || lin.OverLimit() != 0 {
		t.Fatalf("linear tasks %d, requests over the limit %d", len(got.Tasks), lin.OverLimit())
	}
	got = checkBackfill(t, base, verID, vb, ver, []string{"prj_1", "prj_2"}, sink)
	if len(got.Tasks) != 2 || ver.OverLimit() != 0 || !slices.Equal(vb.EntityTypes, []string{"deployments"}) {
		t.Fatalf("vercel tasks %d %v, requests over the limit %d", len(got.Tasks), vb.EntityTypes, ver.OverLimit())
	}
	types := map[string]int{}
	for _, d := range sink.all() {
		if d.env["source"] == relay.SourceBackfill {
			types[d.env["provider"].(string)+" "+d.env["event_type"].(string)]++
		}
	}
	for _, want := range []string{"sentry issue.created", "sentry issue.resolved", "sentry issue.ignored",
		"linear Issue.create", "linear Issue.update", "linear Comment.create", "linear Comment.update",
		"vercel deployment.succeeded", "vercel deployment.error", "vercel deployment.canceled"} {
		if types[want] == 0 {
			t.Errorf("no backfilled %s event (got %v)", want, types)
		}
	}
}
