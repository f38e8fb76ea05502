package storetest

import (
	"testing"
	"time"

	"github.com/relayhq/relay"
)

// RetentionStore is a store that retention prunes.
type RetentionStore interface {
	relay.Store
	relay.Pruner
}

// RunRetention runs the retention conformance tests; open returns a fresh,
// migrated, empty store.
func RunRetention(t *testing.T, open func(t *testing.T) RetentionStore) {
	t.Run("PruneTerminalOnly", func(t *testing.T) { testPruneTerminalOnly(t, open(t)) })
	t.Run("PruneHeld", func(t *testing.T) { testPruneHeld(t, open(t)) })
}

// finish records one attempt ending the delivery in status.
func finish(t *testing.T, s relay.Store, d *relay.Delivery, status string, at time.Time) {
	t.Helper()
	code := 200
	if status != relay.DeliverySucceeded {
		code = 500
	}
	must(t, s.RecordOutcomes(ctx, []*relay.Outcome{{Status: status, NextAttemptAt: at.Add(time.Hour),
		Attempt: relay.Attempt{DeliveryID: d.ID, StartedAt: at, StatusCode: code}}}, at))
}

// pruneAll runs batches of limit until one says there is no more, and sums them.
func pruneAll(t *testing.T, s relay.Pruner, p relay.Prune) (sum relay.Pruned, batches int) {
	t.Helper()
	for {
		got, err := s.PruneEvents(ctx, p)
		must(t, err)
		batches++
		sum.Events += got.Events
		sum.Deliveries += got.Deliveries
		sum.Attempts += got.Attempts
		sum.Held += got.Held
		if !got.More(p.Limit) {
			return sum, batches
		}
		if batches > 100 {
			t.Fatal("pruning never ends")
		}
	}
}

// testPruneTerminalOnly: events older than the cut-off whose deliveries are
// all succeeded or dead (or that have none) go, with their deliveries and
// attempts; any event with a pending or retrying delivery stays, whatever
// its age, as do newer events and held ones.
func testPruneTerminalOnly(t *testing.T, s RetentionStore) {
	d1, d2 := destination(t, s, "one"), destination(t, s, "two")
	old, cut, recent := t0, t0.Add(time.Hour), t0.Add(2*time.Hour)

	succeeded := item("github", "p-succeeded", "push", "", old, d1)
	deadAndOK := item("github", "p-dead-ok", "push", "", old, d1, d2)
	none := item("github", "p-none", "push", "", old)
	pending := item("github", "p-pending", "push", "", old, d1)
	retrying := item("github", "p-retrying", "push", "", old, d1)
	mixed := item("github", "p-mixed", "push", "", old, d1, d2)
	young := item("github", "p-young", "push", "", recent, d1)
	held := item("github", "p-held", "push", "", old)
	held.Event.Match = relay.MatchUnmatched
	insert(t, s, succeeded, deadAndOK, none, pending, retrying, mixed, young, held)

	finish(t, s, succeeded.Deliveries[0], relay.DeliverySucceeded, old)
	finish(t, s, deadAndOK.Deliveries[0], relay.DeliveryDead, old)
	finish(t, s, deadAndOK.Deliveries[1], relay.DeliverySucceeded, old)
	finish(t, s, retrying.Deliveries[0], relay.DeliveryRetrying, old)
	finish(t, s, mixed.Deliveries[0], relay.DeliverySucceeded, old)
	finish(t, s, mixed.Deliveries[1], relay.DeliveryRetrying, old)
	finish(t, s, young.Deliveries[0], relay.DeliverySucceeded, recent)

	// No cut-off deletes nothing.
	got, err := s.PruneEvents(ctx, relay.Prune{Now: recent})
	must(t, err)
	if got != (relay.Pruned{}) {
		t.Fatalf("a prune without cut-offs deleted %+v", got)
	}

	sum, batches := pruneAll(t, s, relay.Prune{Before: cut, Limit: 2, Now: recent})
	if want := (relay.Pruned{Events: 3, Deliveries: 3, Attempts: 3}); sum != want {
		t.Fatalf("pruned %+v, want %+v", sum, want)
	}
	if batches != 2 {
		t.Fatalf("3 events in batches of 2 took %d batches, want 2", batches)
	}
	for _, it := range []*relay.IngestItem{succeeded, deadAndOK, none} {
		_, err := s.GetEvent(ctx, it.Event.ID, "")
		code(t, err, relay.ENOTFOUND)
		for _, d := range it.Deliveries {
			_, err := s.GetDelivery(ctx, d.ID, "")
			code(t, err, relay.ENOTFOUND)
		}
	}
	for _, it := range []*relay.IngestItem{pending, retrying, mixed, young, held} {
		e, err := s.GetEvent(ctx, it.Event.ID, "")
		must(t, err)
		if len(e.Deliveries) != len(it.Deliveries) {
			t.Fatalf("event %s kept %d of its %d deliveries", it.Event.DeliveryID, len(e.Deliveries), len(it.Deliveries))
		}
		for _, d := range e.Deliveries {
			if len(d.AttemptLog) != d.Attempts {
				t.Fatalf("delivery of %s kept %d of its %d attempts", it.Event.DeliveryID, len(d.AttemptLog), d.Attempts)
			}
		}
	}

	// Once its last delivery succeeds, the retrying event goes too.
	finish(t, s, retrying.Deliveries[0], relay.DeliverySucceeded, recent)
	sum, _ = pruneAll(t, s, relay.Prune{Before: cut, Now: recent})
	if want := (relay.Pruned{Events: 1, Deliveries: 1, Attempts: 2}); sum != want {
		t.Fatalf("second pass pruned %+v, want %+v", sum, want)
	}
	if h, err := s.HeldExpiries(ctx); err != nil || len(h) != 0 {
		t.Fatalf("held expiries %v, %v; want none", h, err)
	}
}

