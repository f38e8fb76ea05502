package delivery_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// During a rotation's overlap every delivery carries two signatures, the
// new secret's first, so a consumer verifying with either accepts it;
// after the overlap only the new secret signs.
func TestRotatedSecretSignsWithBothDuringOverlap(t *testing.T) {
	s := newSink(t, http.StatusOK)
	f := newFixture(t, s.URL)
	ctx := context.Background()
	old := f.dst.Secret
	next := "whsec_" + strings.Repeat("QUJD", 8) // 24 bytes
	if err := f.store.RotateDestinationSecret(ctx, f.dst.ID, next, f.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := f.engine.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	verify := func(secret string, r received) error {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		// The library checks the timestamp against the wall clock; the
		// fixture's clock is in the past, so check it without.
		return wh.VerifyIgnoringTimestamp(r.body, r.header)
	}

	_, d := f.addEvent(t)
	f.pollUntil(t, d.ID, 1)
	got := s.received()
	if len(got) != 1 {
		t.Fatalf("received %d", len(got))
	}
	sig := got[0].header.Get("Webhook-Signature")
	if parts := strings.Split(sig, " "); len(parts) != 2 {
		t.Fatalf("webhook-signature %q: want two signatures during the overlap", sig)
	}
	for name, secret := range map[string]string{"old": old, "new": next} {
		if err := verify(secret, got[0]); err != nil {
			t.Errorf("a consumer with only the %s secret rejects the delivery: %v", name, err)
		}
	}
	ts, err := strconv.ParseInt(got[0].header.Get("Webhook-Timestamp"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if wh, _ := standardwebhooks.NewWebhook(next); wh != nil {
		want, _ := wh.Sign(got[0].header.Get("Webhook-Id"), time.Unix(ts, 0), got[0].body)
		if !strings.HasPrefix(sig, want+" ") {
			t.Errorf("webhook-signature %q does not start with the new secret's %q", sig, want)
		}
	}

	// After the overlap: the new secret only.
	f.clock.Advance(time.Hour + time.Second)
	_, d2 := f.addEvent(t)
	f.pollUntil(t, d2.ID, 1)
	got = s.received()
	last := got[len(got)-1]
	if sig := last.header.Get("Webhook-Signature"); strings.Contains(sig, " ") {
		t.Errorf("webhook-signature %q after the overlap: want one signature", sig)
	}
	if err := verify(next, last); err != nil {
		t.Errorf("new secret after the overlap: %v", err)
	}
	if err := verify(old, last); err == nil {
		t.Error("the old secret still verifies after the overlap")
	}
}
