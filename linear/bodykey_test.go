package linear_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/linear"
	"github.com/relayhq/relay/simulator"
)

// Linear-Delivery is not covered by the signature, so Parse also gives the
// hex SHA-256 of the signed body as BodyKey, with or without the header: the
// same body under two delivery ids has one key, another body another.
func TestBodyKey(t *testing.T) {
	p := linear.New(linear.Config{WebhookSecret: secret})
	parse := func(body []byte, delivery string) relay.Inbound {
		t.Helper()
		in, err := p.Parse(&relay.WebhookRequest{Header: simulator.LinearWebhook(secret, body, delivery), Body: body, ReceivedAt: now})
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	body := simulator.LinearIssuePayload("org-1", "team-1", "issue-1", now)
	sum := sha256.Sum256(body)
	want := hex.EncodeToString(sum[:])
	a, b, none := parse(body, "d-1"), parse(body, "d-2"), parse(body, "")
	if a.BodyKey != want || b.BodyKey != want || none.BodyKey != want {
		t.Fatalf("body keys %q, %q, %q; want %q for each", a.BodyKey, b.BodyKey, none.BodyKey, want)
	}
	if a.DeliveryID == b.DeliveryID {
		t.Fatalf("delivery ids %q and %q, want the headers'", a.DeliveryID, b.DeliveryID)
	}
	if other := parse(simulator.LinearIssuePayload("org-1", "team-1", "issue-2", now), "d-3"); other.BodyKey == want {
		t.Fatal("another body has the same key")
	}
}
