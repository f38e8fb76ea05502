package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay/simulator"
	"github.com/relayhq/relay/storetest"
)

// JSON text must be UTF-8 (RFC 8259): a correctly signed body that is not
// gets 400 and is counted as invalid, nothing is stored, and the events API
// stays valid JSON. A body that is also wrongly signed is 401 first.
func TestInvalidUTF8IsRejected(t *testing.T) {
	sink := newCollector(t)
	p := startRelay(t, e2eConfig(sink.URL), nil)
	now := time.Now()
	acme := []byte("{\"id\":\"acme-utf8\",\"type\":\"order.created\",\"name\":\"caf\xe9\"}") // Latin-1 é
	lin := bytes.Replace(simulator.LinearIssuePayload("org-1", "team-1", "issue-utf8", now),
		[]byte("Webhook test issue"), []byte("Webhook \xff\xfe issue"), 1)
	bill := []byte("{\"type\":\"invoice.paid\",\"note\":\"\xc3\x28\"}")
	cases := []struct {
		name   string
		path   string
		header http.Header
		body   []byte
		code   int
		series string
	}{
		{"hmac source", "/webhooks/acme", simulator.HMACWebhook("X-Acme-Signature", "", testAcme, acme), acme, 400,
			`relay_ingest_requests_total{outcome="invalid",provider="acme"}`},
		{"linear", "/webhooks/linear", simulator.LinearWebhook(testLinear, lin, "utf8-1"), lin, 400,
			`relay_ingest_requests_total{outcome="invalid",provider="linear"}`},
		{"standard webhooks", "/webhooks/billing", simulator.StandardWebhook(testBilling, "msg_utf8", now, bill), bill, 400,
			`relay_ingest_requests_total{outcome="invalid",provider="billing"}`},
		{"wrongly signed", "/webhooks/acme", simulator.HMACWebhook("X-Acme-Signature", "", "not-the-secret", acme), acme, 401,
			`relay_ingest_requests_total{outcome="unverified",provider="acme"}`},
	}
	for _, c := range cases {
		before := metricValue(t, p.url, c.series)
		if code, body := post(t, p.url+c.path, c.header, c.body); code != c.code {
			t.Errorf("%s: got %d %s, want %d", c.name, code, body, c.code)
			continue
		}
		if after := metricValue(t, p.url, c.series); after != before+1 {
			t.Errorf("%s: metric %s went %v → %v, want +1", c.name, c.series, before, after)
		}
	}
	var page struct {
		Items []map[string]any `json:"items"`
	}
	if code := apiGet(t, p.url+"/api/v1/events", &page); code != 200 || len(page.Items) != 0 {
		t.Fatalf("events list: %d, %d items stored", code, len(page.Items))
	}
}

// A delivery id taken from a header the signature does not cover cannot by
// itself tell a replay from a new delivery: the same signed body under a
// second Linear-Delivery (or id_header) value is a duplicate, answered 200,
// stored and delivered once. Two different bodies are two events.
func TestSignedBodyDeduplicates(t *testing.T) {
	testSignedBodyDeduplicates(t, nil)
}

// The same on PostgreSQL, where replicas rely on the unique index.
func TestSignedBodyDeduplicatesPostgres(t *testing.T) {
	testSignedBodyDeduplicates(t, map[string]string{"RELAY_DATABASE_URL": storetest.PostgresSchemaURL(t)})
}

func testSignedBodyDeduplicates(t *testing.T, env map[string]string) {
	sink := newCollector(t)
	cfg := fmt.Sprintf(`
admin_api_key: %q
log_level: warn
providers:
  linear: {webhook_secret: %q}
sources:
  - {name: tagged, scheme: hmac-sha256, header: X-Tagged-Signature, id_header: X-Tagged-Delivery, secret: tagged-secret}
destinations:
  - {name: app, url: %q, secret: %q}
`, testAdminKey, testLinear, sink.URL, testDestination)
	p := startRelay(t, cfg, env)
	now := time.Now()
	lin := simulator.LinearIssuePayload("org-1", "team-1", "issue-replayed", now)
	linOther := simulator.LinearIssuePayload("org-1", "team-1", "issue-other", now)
	tagged := []byte(`{"type":"order.created","order":"o-1"}`)
	taggedOther := []byte(`{"type":"order.created","order":"o-2"}`)
	withID := func(h http.Header, k, v string) http.Header { h.Set(k, v); return h }
	steps := []struct {
		name   string
		path   string
		header http.Header
		body   []byte
		code   int
	}{
		{"linear", "/webhooks/linear", simulator.LinearWebhook(testLinear, lin, "delivery-1"), lin, 202},
		{"linear, new delivery header", "/webhooks/linear", simulator.LinearWebhook(testLinear, lin, "delivery-2"), lin, 200},
		{"linear, no delivery header", "/webhooks/linear", simulator.LinearWebhook(testLinear, lin, ""), lin, 200},
		{"linear, another body", "/webhooks/linear", simulator.LinearWebhook(testLinear, linOther, "delivery-3"), linOther, 202},
		{"id_header", "/webhooks/tagged", withID(simulator.HMACWebhook("X-Tagged-Signature", "", "tagged-secret", tagged), "X-Tagged-Delivery", "t-1"), tagged, 202},
		{"id_header, new id", "/webhooks/tagged", withID(simulator.HMACWebhook("X-Tagged-Signature", "", "tagged-secret", tagged), "X-Tagged-Delivery", "t-2"), tagged, 200},
		{"id_header, another body", "/webhooks/tagged", withID(simulator.HMACWebhook("X-Tagged-Signature", "", "tagged-secret", taggedOther), "X-Tagged-Delivery", "t-3"), taggedOther, 202},
	}
	ids := map[string]bool{}
	for _, s := range steps {
		code, body := post(t, p.url+s.path, s.header, s.body)
		if code != s.code {
			t.Fatalf("%s: got %d %s, want %d", s.name, code, body, s.code)
		}
		if s.code == 200 && !strings.Contains(body, `"duplicate":true`) {
			t.Fatalf("%s: %s is not a duplicate answer", s.name, body)
		}
		var ans struct{ ID string }
		_ = json.Unmarshal([]byte(body), &ans)
		ids[ans.ID] = true
	}
	if len(ids) != 4 {
		t.Fatalf("answers name %d events, want 4", len(ids))
	}
	var page struct {
		Items []map[string]any `json:"items"`
	}
	if code := apiGet(t, p.url+"/api/v1/events", &page); code != 200 || len(page.Items) != 4 {
		t.Fatalf("events list: %d, %d events, want 4", code, len(page.Items))
	}
	waitUntil(t, "four deliveries", func() bool { return len(sink.all()) >= 4 })
	waitUntil(t, "attempts recorded", func() bool {
		return metricValue(t, p.url, `relay_delivery_attempts_total{outcome="success"}`) == 4
	})
	if n := len(sink.all()); n != 4 {
		t.Fatalf("sink got %d deliveries, want 4", n)
	}
}
