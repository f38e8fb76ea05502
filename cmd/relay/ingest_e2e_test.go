package main

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/relayhq/relay/simulator"
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
