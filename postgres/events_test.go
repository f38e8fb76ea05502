package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/relayhq/relay"
)

// TestInsertEventsManyDuplicates stores one batch that mixes new events
// with several duplicates of stored ones (by delivery id and by body key)
// and of one earlier in the batch: each duplicate gets its own original's
// id and no delivery.
func TestInsertEventsManyDuplicates(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d := &relay.Destination{ID: "dst_1", Name: "app", URL: "http://127.0.0.1:1/", Secret: relay.NewSecret(), CreatedAt: now, UpdatedAt: now}
	if err := s.CreateDestination(ctx, d); err != nil {
		t.Fatal(err)
	}
	item := func(deliveryID, bodyKey string) *relay.IngestItem {
		e := &relay.Event{ID: relay.NewID("evt", now), Provider: "github", DeliveryID: deliveryID, BodyKey: bodyKey, EventType: "push",
			Source: relay.SourceLive, Payload: []byte(`{}`), ReceivedAt: now}
		dl := &relay.Delivery{ID: relay.NewID("dlv", now), DestinationID: d.ID, Status: relay.DeliveryPending,
			Source: relay.SourceLive, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
		return &relay.IngestItem{Event: e, Deliveries: []*relay.Delivery{dl}}
	}
	a, b, c := item("a", ""), item("b", ""), item("c", "key-c")
	if err := s.InsertEvents(ctx, []*relay.IngestItem{a, b, c}); err != nil {
		t.Fatal(err)
	}
	batch := []*relay.IngestItem{item("a", ""), item("x", ""), item("b", ""), item("x", ""), item("c2", "key-c"), item("y", "key-y")}
	if err := s.InsertEvents(ctx, batch); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		dup bool
		id  string
	}{{true, a.Event.ID}, {false, batch[1].Event.ID}, {true, b.Event.ID}, {true, batch[1].Event.ID}, {true, c.Event.ID}, {false, batch[5].Event.ID}}
	for i, w := range want {
		if batch[i].Duplicate != w.dup || batch[i].Event.ID != w.id {
			t.Errorf("item %d (%s): duplicate %v id %s, want %v %s", i, batch[i].Event.DeliveryID, batch[i].Duplicate, batch[i].Event.ID, w.dup, w.id)
		}
	}
	page, err := s.ListDeliveries(ctx, relay.DeliveryFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 5 {
		t.Fatalf("%d deliveries, want 5 (three stored first, then x and y)", len(page.Items))
	}
}
