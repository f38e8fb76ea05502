package linear_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/linear"
	"github.com/relayhq/relay/simulator"
)

const secret = "lin_wh_test_secret"

var now = time.Date(2024, 5, 14, 16, 8, 2, 0, time.UTC)

func TestVerify(t *testing.T) {
	body := simulator.LinearIssuePayload("org-1", "team-1", "issue-1", now)
	p := linear.New(linear.Config{WebhookSecret: secret})
	signed := func() http.Header { return simulator.LinearWebhook(secret, body, "") }
	tests := []struct {
		name   string
		header http.Header
		body   []byte
		at     time.Time
		code   string
	}{
		{"valid", signed(), body, now, ""},
		{"valid within tolerance", signed(), body, now.Add(59 * time.Second), ""},
		{"valid clock behind", signed(), body, now.Add(-59 * time.Second), ""},
		{"stale", signed(), body, now.Add(61 * time.Second), relay.EUNAUTHORIZED},
		{"from the future", signed(), body, now.Add(-2 * time.Minute), relay.EUNAUTHORIZED},
		{"tampered body", signed(), []byte(strings.Replace(string(body), "issue-1", "issue-2", 1)), now, relay.EUNAUTHORIZED},
		{"wrong secret", simulator.LinearWebhook("other", body, ""), body, now, relay.EUNAUTHORIZED},
		{"missing header", http.Header{}, body, now, relay.EUNAUTHORIZED},
		{"malformed header", http.Header{"Linear-Signature": {"sha256=" + signed().Get("Linear-Signature")}}, body, now, relay.EUNAUTHORIZED},
		{"not hex", http.Header{"Linear-Signature": {strings.Repeat("zz", 32)}}, body, now, relay.EUNAUTHORIZED},
		{"signed non-JSON", simulator.LinearWebhook(secret, []byte("nope"), ""), []byte("nope"), now, relay.EINVALID},
		{"signed, no timestamp", simulator.LinearWebhook(secret, []byte(`{"type":"Issue"}`), ""), []byte(`{"type":"Issue"}`), now, relay.EUNAUTHORIZED},
		{"signed, string timestamp", simulator.LinearWebhook(secret, []byte(`{"webhookTimestamp":"soon"}`), ""), []byte(`{"webhookTimestamp":"soon"}`), now, relay.EUNAUTHORIZED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Verify(&relay.WebhookRequest{Header: tt.header, Body: tt.body, ReceivedAt: tt.at})
			if got := relay.ErrorCode(err); got != tt.code {
				t.Fatalf("code %q, want %q (%v)", got, tt.code, err)
			}
		})
	}
}

func TestTolerance(t *testing.T) {
	body := simulator.LinearIssuePayload("org-1", "team-1", "issue-1", now)
	p := linear.New(linear.Config{WebhookSecret: secret, Tolerance: 10 * time.Minute})
	req := &relay.WebhookRequest{Header: simulator.LinearWebhook(secret, body, ""), Body: body, ReceivedAt: now.Add(9 * time.Minute)}
	if err := p.Verify(req); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestParse(t *testing.T) {
	fixture, err := os.ReadFile("../testdata/webhooks/linear/Issue.create.json")
	if err != nil {
		t.Fatal(err)
	}
	p := linear.New(linear.Config{WebhookSecret: secret})
	sim := simulator.LinearIssuePayload("org-1", "team-1", "issue-1", now)
	tests := []struct {
		name     string
		body     []byte
		delivery string
		want     relay.Inbound
		code     string
	}{
		{"simulated, header id", sim, "8f0e5c52-2d4b-4a8e-9c1f-0b3a7d6e5f41",
			relay.Inbound{DeliveryID: "8f0e5c52-2d4b-4a8e-9c1f-0b3a7d6e5f41", EventType: "Issue.create", AccountID: "org-1", ResourceID: "team-1"}, ""},
		{"fixture", fixture, "d-1",
			relay.Inbound{DeliveryID: "d-1", EventType: "Issue.create", AccountID: "8e6cf1b4-0d2f-4c52-9a3e-6d4e2f1a7b90", ResourceID: "4b1c8f2e-7a3d-4e59-b6c0-2d9e1f3a5c78"}, ""},
		{"team object only", []byte(`{"action":"update","type":"Comment","organizationId":"o","data":{"id":"c","team":{"id":"t2"}}}`), "d-2",
			relay.Inbound{DeliveryID: "d-2", EventType: "Comment.update", AccountID: "o", ResourceID: "t2"}, ""},
		{"no team", []byte(`{"action":"remove","type":"Project","organizationId":"o","data":{"id":"p"}}`), "d-3",
			relay.Inbound{DeliveryID: "d-3", EventType: "Project.remove", AccountID: "o"}, ""},
		{"no type", []byte(`{"action":"remove","organizationId":"o","data":{"id":"p"}}`), "d-5",
			relay.Inbound{DeliveryID: "d-5", EventType: "remove", AccountID: "o"}, ""},
		{"not JSON", []byte(`{"type":`), "d-4", relay.Inbound{}, relay.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.Parse(&relay.WebhookRequest{Header: simulator.LinearWebhook(secret, tt.body, tt.delivery), Body: tt.body, ReceivedAt: now})
			if code := relay.ErrorCode(err); code != tt.code {
				t.Fatalf("code %q, want %q (%v)", code, tt.code, err)
			}
			got.BodyKey = "" // checked by TestBodyKey
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDerivedDeliveryID(t *testing.T) {
	p := linear.New(linear.Config{WebhookSecret: secret})
	id := func(body []byte) string {
		t.Helper()
		in, err := p.Parse(&relay.WebhookRequest{Header: simulator.LinearWebhook(secret, body, ""), Body: body, ReceivedAt: now})
		if err != nil {
			t.Fatal(err)
		}
		if len(in.DeliveryID) != 64 {
			t.Fatalf("derived id %q is not a hex SHA-256", in.DeliveryID)
		}
		return in.DeliveryID
	}
	a := id(simulator.LinearIssuePayload("org-1", "team-1", "issue-1", now))
	if b := id(simulator.LinearIssuePayload("org-1", "team-1", "issue-1", now)); a != b {
		t.Fatalf("equal input gave %q and %q", a, b)
	}
	if b := id(simulator.LinearIssuePayload("org-1", "team-1", "issue-2", now)); a == b {
		t.Fatal("different data.id gave the same id")
	}
	if b := id(simulator.LinearIssuePayload("org-1", "team-1", "issue-1", now.Add(time.Millisecond))); a == b {
		t.Fatal("a different action time gave the same id")
	}
	// A retry: the same action re-sent with a fresh webhookTimestamp keeps its id.
	first := simulator.LinearIssuePayload("org-1", "team-1", "issue-1", now)
	retry := bytes.Replace(first, fmt.Appendf(nil, `"webhookTimestamp":%d`, now.UnixMilli()),
		fmt.Appendf(nil, `"webhookTimestamp":%d`, now.Add(time.Minute).UnixMilli()), 1)
	if bytes.Equal(first, retry) {
		t.Fatal("test body has no webhookTimestamp to change")
	}
	if id(first) != id(retry) {
		t.Fatal("a retry with a fresh webhookTimestamp got a new delivery id")
	}
}

func TestNameAndHeaders(t *testing.T) {
	p := linear.New(linear.Config{WebhookSecret: secret})
	if p.Name() != "linear" {
		t.Fatalf("Name = %q", p.Name())
	}
	for _, h := range p.Headers() {
		if h != http.CanonicalHeaderKey(h) {
			t.Errorf("header %q is not canonical", h)
		}
	}
}
