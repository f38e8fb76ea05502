package bench

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"github.com/relayhq/relay/simulator"
)

// runBackfill measures a 30-day GitHub backfill against the simulator (no
// rate limit): items imported per second from the start request to the
// run's completion, and until the sink has every item; after the throughput
// mode, also that rate over its live accepted/s.
func runBackfill(ctx context.Context, o Options, payloads []webhook, out io.Writer) error {
	const repos = 10
	per := max(o.BackfillItems/(repos*3), 1)
	total := repos * 3 * per
	fmt.Fprintf(out, "## backfill: GitHub simulator, %d repositories × 3 entity types × %d items = %d items, 30 days, no rate limit\n",
		repos, per, total)
	// The reference (when no earlier mode measured it) runs before the
	// history is seeded, so its seconds do not age the seeded window.
	refCPU, err := referenceCPU(ctx, o, payloads, out)
	if err != nil {
		return err
	}
	sim := simulator.NewGitHub(nil)
	defer sim.Close()
	inst := simulator.GitHubInstallation{ID: 77, Login: "bench-org"}
	for i := range repos {
		inst.Repos = append(inst.Repos, simulator.GitHubRepo{ID: int64(1000 + i), FullName: fmt.Sprintf("bench-org/repo-%d", i)})
	}
	sim.AddInstallation(inst)
	// 29 days: all inside the 30-day window, whose start is fixed a moment
	// after seeding (a 30-day span would put its oldest items just outside).
	sim.SeedHistory(per, 29*24*time.Hour)

	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(sim.Key)})
	c, err := startCluster(o,
		"RELAY_PROVIDERS_GITHUB_APP_ID="+sim.AppID, "RELAY_PROVIDERS_GITHUB_APP_SLUG="+sim.AppSlug,
		"RELAY_PROVIDERS_GITHUB_CLIENT_ID="+sim.ClientID, "RELAY_PROVIDERS_GITHUB_CLIENT_SECRET="+sim.ClientSecret,
		"RELAY_PROVIDERS_GITHUB_API_URL="+sim.URL(), "RELAY_PROVIDERS_GITHUB_WEB_URL="+sim.URL(),
		"RELAY_PROVIDERS_GITHUB_PRIVATE_KEY="+strings.ReplaceAll(string(keyPEM), "\n", `\n`),
		"RELAY_BACKFILL_MAX_UNDELIVERED=100000", "RELAY_BACKFILL_CONCURRENCY=4",
		"RELAY_CONNECT_ALLOWED_RETURN_ORIGINS=https://app.example")
	if err != nil {
		return err
	}
	defer c.close()
	base := c.procs[0].URL
	api := func(method, path string, in, outv any) (int, error) {
		var body io.Reader
		if in != nil {
			b, _ := json.Marshal(in)
			body = bytes.NewReader(b)
		}
		req, _ := http.NewRequestWithContext(ctx, method, base+path, body)
		req.Header.Set("Authorization", "Bearer rk_bench_admin_0123456789abcdef")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if outv != nil {
			_ = json.NewDecoder(resp.Body).Decode(outv)
		}
		return resp.StatusCode, nil
	}
	if _, err := api("POST", "/api/v1/orgs", map[string]string{"id": "bench"}, nil); err != nil {
		return err
	}
	var auth struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	if code, err := api("POST", "/api/v1/orgs/bench/connections/github/authorize", map[string]string{"return_url": "https://app.example/done"}, &auth); err != nil || code != 200 {
		return fmt.Errorf("authorize: %d %v", code, err)
	}
	// authorize_url is Relay's start link: the browser that opens it (this
	// client, with its cookie jar) is the one that can finish the flow.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	su, _ := url.Parse(auth.AuthorizeURL)
	resp, err := browser.Get(base + su.Path + "?" + su.RawQuery) // the public URL may not be this address
	if err != nil {
		return err
	}
	resp.Body.Close()
	au, _ := url.Parse(resp.Header.Get("Location"))
	resp, err = browser.Get(sim.InstallRedirect(base+"/oauth/github/callback", au.Query().Get("state"), inst.ID, "install"))
	if err != nil {
		return err
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	connID := loc.Query().Get("connection_id")
	if connID == "" {
		return fmt.Errorf("connect failed: %s", loc)
	}

	var b struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Items  int    `json:"items"`
		Pages  int    `json:"pages"`
	}
	// The simulator serving the history runs in this process, so the meter
	// counts only Relay's own work: fetching, storing and delivering.
	cpu := meterCPU(c.procs...)
	start := time.Now()
	if code, err := api("POST", "/api/v1/connections/"+connID+"/backfills", map[string]any{"depth_days": 30}, &b); err != nil || code != 201 {
		return fmt.Errorf("start backfill: %d %v", code, err)
	}
	for b.Status != "completed" {
		if time.Since(start) > 10*time.Minute {
			return fmt.Errorf("backfill not done after 10 minutes: %+v", b)
		}
		time.Sleep(20 * time.Millisecond)
		if _, err := api("GET", "/api/v1/connections/"+connID+"/backfills/"+b.ID, nil, &b); err != nil {
			return err
		}
	}
	imported := time.Since(start)
	for c.sink.Unique() < int64(b.Items) && time.Since(start) < 10*time.Minute {
		time.Sleep(20 * time.Millisecond)
	}
	delivered := time.Since(start)
	used := cpu.Used()
	fmt.Fprintf(out, "imported %d items in %d pages in %s: %.0f items/s; all %d delivered after %s: %.0f items/s end to end; %d API requests\n",
		b.Items, b.Pages, imported.Round(time.Millisecond), float64(b.Items)/imported.Seconds(), c.sink.Unique(),
		delivered.Round(time.Millisecond), float64(c.sink.Unique())/delivered.Seconds(),
		sim.Calls("list-issues")+sim.Calls("list-pulls")+sim.Calls("list-releases"))
	fmt.Fprintf(out, "import and delivery: %s\n", cpuLine(used, c.sink.Unique(), "items delivered", refCPU))
	if o.live != nil && *o.live > 0 {
		// Backfilled items skip HTTP and verification: they should import
		// faster than webhooks are accepted.
		fmt.Fprintf(out, "backfill ÷ live: %.2f (%.0f items/s ÷ %.0f accepted/s in the throughput mode)\n",
			float64(b.Items)/imported.Seconds()/(*o.live), float64(b.Items)/imported.Seconds(), *o.live)
	}
	fmt.Fprintln(out)
	if b.Items != total {
		return fmt.Errorf("imported %d items, want %d", b.Items, total)
	}
	return nil
}
