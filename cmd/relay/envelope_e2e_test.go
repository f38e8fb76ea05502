package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"

	relayhttp "github.com/relayhq/relay/http"
	"github.com/relayhq/relay/simulator"
)

// Every attempt of a delivery sends the same bytes: the first attempt (built
// from the event just received) and a retry (built from the stored event)
// alike; a replay differs only in source, and the API shows the envelope's
// received_at.
func TestEnvelopeStableAcrossAttempts(t *testing.T) {
	sink := newCollector(t)
	sink.mu.Lock()
	sink.code = http.StatusInternalServerError // the first attempt fails
	sink.mu.Unlock()
	p := startRelay(t, fmt.Sprintf(`
admin_api_key: %q
log_level: warn
providers:
  github: {webhook_secret: %q}
destinations:
  - {name: app, url: %q, secret: %q}
delivery:
  retry_schedule: [0s, 50ms, 50ms, 50ms, 50ms]
`, testAdminKey, testGitHub, sink.URL, testDestination), nil)

	body := simulator.GitHubIssuesPayload(4242, 7, "opened")
	if code, out := post(t, p.url+"/webhooks/github", simulator.GitHubWebhook(testGitHub, "issues", "stable-1", body), body); code != http.StatusAccepted {
		t.Fatalf("webhook: %d %s", code, out)
	}
	waitUntil(t, "first attempt", func() bool { return len(sink.all()) >= 1 })
	sink.mu.Lock()
	sink.code = http.StatusOK
	sink.mu.Unlock()
	waitUntil(t, "a successful retry", func() bool {
		got := sink.all()
		return len(got) >= 2 && got[len(got)-1].code == http.StatusOK
	})
	got := sink.all()
	first := got[0].body
	for i, d := range got[1:] {
		if !bytes.Equal(d.body, first) {
			t.Fatalf("attempt %d sent other bytes than the first (received_at %v, first %v)", i+2, d.env["received_at"], got[0].env["received_at"])
		}
	}

	// A replay: the same envelope but for its source.
	c := relayhttp.NewClient(p.url, testAdminKey)
	id, _ := got[0].env["id"].(string)
	if _, err := c.ReplayEvent(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	n := len(got)
	waitUntil(t, "the replay", func() bool { return len(sink.all()) > n })
	replay := sink.all()[n].body
	want := bytes.Replace(first, []byte(`"source":"live"`), []byte(`"source":"replay"`), 1)
	if !bytes.Equal(replay, want) {
		t.Fatalf("replay sent\n%s\nwant\n%s", replay, want)
	}

	// The API shows the same received_at, to the character.
	var ev map[string]any
	if code := apiGet(t, p.url+"/api/v1/events/"+id, &ev); code != http.StatusOK {
		t.Fatalf("get event: %d", code)
	}
	if ev["received_at"] != got[0].env["received_at"] {
		t.Fatalf("API received_at %v, envelope %v", ev["received_at"], got[0].env["received_at"])
	}
}
