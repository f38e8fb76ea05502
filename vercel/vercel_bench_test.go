package vercel_test

import (
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/simulator"
	"github.com/relayhq/relay/vercel"
)

// BenchmarkVerifyParse checks the signature of a Vercel deployment webhook
// and parses it, as ingest does for every request. Run with -benchmem to see
// its allocations.
func BenchmarkVerifyParse(b *testing.B) {
	body := simulator.VercelDeploymentPayload("evt_1", "team_1", "prj_1")
	p := vercel.New(vercel.Config{ClientSecret: secret})
	req := &relay.WebhookRequest{Header: simulator.VercelWebhook(secret, body), Body: body, ReceivedAt: time.Now()}
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