// testPruneHeld: held events expire by their own cut-off, and each
// expiry is counted against its account.
func testPruneHeld(t *testing.T, s RetentionStore) {
	d := destination(t, s, "one")
	held := func(id, account string, at time.Time) *relay.IngestItem {
		it := item("github", id, "push", "", at)
		it.Event.AccountID, it.Event.Match = account, relay.MatchUnmatched
		return it
	}
	a1, a2 := held("h-a1", "acct-a", t0), held("h-a2", "acct-a", t0.Add(10*time.Minute))
	b1, young := held("h-b1", "acct-b", t0), held("h-young", "acct-a", t0.Add(3*time.Hour))
	matched := item("github", "h-matched", "push", "", t0, d)
	insert(t, s, a1, a2, b1, young, matched)
	finish(t, s, matched.Deliveries[0], relay.DeliverySucceeded, t0)

	first := t0.Add(4 * time.Hour)
	sum, _ := pruneAll(t, s, relay.Prune{HeldBefore: t0.Add(time.Hour), Now: first})
	if want := (relay.Pruned{Held: 3}); sum != want {
		t.Fatalf("pruned %+v, want %+v", sum, want)
	}
	for _, it := range []*relay.IngestItem{young, matched} {
		_, err := s.GetEvent(ctx, it.Event.ID, "")
		must(t, err)
	}
	// A later expiry of the same account adds to its count.
	second := first.Add(time.Hour)
	sum, _ = pruneAll(t, s, relay.Prune{HeldBefore: t0.Add(4 * time.Hour), Now: second})
	if sum.Held != 1 || sum.Events != 0 {
		t.Fatalf("second pass pruned %+v, want 1 held", sum)
	}
	got, err := s.HeldExpiries(ctx)
	must(t, err)
	want := []relay.HeldExpiry{
		{Provider: "github", AccountID: "acct-a", Expired: 3, LastExpiredAt: second},
		{Provider: "github", AccountID: "acct-b", Expired: 1, LastExpiredAt: first},
	}
	if len(got) != len(want) {
		t.Fatalf("held expiries %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Provider != want[i].Provider || got[i].AccountID != want[i].AccountID ||
			got[i].Expired != want[i].Expired || !got[i].LastExpiredAt.Equal(want[i].LastExpiredAt) {
			t.Fatalf("held expiries %+v, want %+v", got, want)
		}
	}
}
