package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/postgres"
	"github.com/relayhq/relay/simulator"
	"github.com/relayhq/relay/storetest"
)

// BenchmarkInsertEvents stores batches of 64 events with one delivery each;
// ns/op is per event.
func BenchmarkInsertEvents(b *testing.B) {
	s, err := postgres.Open(context.Background(), storetest.PostgresSchemaURL(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	payload := simulator.GitHubIssuesPayload(1, 2, "opened")
	b.ResetTimer()
	for i := 0; i < b.N; i += 64 {
		now := time.Now().UTC()
		items := make([]*relay.IngestItem, 64)
		for j := range items {
			e := &relay.Event{ID: relay.NewID("evt", now), Provider: "github", DeliveryID: fmt.Sprint("d-", i+j), EventType: "issues.opened",
				Source: relay.SourceLive, Payload: payload, ReceivedAt: now}
			items[j] = &relay.IngestItem{Event: e, Deliveries: []*relay.Delivery{{ID: relay.NewID("dlv", now), EventID: e.ID,
				DestinationID: "dst_1", Status: relay.DeliveryPending, Source: relay.SourceLive, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}}}
		}
		if err := s.InsertEvents(context.Background(), items); err != nil {
			b.Fatal(err)
		}
	}
}
