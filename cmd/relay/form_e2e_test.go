package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/relayhq/relay/simulator"
)

// A GitHub hook configured with content type
// application/x-www-form-urlencoded: its signed form delivery is accepted,
// and the destination receives the JSON of its payload field, unchanged; a
// form with a bad signature is 401, one without payload 400.
func TestGitHubFormEncodedDelivery(t *testing.T) {
	sink := newCollector(t)
	p := startRelay(t, e2eConfig(sink.URL), nil)
	js := simulator.GitHubIssuesPayload(4242, 1296269, "opened")
	form := func(secret, delivery string, body []byte) http.Header {
		h := simulator.GitHubWebhook(secret, "issues", delivery, body)
		h.Set("Content-Type", "application/x-www-form-urlencoded")
		return h
	}
	body := []byte(url.Values{"payload": {string(js)}}.Encode())
	code, answer := post(t, p.url+"/webhooks/github", form(testGitHub, "form-1", body), body)
	if code != http.StatusAccepted {
		t.Fatalf("form delivery: %d %s, want 202", code, answer)
	}
	waitUntil(t, "the delivery", func() bool { return len(sink.all()) == 1 })
	var env struct {
		Payload   json.RawMessage `json:"payload"`
		EventType string          `json:"event_type"`
	}
	if err := json.Unmarshal(sink.all()[0].body, &env); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(env.Payload, js) || env.EventType != "issues.opened" {
		t.Fatalf("delivered %s %.80s, want the JSON payload unchanged", env.EventType, env.Payload)
	}

	if code, answer := post(t, p.url+"/webhooks/github", form("wrong-secret", "form-2", body), body); code != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d %s, want 401", code, answer)
	}
	noPayload := []byte(url.Values{"other": {string(js)}}.Encode())
	if code, answer := post(t, p.url+"/webhooks/github", form(testGitHub, "form-3", noPayload), noPayload); code != http.StatusBadRequest {
		t.Fatalf("no payload field: %d %s, want 400", code, answer)
	}
}
