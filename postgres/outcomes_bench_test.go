package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/simulator"
)

// BenchmarkRecordOutcomes records batches of 64 successful first attempts of
// deliveries this replica holds the lease of, as the delivery engine does
// after sending (the inserts feeding it are not timed); ns/op is per outcome.
// It needs RELAY_TEST_DATABASE_URL.
func BenchmarkRecordOutcomes(b *testing.B) {
	const size = 64
	ctx := context.Background()
	s := open(b)
	now := time.Now().UTC()
	d := &relay.Destination{ID: "dst_1", Name: "app", URL: "http://127.0.0.1:1/", Secret: relay.NewSecret(), CreatedAt: now, UpdatedAt: now}
	if err := d.Validate(); err != nil {
		b.Fatal(err)
	}
	if err := s.CreateDestination(ctx, d); err != nil {
		b.Fatal(err)
	}
	payload := simulator.GitHubIssuesPayload(1, 2, "opened")
	var held []*relay.Delivery
	for off := 0; off < b.N; off += size {
		items := make([]*relay.IngestItem, min(size, b.N-off))
		for i := range items {
			e := &relay.Event{ID: relay.NewID("evt", now), Provider: "github", DeliveryID: fmt.Sprintf("d-%d", off+i), EventType: "issues.opened",
				Source: relay.SourceLive, AccountID: "1", ResourceID: "2", Headers: map[string]string{"X-Github-Event": "issues"},
				Payload: payload, ReceivedAt: now}
			dl := &relay.Delivery{ID: relay.NewID("dlv", now), EventID: e.ID, DestinationID: d.ID, Status: relay.DeliveryPending,
				Source: relay.SourceLive, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
			items[i] = &relay.IngestItem{Event: e, Deliveries: []*relay.Delivery{dl}, LeaseOwner: "me", LeaseUntil: now.Add(time.Hour)}
			held = append(held, dl)
		}
		if err := s.InsertEvents(ctx, items); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < len(held); i += size {
		var outs []*relay.Outcome
		for _, dl := range held[i:min(i+size, len(held))] {
			outs = append(outs, &relay.Outcome{Status: relay.DeliverySucceeded, Step: 1, Owner: "me",
				Attempt: relay.Attempt{DeliveryID: dl.ID, StartedAt: now, StatusCode: 200, Latency: relay.Duration(time.Millisecond)}})
		}
		if err := s.RecordOutcomes(ctx, outs, now); err != nil {
			b.Fatal(err)
		}
	}
}
