package github_test

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/github"
	"github.com/relayhq/relay/simulator"
)

const secret = "gh-test-secret"

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/webhooks/github/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPublishedVector(t *testing.T) {
	p := github.New(github.Config{WebhookSecret: "It's a Secret to Everybody"})
	req := &relay.WebhookRequest{
		Header: http.Header{"X-Hub-Signature-256": {"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}},
		Body:   []byte("Hello, World!"),
	}
	if err := p.Verify(req); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	req.Header.Set("X-GitHub-Delivery", "d-1")
	req.Header.Set("X-GitHub-Event", "ping")
	if _, err := p.Parse(req); relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("Parse of non-JSON: code %q, want %q", relay.ErrorCode(err), relay.EINVALID)
	}
}

func TestVerify(t *testing.T) {
	body := simulator.GitHubIssuesPayload(42, 1296269, "opened")
	p := github.New(github.Config{WebhookSecret: secret})
	tests := []struct {
		name   string
		header func() http.Header
		body   []byte
		code   string
	}{
		{"valid", func() http.Header { return simulator.GitHubWebhook(secret, "issues", "d", body) }, body, ""},
		{"uppercase hex", func() http.Header {
			h := simulator.GitHubWebhook(secret, "issues", "d", body)
			h.Set("X-Hub-Signature-256", "sha256="+upper(h.Get("X-Hub-Signature-256")[7:]))
			return h
		}, body, ""},
		{"tampered body", func() http.Header { return simulator.GitHubWebhook(secret, "issues", "d", body) }, append([]byte(" "), body...), relay.EUNAUTHORIZED},
		{"wrong secret", func() http.Header { return simulator.GitHubWebhook("other", "issues", "d", body) }, body, relay.EUNAUTHORIZED},
		{"missing header", func() http.Header {
			h := simulator.GitHubWebhook(secret, "issues", "d", body)
			h.Del("X-Hub-Signature-256")
			h.Del("X-Hub-Signature")
			return h
		}, body, relay.EUNAUTHORIZED},
		{"only legacy sha1", func() http.Header {
			h := simulator.GitHubWebhook(secret, "issues", "d", body)
			h.Del("X-Hub-Signature-256")
			return h
		}, body, relay.EUNAUTHORIZED},
		{"sha1 value in 256 header", func() http.Header {
			h := simulator.GitHubWebhook(secret, "issues", "d", body)
			h.Set("X-Hub-Signature-256", h.Get("X-Hub-Signature"))
			return h
		}, body, relay.EUNAUTHORIZED},
		{"no prefix", func() http.Header {
			h := simulator.GitHubWebhook(secret, "issues", "d", body)
			h.Set("X-Hub-Signature-256", h.Get("X-Hub-Signature-256")[7:])
			return h
		}, body, relay.EUNAUTHORIZED},
		{"not hex", func() http.Header {
			h := simulator.GitHubWebhook(secret, "issues", "d", body)
			h.Set("X-Hub-Signature-256", "sha256="+string(make([]byte, 64)))
			return h
		}, body, relay.EUNAUTHORIZED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Verify(&relay.WebhookRequest{Header: tt.header(), Body: tt.body, ReceivedAt: time.Now()})
			if got := relay.ErrorCode(err); got != tt.code {
				t.Fatalf("code %q, want %q (%v)", got, tt.code, err)
			}
			if err != nil && strings.Contains(relay.ErrorMessage(err), secret) {
				t.Fatalf("message leaks the secret: %q", relay.ErrorMessage(err))
			}
		})
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func TestParse(t *testing.T) {
	p := github.New(github.Config{WebhookSecret: secret})
	tests := []struct {
		name   string
		event  string
		id     string
		body   []byte
		want   relay.Inbound
		code   string
		noHead string // header to delete
	}{
		{"simulated issues", "issues", "d-1", simulator.GitHubIssuesPayload(4242, 1296269, "opened"),
			relay.Inbound{DeliveryID: "d-1", EventType: "issues.opened", AccountID: "4242", ResourceID: "1296269"}, "", ""},
		{"fixture issues.opened", "issues", "72d3162e-cc78-11e3-81ab-4c9367dc0958", readFixture(t, "issues.opened.json"),
			relay.Inbound{DeliveryID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", EventType: "issues.opened", AccountID: "79929171", ResourceID: "1296269"}, "", ""},
		{"fixture push", "push", "d-2", readFixture(t, "push.json"),
			relay.Inbound{DeliveryID: "d-2", EventType: "push", AccountID: "79929171", ResourceID: "1296269"}, "", ""},
		{"organization only, non-string action", "organization", "d-3", []byte(`{"action":7,"organization":{"id":6811672},"installation":{"id":"5"}}`),
			relay.Inbound{DeliveryID: "d-3", EventType: "organization", AccountID: "5", ResourceID: "6811672"}, "", ""},
		{"no installation", "ping", "d-4", []byte(`{"zen":"Keep it logically awesome.","hook_id":1,"repository":{"id":1}}`),
			relay.Inbound{DeliveryID: "d-4", EventType: "ping", ResourceID: "1"}, "", ""},
		{"not JSON", "issues", "d-5", []byte(`{"action": "opened", `), relay.Inbound{}, relay.EINVALID, ""},
		{"JSON but not an object", "issues", "d-5b", []byte(`[{"action":"opened"}]`), relay.Inbound{}, relay.EINVALID, ""},
		{"JSON null", "issues", "d-5c", []byte(`null`), relay.Inbound{}, relay.EINVALID, ""},
		{"escaped action, string ids", "issues", "d-5d", []byte(`{"action":"re\u006fpened","installation":{"id":"9"},"repository":{"id":null},"organization":{"id":3}}`),
			relay.Inbound{DeliveryID: "d-5d", EventType: "issues.reopened", AccountID: "9", ResourceID: "3"}, "", ""},
		{"missing delivery", "issues", "d-6", []byte(`{}`), relay.Inbound{}, relay.EINVALID, "X-GitHub-Delivery"},
		{"missing event", "issues", "d-7", []byte(`{}`), relay.Inbound{}, relay.EINVALID, "X-GitHub-Event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &relay.WebhookRequest{Header: simulator.GitHubWebhook(secret, tt.event, tt.id, tt.body), Body: tt.body, ReceivedAt: time.Now()}
			if tt.noHead != "" {
				req.Header.Del(tt.noHead)
			}
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
	p := github.New(github.Config{WebhookSecret: secret})
	if p.Name() != "github" {
		t.Fatalf("Name = %q", p.Name())
	}
	for _, h := range p.Headers() {
		if h != http.CanonicalHeaderKey(h) {
			t.Errorf("header %q is not canonical", h)
		}
	}
}

func BenchmarkVerifyParse(b *testing.B) {
	body := simulator.GitHubIssuesPayload(4242, 1296269, "opened")
	p := github.New(github.Config{WebhookSecret: secret})
	req := &relay.WebhookRequest{Header: simulator.GitHubWebhook(secret, "issues", "d-1", body), Body: body, ReceivedAt: time.Now()}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := p.Verify(req); err != nil {
				b.Fatal(err)
			}
			if _, err := p.Parse(req); err != nil {
				b.Fatal(err)
			}
		}
	})
}
