package linear_test

import (
	"testing"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/linear"
	"github.com/relayhq/relay/simulator"
)

// BenchmarkVerifyParse checks the signature and timestamp of a Linear issue
// webhook and parses it, as ingest does for every request. Run with
// -benchmem to see its allocations.
func BenchmarkVerifyParse(b *testing.B) {
	body := simulator.LinearIssuePayload("org-1", "team-1", "issue-1", now)
	p := linear.New(linear.Config{WebhookSecret: secret})
	req := &relay.WebhookRequest{Header: simulator.LinearWebhook(secret, body, "d-1"), Body: body, ReceivedAt: now}
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
