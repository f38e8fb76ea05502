package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
	relayhttp "github.com/relayhq/relay/http"
	"github.com/relayhq/relay/simulator"
	"github.com/relayhq/relay/storetest"
)

// destctlConfig has one standard-webhooks source and one destination, and
// retries an hour apart: what the tests see delivered after a failure was
// made due by them, not by the schedule.
func destctlConfig(sinkURL, extra string) string {
	return fmt.Sprintf(`
admin_api_key: %q
log_level: warn
delivery: {retry_schedule: [0s, 1h, 1h], jitter: 0}
sources:
  - {name: billing, scheme: standard-webhooks, secret: %q}
destinations:
  - {name: app, url: %q, secret: %q}
%s`, testAdminKey, testBilling, sinkURL, testDestination, extra)
}

// sendBilling posts n signed events to the billing source; ids are
// prefix-0…prefix-(n-1).
func sendBilling(t *testing.T, base, prefix string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		body := []byte(fmt.Sprintf(`{"type":"invoice.paid","data":{"id":"%s-%d"}}`, prefix, i))
		h := simulator.StandardWebhook(testBilling, fmt.Sprintf("%s-%d", prefix, i), time.Now(), body)
		if code, b := post(t, base+"/webhooks/billing", h, body); code != http.StatusAccepted {
			t.Fatalf("webhook %d: %d %s", i, code, b)
		}
	}
}

// appDestination returns the id of the configured destination "app".
func appDestination(t *testing.T, c *relayhttp.Client) *relay.Destination {
	t.Helper()
	ds, err := c.ListDestinations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Name == "app" {
			return d
		}
	}
	t.Fatalf("no destination app in %+v", ds)
	return nil
}

// countCode returns how many requests the collector answered with code.
func (c *collector) countCode(code int) int {
	n := 0
	for _, d := range c.all() {
		if d.code == code {
			n++
		}
	}
	return n
}

// A destination paused by its circuit breaker shows as paused in
// `relay destinations ls`; `relay destinations resume` ends the pause at
// once and its retrying deliveries go out now, not an hour later.
func TestResumePausedDestination(t *testing.T) { testResumePausedDestination(t, nil) }

// The same on PostgreSQL.
func TestResumePausedDestinationPostgres(t *testing.T) {
	testResumePausedDestination(t, map[string]string{"RELAY_DATABASE_URL": storetest.PostgresSchemaURL(t)})
}

func testResumePausedDestination(t *testing.T, env map[string]string) {
	sink := newCollector(t)
	sink.mu.Lock()
	sink.code = http.StatusServiceUnavailable
	sink.mu.Unlock()
	p := startRelay(t, destctlConfig(sink.URL, ""), env)
	admin := relayhttp.NewClient(p.url, testAdminKey)
	dst := appDestination(t, admin)

	sendBilling(t, p.url, "msg_resume", 6)
	waitUntil(t, "the breaker to pause the destination", func() bool {
		return appDestination(t, admin).PausedUntil.After(time.Now())
	})
	out, _, err := keysCLI(p.url, testAdminKey, "destinations", "ls")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "paused until") {
		t.Errorf("relay destinations ls does not show the pause:\n%s", out)
	}

	sink.mu.Lock()
	sink.code = http.StatusOK
	sink.mu.Unlock()
	out, _, err = keysCLI(p.url, testAdminKey, "destinations", "resume", dst.ID)
	if err != nil {
		t.Fatalf("relay destinations resume: %v %s", err, out)
	}
	if !strings.Contains(out, "resumed") {
		t.Errorf("relay destinations resume says:\n%s", out)
	}
	if d := appDestination(t, admin); d.PausedUntil.After(time.Now()) {
		t.Errorf("still paused until %v after resume", d.PausedUntil)
	}
	waitUntil(t, "every retrying delivery sent after the resume", func() bool { return sink.countCode(http.StatusOK) >= 6 })

	// Resuming a destination that does not exist is a 404.
	if _, err := admin.ResumeDestination(context.Background(), "dst_nope"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Errorf("resume of an unknown destination: %v, want not found", err)
	}
}
