package persona_test

import (
	"testing"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/persona"
	"github.com/relayhq/relay/simulator"
)

// BenchmarkVerifyParse checks the signature of a Persona inquiry webhook and
// parses it, as ingest does for every request. Run with -benchmem to see its
// allocations.
func BenchmarkVerifyParse(b *testing.B) {
	sim := simulator.NewPersona(nil)
	defer sim.Close()
	body := simulator.PersonaEvent("evt_1", "inquiry.approved", "act_1", "user-1")
	p, err := persona.New(persona.Config{WebhookSecrets: []string{sim.WebhookSecret}})
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
