package sentry_test

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/sentry"
	"github.com/relayhq/relay/simulator"
)

const secret = "sentry-client-secret"

var now = time.Date(2024, 5, 14, 16, 8, 2, 0, time.UTC)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/webhooks/sentry/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerify(t *testing.T) {
	body := simulator.SentryIssuePayload("inst-1", "1001")
	p := sentry.New(sentry.Config{ClientSecret: secret})
	signed := simulator.SentryWebhook(secret, "issue", body, now)
	tests := []struct {
		name   string
		header http.Header
		body   []byte
		code   string
	}{
		{"valid", signed, body, ""},
		{"valid long after (no tolerance)", simulator.SentryWebhook(secret, "issue", body, now.Add(-48*time.Hour)), body, ""},
		{"tampered body", signed, []byte(strings.Replace(string(body), "1001", "1002", 1)), relay.EUNAUTHORIZED},
		{"wrong secret", simulator.SentryWebhook("other", "issue", body, now), body, relay.EUNAUTHORIZED},
		{"missing header", http.Header{"Sentry-Hook-Resource": {"issue"}}, body, relay.EUNAUTHORIZED},
		{"malformed header", http.Header{"Sentry-Hook-Signature": {"v1=" + signed.Get("Sentry-Hook-Signature")}}, body, relay.EUNAUTHORIZED},
		{"not hex", http.Header{"Sentry-Hook-Signature": {strings.Repeat("g", 64)}}, body, relay.EUNAUTHORIZED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Verify(&relay.WebhookRequest{Header: tt.header, Body: tt.body, ReceivedAt: now})
			if got := relay.ErrorCode(err); got != tt.code {
				t.Fatalf("code %q, want %q (%v)", got, tt.code, err)
			}
		})
	}
}

func TestParse(t *testing.T) {
	p := sentry.New(sentry.Config{ClientSecret: secret})
	tests := []struct {
		name     string
		resource string
		body     []byte
		want     relay.Inbound // DeliveryID only checked for being set
		code     string
	}{
		{"simulated issue", "issue", simulator.SentryIssuePayload("inst-uuid-1", "1001"),
			relay.Inbound{EventType: "issue.created", AccountID: "inst-uuid-1", ResourceID: "1"}, ""},
		{"fixture issue.created", "issue", readFixture(t, "issue.created.json"),
			relay.Inbound{EventType: "issue.created", AccountID: "7a485448-a9e2-4c85-8a3c-4f44175783c9", ResourceID: "1"}, ""},
		{"fixture installation.deleted", "installation", readFixture(t, "installation.deleted.json"),
			relay.Inbound{EventType: "installation.deleted", AccountID: "7a485448-a9e2-4c85-8a3c-4f44175783c9"}, ""},
		{"event_alert falls back to data.event", "event_alert",
			[]byte(`{"action":"triggered","installation":{"uuid":"u"},"data":{"triggered_rule":"r","event":{"event_id":"e1","project":7,"datetime":"2024-05-14T16:08:02Z"}}}`),
			relay.Inbound{EventType: "event_alert.triggered", AccountID: "u", ResourceID: "7"}, ""},
		{"error with project_id", "error",
			[]byte(`{"action":"created","installation":{"uuid":"u"},"data":{"error":{"id":"e2","project_id":"9","timestamp":1715702882}}}`),
			relay.Inbound{EventType: "error.created", AccountID: "u", ResourceID: "9"}, ""},
		{"no data", "issue", []byte(`{"action":"created","installation":{"uuid":"u"}}`),
			relay.Inbound{EventType: "issue.created", AccountID: "u"}, ""},
		{"not JSON", "issue", []byte(`<html>`), relay.Inbound{}, relay.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &relay.WebhookRequest{Header: simulator.SentryWebhook(secret, tt.resource, tt.body, now), Body: tt.body, ReceivedAt: now}
			if err := p.Verify(req); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			got, err := p.Parse(req)
			if code := relay.ErrorCode(err); code != tt.code {
				t.Fatalf("code %q, want %q (%v)", code, tt.code, err)
			}
			if tt.code != "" {
				return
			}
			if len(got.DeliveryID) != 64 {
				t.Fatalf("delivery id %q is not a hex SHA-256", got.DeliveryID)
			}
			got.DeliveryID = ""
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDeliveryIDIsDeterministic(t *testing.T) {
	p := sentry.New(sentry.Config{ClientSecret: secret})
	id := func(resource string, body []byte, at time.Time) string {
		t.Helper()
		// A fresh Request-ID and timestamp per send, as Sentry does.
		in, err := p.Parse(&relay.WebhookRequest{Header: simulator.SentryWebhook(secret, resource, body, at), Body: body, ReceivedAt: at})
		if err != nil {
			t.Fatal(err)
		}
		return in.DeliveryID
	}
	a := id("issue", simulator.SentryIssuePayload("u", "1001"), now)
	if b := id("issue", simulator.SentryIssuePayload("u", "1001"), now.Add(time.Minute)); a != b {
		t.Fatalf("equal input gave %q and %q", a, b)
	}
	if b := id("issue", simulator.SentryIssuePayload("u", "1002"), now); a == b {
		t.Fatal("different issue id gave the same delivery id")
	}
	resolved := []byte(strings.Replace(string(simulator.SentryIssuePayload("u", "1001")), `"created"`, `"resolved"`, 1))
	if b := id("issue", resolved, now); a == b {
		t.Fatal("different action gave the same delivery id")
	}
	later := []byte(strings.ReplaceAll(string(simulator.SentryIssuePayload("u", "1001")), `"lastSeen":"2024-05-14T16:08:02.110000Z"`, `"lastSeen":"2024-05-15T00:00:00Z"`))
	if b := id("issue", later, now); a == b {
		t.Fatal("different timestamp gave the same delivery id")
	}
}

func TestNameAndHeaders(t *testing.T) {
	p := sentry.New(sentry.Config{ClientSecret: secret})
	if p.Name() != "sentry" {
		t.Fatalf("Name = %q", p.Name())
	}
	for _, h := range p.Headers() {
		if h != http.CanonicalHeaderKey(h) {
			t.Errorf("header %q is not canonical", h)
		}
	}
}
