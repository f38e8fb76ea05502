package simulator_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/relayhq/relay/simulator"
)

// The simulator's signers reproduce the providers' published test vectors.
func TestPublishedVectors(t *testing.T) {
	gh := simulator.GitHubWebhook("It's a Secret to Everybody", "ping", "d", []byte("Hello, World!"))
	if got, want := gh.Get("X-Hub-Signature-256"), "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"; got != want {
		t.Errorf("GitHub signature %q, want %q", got, want)
	}
	sw := simulator.StandardWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if got, want := sw.Get("Webhook-Signature"), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Standard Webhooks signature %q, want %q", got, want)
	}
}

func TestPayloads(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name string
		body []byte
	}{
		{"github", simulator.GitHubIssuesPayload(1, 2, "opened")},
		{"github quoted action", simulator.GitHubIssuesPayload(1, 2, `a"b`)},
		{"linear", simulator.LinearIssuePayload("o", "t", "i", now)},
		{"sentry", simulator.SentryIssuePayload("u", "1")},
		{"vercel", simulator.VercelDeploymentPayload("e", "t", "p")},
		{"vercel personal", simulator.VercelDeploymentPayload("e", "", "p")},
	}
	for _, tt := range tests {
		if !json.Valid(tt.body) {
			t.Errorf("%s: body is not valid JSON", tt.name)
		}
	}
	a, b := simulator.GitHubIssuesPayload(1, 2, "opened"), simulator.GitHubIssuesPayload(1, 3, "opened")
	if string(a) == string(b) {
		t.Error("GitHub bodies do not vary with repoID")
	}
	if n := len(a); n < 1500 || n > 3000 {
		t.Errorf("GitHub body is %d bytes, want about 2 KB", n)
	}
	var lin struct {
		WebhookTimestamp int64 `json:"webhookTimestamp"`
	}
	if err := json.Unmarshal(simulator.LinearIssuePayload("o", "t", "i", now), &lin); err != nil || lin.WebhookTimestamp != now.UnixMilli() {
		t.Errorf("Linear webhookTimestamp %d, want %d (%v)", lin.WebhookTimestamp, now.UnixMilli(), err)
	}
	if h := simulator.LinearWebhook("s", []byte(`{}`), ""); h.Get("Linear-Delivery") != "" {
		t.Error("LinearWebhook set Linear-Delivery for an empty id")
	}
}
