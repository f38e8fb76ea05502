package storetest

import (
	"sync"
	"testing"

	"github.com/relayhq/relay"
)

// testBodyKeyDuplicates: an event is a duplicate when its (provider,
// BodyKey) is taken, whatever its delivery id, stored earlier or earlier in
// the batch; an empty BodyKey never matches, and another provider's same key
// does not either.
func testBodyKeyDuplicates(t *testing.T, s relay.Store) {
	d := destination(t, s, "app")
	keyed := func(provider, deliveryID, key string) *relay.IngestItem {
		it := item(provider, deliveryID, "Issue.create", "", t0, d)
		it.Event.BodyKey = key
		return it
	}
	first := keyed("linear", "d-1", "k-1")
	insert(t, s, first)
	replayed := keyed("linear", "d-2", "k-1")
	inBatchA, inBatchB := keyed("linear", "d-3", "k-2"), keyed("linear", "d-4", "k-2")
	otherProvider := keyed("acme", "d-1", "k-1")
	unkeyedA, unkeyedB := keyed("linear", "d-5", ""), keyed("linear", "d-6", "")
	insert(t, s, replayed, inBatchA, inBatchB, otherProvider, unkeyedA, unkeyedB)
	if !replayed.Duplicate || replayed.Event.ID != first.Event.ID {
		t.Fatalf("same body key, new delivery id: duplicate=%v id=%s, want true and %s", replayed.Duplicate, replayed.Event.ID, first.Event.ID)
	}
	if inBatchA.Duplicate || !inBatchB.Duplicate || inBatchB.Event.ID != inBatchA.Event.ID {
		t.Fatalf("same body key within a batch: %v/%v ids %s %s", inBatchA.Duplicate, inBatchB.Duplicate, inBatchA.Event.ID, inBatchB.Event.ID)
	}
	if otherProvider.Duplicate || unkeyedA.Duplicate || unkeyedB.Duplicate {
		t.Fatalf("marked duplicate: other provider %v, empty keys %v %v", otherProvider.Duplicate, unkeyedA.Duplicate, unkeyedB.Duplicate)
	}
	// The delivery id still decides on its own.
	sameDelivery := keyed("linear", "d-1", "k-9")
	insert(t, s, sameDelivery)
	if !sameDelivery.Duplicate || sameDelivery.Event.ID != first.Event.ID {
		t.Fatalf("same delivery id, new body key: duplicate=%v id=%s", sameDelivery.Duplicate, sameDelivery.Event.ID)
	}
	page, err := s.ListEvents(ctx, relay.EventFilter{})
	must(t, err)
	dp, err := s.ListDeliveries(ctx, relay.DeliveryFilter{})
	must(t, err)
	if len(page.Items) != 5 || len(dp.Items) != 5 {
		t.Fatalf("%d events and %d deliveries, want 5 and 5", len(page.Items), len(dp.Items))
	}
}

// testBodyKeyConcurrent: inserts with one body key and different delivery
// ids, each in its own transaction at once (replicas), store one event, and
// every other insert names it.
func testBodyKeyConcurrent(t *testing.T, s relay.Store) {
	d := destination(t, s, "app")
	const n = 8
	items := make([]*relay.IngestItem, n)
	for i := range items {
		items[i] = item("linear", relay.NewID("dlv", t0), "Issue.create", "", t0, d)
		items[i].Event.BodyKey = "same-body"
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, it := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.InsertEvents(ctx, []*relay.IngestItem{it})
		}()
	}
	wg.Wait()
	var stored []string
	for i, it := range items {
		must(t, errs[i])
		if !it.Duplicate {
			stored = append(stored, it.Event.ID)
		}
	}
	if len(stored) != 1 {
		t.Fatalf("%d events stored, want 1", len(stored))
	}
	for _, it := range items {
		if it.Event.ID != stored[0] {
			t.Fatalf("duplicate names %s, want %s", it.Event.ID, stored[0])
		}
	}
}
