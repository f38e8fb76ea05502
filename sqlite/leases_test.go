package sqlite_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/relayhq/relay"
)

// After a crash every lease in the database is a dead process's: released
// at start-up, the deliveries are claimable at once, not when the lease ends.
func TestReleaseAllLeases(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	d := &relay.Destination{ID: "dst_1", Name: "app", URL: "http://127.0.0.1:9/", Secret: relay.NewSecret(), CreatedAt: now, UpdatedAt: now}
	if err := s.CreateDestination(ctx, d); err != nil {
		t.Fatal(err)
	}
	item := func(id string) *relay.IngestItem {
		e := &relay.Event{ID: relay.NewID("evt", now), Provider: "github", DeliveryID: id, EventType: "push",
			Source: relay.SourceLive, Payload: json.RawMessage(`{}`), ReceivedAt: now}
		return &relay.IngestItem{Event: e, Deliveries: []*relay.Delivery{{ID: relay.NewID("dlv", now), EventID: e.ID,
			DestinationID: d.ID, Status: relay.DeliveryPending, Source: relay.SourceLive, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}}}
	}
	leased, claimedLater, done := item("a"), item("b"), item("c")
	leased.LeaseOwner, leased.LeaseUntil = "dead-process", now.Add(10*time.Minute)
	if err := s.InsertEvents(ctx, []*relay.IngestItem{leased, claimedLater, done}); err != nil {
		t.Fatal(err)
	}
	if c, err := s.ClaimDue(ctx, "dead-process", now, 10*time.Minute, 10); err != nil || len(c) != 2 {
		t.Fatalf("claim: %d %v", len(c), err)
	}
	if err := s.RecordOutcomes(ctx, []*relay.Outcome{{Status: relay.DeliverySucceeded, Owner: "dead-process",
		Attempt: relay.Attempt{DeliveryID: done.Deliveries[0].ID, StartedAt: now, StatusCode: 200}}}, now); err != nil {
		t.Fatal(err)
	}

	n, err := s.ReleaseAllLeases(ctx)
	if err != nil || n != 2 {
		t.Fatalf("released %d (%v), want the 2 undelivered", n, err)
	}
	c, err := s.ClaimDue(ctx, "new-process", now.Add(time.Second), time.Minute, 10)
	if err != nil || len(c) != 2 {
		t.Fatalf("claimed %d (%v) after the release, want 2", len(c), err)
	}
	if got, _ := s.GetDelivery(ctx, done.Deliveries[0].ID, ""); got.Status != relay.DeliverySucceeded {
		t.Fatalf("a delivered delivery changed: %+v", got)
	}
}
