package sentry_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/sentry"
	"github.com/relayhq/relay/simulator"
)

// Sentry-Hook-Resource is not signed: a signed body of another resource
// re-sent as "installation" must not be read as an uninstall.
func TestLifecycleChecksTheBodyShape(t *testing.T) {
	const secret = "sentry-client-secret"
	p := sentry.New(sentry.Config{ClientSecret: secret})
	issue := string(readFixture(t, "issue.created.json"))
	deleted := string(readFixture(t, "installation.deleted.json"))
	for name, body := range map[string]string{
		"issue body":                  strings.Replace(issue, `"action": "created"`, `"action": "deleted"`, 1),
		"installation carrying issue": strings.Replace(deleted, `"data": {`, `"data": {"issue": {"id": "1"}, `, 1),
		"no data.installation":        `{"action":"deleted","installation":{"uuid":"` + uuid + `"},"data":{}}`,
	} {
		t.Run(name, func(t *testing.T) {
			b := []byte(body)
			req := &relay.WebhookRequest{Header: simulator.SentryWebhook(secret, "installation", b, time.Now()), Body: b}
			if err := p.Verify(req); err != nil {
				t.Fatal(err)
			}
			in, err := p.Parse(req)
			if err != nil {
				t.Fatal(err)
			}
			if ch, ok := p.Lifecycle(in, b); ok {
				t.Fatalf("%s: %+v, want no lifecycle change", in.EventType, ch)
			}
		})
	}
}

// ConfirmLifecycle reads the installation with its token: there, the
// uninstall is not confirmed; gone (401 or 404), it is.
func TestConfirmLifecycle(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	g, err := f.c.Exchange(ctx, f.install(t), callback, "")
	if err != nil {
		t.Fatal(err)
	}
	claim := &relay.LifecycleChange{AccountID: uuid, Status: relay.ConnectionRevoked, Reason: "claimed"}
	ch, err := f.c.ConfirmLifecycle(ctx, g.Connection, g.Token, claim)
	if err != nil || ch.Status != "" {
		t.Fatalf("still installed: %+v %v, want no change", ch, err)
	}
	f.sim.FailNext("get_installation", 503, 1)
	if _, err := f.c.ConfirmLifecycle(ctx, g.Connection, g.Token, claim); relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Fatalf("Sentry down: %v, want EUNAVAILABLE", err)
	}
	// An expired token's refusal says nothing about the installation.
	expired := *g.Token
	expired.ExpiresAt = f.now.Add(-time.Minute)
	f.sim.RemoveInstallation(uuid)
	if _, err := f.c.ConfirmLifecycle(ctx, g.Connection, &expired, claim); relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Fatalf("expired token: %v, want EUNAVAILABLE", err)
	}
	ch, err = f.c.ConfirmLifecycle(ctx, g.Connection, g.Token, claim)
	if err != nil || ch.Status != relay.ConnectionRevoked || ch.AccountID != uuid {
		t.Fatalf("uninstalled: %+v %v", ch, err)
	}
}
