package github_test

import (
	"net/url"
	"testing"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/github"
	"github.com/relayhq/relay/simulator"
)

// formRequest is a delivery of a hook configured with content type
// application/x-www-form-urlencoded: the signature covers the form body.
func formRequest(body []byte) *relay.WebhookRequest {
	h := simulator.GitHubWebhook(secret, "issues", "d-form", body)
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	return &relay.WebhookRequest{Header: h, Body: body}
}

func TestParseFormEncoded(t *testing.T) {
	p := github.New(github.Config{WebhookSecret: secret})
	js := simulator.GitHubIssuesPayload(42, 1296269, "opened")
	req := formRequest([]byte(url.Values{"payload": {string(js)}}.Encode()))
	if err := p.Verify(req); err != nil {
		t.Fatalf("Verify over the raw form body: %v", err)
	}
	in, err := p.Parse(req)
	if err != nil {
		t.Fatal(err)
	}
	if in.Payload != string(js) || in.EventType != "issues.opened" || in.AccountID != "42" || in.ResourceID != "1296269" {
		t.Fatalf("parsed %+v (payload %.60s)", in, in.Payload)
	}
	// A charset parameter is still the form content type.
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if in, err := p.Parse(req); err != nil || in.Payload != string(js) {
		t.Fatalf("with charset: %+v %v", in, err)
	}
	// A JSON delivery is stored as it came.
	jreq := &relay.WebhookRequest{Header: simulator.GitHubWebhook(secret, "issues", "d-json", js), Body: js}
	if in, err := p.Parse(jreq); err != nil || in.Payload != "" {
		t.Fatalf("JSON delivery: %+v %v", in, err)
	}

	for name, body := range map[string]string{
		"no payload field":  url.Values{"other": {string(js)}}.Encode(),
		"payload not JSON":  url.Values{"payload": {"not json"}}.Encode(),
		"not a form at all": "%zz",
	} {
		if _, err := p.Parse(formRequest([]byte(body))); relay.ErrorCode(err) != relay.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
}
