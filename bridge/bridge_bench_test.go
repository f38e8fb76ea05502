package bridge_test

import (
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/bridge"
	"github.com/relayhq/relay/simulator"
)

// BenchmarkVerifyParse checks the RSA signature of a Bridge customer webhook
// and parses it, as ingest does for every request. Run with -benchmem to see
// its allocations.
func BenchmarkVerifyParse(b *testing.B) {
	sim := simulator.NewBridge(nil)
	defer sim.Close()
	now := time.Now()
	body := simulator.BridgeCustomerEvent("wh_1", "cust-1", "customer.updated")
	p, err := bridge.New(bridge.Config{PublicKeys: []string{sim.PublicKeyPEM()}})
	if err != nil {
		b.Fatal(err)
	}
	req := &relay.WebhookRequest{Header: sim.Webhook(body, now), Body: body, ReceivedAt: now}
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
