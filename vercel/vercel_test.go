package vercel_test

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/simulator"
	"github.com/relayhq/relay/vercel"
)

const secret = "vercel-client-secret"

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/webhooks/vercel/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerify(t *testing.T) {
	body := simulator.VercelDeploymentPayload("evt_1", "team_1", "prj_1")
	p := vercel.New(vercel.Config{ClientSecret: secret})
	signed := simulator.VercelWebhook(secret, body)
	tests := []struct {
		name   string
		header http.Header
		body   []byte
		code   string
	}{
		{"valid", signed, body, ""},
		{"tampered body", signed, []byte(strings.Replace(string(body), "prj_1", "prj_2", 1)), relay.EUNAUTHORIZED},
		{"wrong secret", simulator.VercelWebhook("other", body), body, relay.EUNAUTHORIZED},
		{"missing header", http.Header{"Content-Type": {"application/json"}}, body, relay.EUNAUTHORIZED},
		{"sha256-length value", http.Header{"X-Vercel-Signature": {strings.Repeat("ab", 32)}}, body, relay.EUNAUTHORIZED},
		{"not hex", http.Header{"X-Vercel-Signature": {strings.Repeat("x", 40)}}, body, relay.EUNAUTHORIZED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Verify(&relay.WebhookRequest{Header: tt.header, Body: tt.body, ReceivedAt: time.Now()})
			if got := relay.ErrorCode(err); got != tt.code {
				t.Fatalf("code %q, want %q (%v)", got, tt.code, err)
			}
		})
	}
}

func TestParse(t *testing.T) {
	p := vercel.New(vercel.Config{ClientSecret: secret})
	tests := []struct {
		name string
		body []byte
		want relay.Inbound
		code string
	}{
		{"simulated team deployment", simulator.VercelDeploymentPayload("evt_1", "team_1", "prj_1"),
			relay.Inbound{DeliveryID: "evt_1", EventType: "deployment.created", AccountID: "team_1", ResourceID: "prj_1"}, ""},
		{"simulated personal deployment", simulator.VercelDeploymentPayload("evt_2", "", "prj_1"),
			relay.Inbound{DeliveryID: "evt_2", EventType: "deployment.created", AccountID: "usr_7QbK1sCm9wV2dXyZ", ResourceID: "prj_1"}, ""},
		{"fixture deployment.created", readFixture(t, "deployment.created.json"),
			relay.Inbound{DeliveryID: "uHwqZ4VBA2ffq8HGL9vNtfBb", EventType: "deployment.created", AccountID: "team_3tVt2oKE4kGhcV9b5yZSrP1N", ResourceID: "prj_Qy3XwzKiHVxS1FyzFmeH47f3Bbb8"}, ""},
		{"fixture integration-configuration.removed", readFixture(t, "integration-configuration.removed.json"),
			relay.Inbound{DeliveryID: "gYq8bPz3rE6kN2tW0mVx1LcH", EventType: "integration-configuration.removed", AccountID: "usr_7QbK1sCm9wV2dXyZ"}, ""},
		{"no id", []byte(`{"type":"deployment.created","payload":{}}`), relay.Inbound{}, relay.EINVALID},
		{"not JSON", []byte(`id=1`), relay.Inbound{}, relay.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &relay.WebhookRequest{Header: simulator.VercelWebhook(secret, tt.body), Body: tt.body, ReceivedAt: time.Now()}
			if err := p.Verify(req); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			got, err := p.Parse(req)
			if code := relay.ErrorCode(err); code != tt.code {
				t.Fatalf("code %q, want %q (%v)", code, tt.code, err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNameAndHeaders(t *testing.T) {
	p := vercel.New(vercel.Config{ClientSecret: secret})
	if p.Name() != "vercel" {
		t.Fatalf("Name = %q", p.Name())
	}
	for _, h := range p.Headers() {
		if h != http.CanonicalHeaderKey(h) {
			t.Errorf("header %q is not canonical", h)
		}
	}
}
