package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
)

var demoKeyRE = regexp.MustCompile(`Admin key:\s+(rk_[0-9a-f]+)`)
var demoURLRE = regexp.MustCompile(`Dashboard:\s+(http://[^ /]+)/`)

// `relay demo` runs headless on free ports: through the API, every
// provider has events and one active connection, the GitHub backfill
// completes, the unknown Bridge customer is paired through Persona, the
// flaky destination recovers and deliveries succeed; Ctrl-C stops it
// cleanly.
func TestDemo(t *testing.T) {
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	started := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	args := []string{"relay", "demo", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--every", "200ms"}
	go func() {
		done <- run(ctx, args, func(string) string { return "" }, strings.NewReader(""), stdout, stderr)
	}()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("relay demo returned %v\nstderr: %s", err, stderr)
			}
		case <-time.After(30 * time.Second):
			t.Error("relay demo did not stop within 30s")
		}
	}()
	var base, key string
	waitUntil(t, "the demo's banner", func() bool {
		select {
		case err := <-done:
			done <- nil // for the deferred stop, which has nothing left to wait for
			t.Fatalf("relay demo exited early: %v\nstderr: %s", err, stderr)
		default:
		}
		u, k := demoURLRE.FindStringSubmatch(stdout.String()), demoKeyRE.FindStringSubmatch(stdout.String())
		if u == nil || k == nil {
			return false
		}
		base, key = u[1], k[1]
		return true
	})
	checkAPISpec(t, base)
	page := regexp.MustCompile(`Connect page[^:]*:\s+(http://\S+)`).FindStringSubmatch(stdout.String())
	if page == nil {
		t.Fatalf("no connect page in\n%s", stdout)
	}

	providers := []string{"github", "linear", "sentry", "vercel", "bridge", "persona"}
	for _, p := range providers {
		waitUntil(t, p+" events", func() bool {
			var page relay.Page[*relay.Event]
			return apiCall(t, "GET", base+"/api/v1/events?limit=1&provider="+p, key, nil, &page) == 200 && len(page.Items) == 1
		})
	}
	conns := map[string]*relay.Connection{}
	for _, p := range providers {
		waitUntil(t, "one active "+p+" connection", func() bool {
			var list struct {
				Items []*relay.Connection `json:"items"`
			}
			if apiCall(t, "GET", base+"/api/v1/connections?provider="+p, key, nil, &list) != 200 || len(list.Items) != 1 {
				return false
			}
			conns[p] = list.Items[0]
			return list.Items[0].Status == relay.ConnectionActive && list.Items[0].OrgID == demoOrg
		})
	}
	waitUntil(t, "a completed backfill", func() bool {
		var list struct {
			Items []*relay.Backfill `json:"items"`
		}
		apiCall(t, "GET", base+"/api/v1/connections/"+conns["github"].ID+"/backfills", key, nil, &list)
		return len(list.Items) == 1 && list.Items[0].Status == relay.BackfillCompleted
	})
	t.Logf("events, connections and the backfill %s after the start", time.Since(started).Round(time.Millisecond))
	var r relay.Resolution
	if code := apiCall(t, "GET", base+"/api/v1/resolutions/bridge/"+demoBridgeCustomer, key, nil, &r); code != 200 ||
		r.Outcome != relay.ResolvePaired || r.OrgID != demoOrg {
		t.Fatalf("bridge customer's resolution: %d %+v", code, r)
	}
	var dests struct {
		Items []*relay.Destination `json:"items"`
	}
	apiCall(t, "GET", base+"/api/v1/destinations", key, nil, &dests)
	if len(dests.Items) != 2 {
		t.Fatalf("destinations: %+v", dests.Items)
	}
	for _, d := range dests.Items {
		waitUntil(t, "succeeded deliveries to "+d.Name, func() bool {
			var page relay.Page[*relay.Delivery]
			return apiCall(t, "GET", base+"/api/v1/deliveries?limit=1&status=succeeded&destination_id="+d.ID, key, nil, &page) == 200 &&
				len(page.Items) == 1
		})
		t.Logf("succeeded deliveries to %s %s after the start", d.Name, time.Since(started).Round(time.Millisecond))
	}
	// The printed connect page works in a browser: GitHub's install page
	// comes straight back, to the demo app's return URL.
	b := newBrowser(t, base)
	resp, body := b.get(t, page[1])
	if resp.StatusCode != 200 {
		t.Fatalf("connect page: %d %s", resp.StatusCode, body)
	}
	resp, _ = b.postForm(t, page[1], formAction(t, body, "github"))
	next := resp.Header.Get("Location")
	for range 8 {
		if resp, body = b.get(t, next); resp.StatusCode != http.StatusFound {
			break
		}
		next = resp.Header.Get("Location")
	}
	if resp.StatusCode != 200 || !strings.Contains(body, "status=active") || !strings.Contains(body, "connection_id="+conns["github"].ID) {
		t.Fatalf("the connect page's flow ended at %s: %d %s", next, resp.StatusCode, body)
	}

	// The flaky destination failed first: some delivery to it took more
	// than one attempt.
	for _, d := range dests.Items {
		if d.Name != "flaky" {
			continue
		}
		waitUntil(t, "a delivery to flaky that succeeded after a failure", func() bool {
			var page relay.Page[*relay.Delivery]
			apiCall(t, "GET", base+"/api/v1/deliveries?limit=1000&status=succeeded&destination_id="+d.ID, key, nil, &page)
			for _, dl := range page.Items {
				if dl.Attempts > 1 {
					return true
				}
			}
			return false
		})
	}
}
