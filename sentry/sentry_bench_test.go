package sentry_test

import (
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/sentry"
	"github.com/relayhq/relay/simulator"
)

// BenchmarkVerifyParse checks the signature of a Sentry issue webhook and
// parses it, as ingest does for every request. Run with -benchmem to see its
// allocations.
func BenchmarkVerifyParse(b *testing.B) {
	now := time.Now()
	body := simulator.SentryIssuePayload("inst-1", "1001")
	p := sentry.New(sentry.Config{ClientSecret: secret})
	req := &relay.WebhookRequest{Header: simulator.SentryWebhook(secret, "issue", body, now), Body: body, ReceivedAt: now}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Verify(req); err != nil {
			b.Fatal(err)
		}
		if _, err := p.Parse(req); err != nil {
			b.Fatal(err)
		}
	}
}
