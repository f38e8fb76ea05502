package storetest

import (
	"github.com/relayhq/relay"
	"testing"
	"time"
)

// testReceivedAtMilliseconds: an event is stored with its received_at in
// whole milliseconds on every backend, so envelopes and the API show the
// same precision whichever database is behind them.
func testReceivedAtMilliseconds(t *testing.T, s relay.Store) {
	d := destination(t, s, "app")
	at := t0.Add(123456789 * time.Nanosecond)
	it := item("github", "ms-1", "push", "", at, d)
	insert(t, s, it)
	got, err := s.GetEvent(ctx, it.Event.ID, "")
	must(t, err)
	if want := t0.Add(123 * time.Millisecond); !got.ReceivedAt.Equal(want) {
		t.Fatalf("received_at stored as %v, want %v", got.ReceivedAt, want)
	}
}
