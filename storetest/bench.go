package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
)

// benchBatch is the batch size of the benchmark bodies: about what the ingest
// pipeline and the delivery engine hand the store under load.
const benchBatch = 100

// benchPayload is a GitHub-sized webhook body (about 2 KB).
var benchPayload = []byte(`{"action":"opened","issue":{"number":1,"title":"bench","body":"` + strings.Repeat("x", 2000) +
	`"},"repository":{"id":2,"full_name":"o/r"}}`)

func benchDestination(b *testing.B, s relay.Store) *relay.Destination {
	b.Helper()
	d := &relay.Destination{ID: relay.NewID("dst", t0), Name: "bench", URL: "http://127.0.0.1:9/", Secret: relay.NewSecret(), CreatedAt: t0, UpdatedAt: t0}
	if err := d.Validate(); err != nil {
		b.Fatal(err)
	}
	if err := s.CreateDestination(ctx, d); err != nil {
		b.Fatal(err)
	}
	return d
}

// benchItems returns n new events (delivery ids from off) with one pending
// delivery each, due at t0.
func benchItems(n, off int, dst string) []*relay.IngestItem {
	items := make([]*relay.IngestItem, n)
	for i := range items {
		e := &relay.Event{ID: relay.NewID("evt", t0), Provider: "github", DeliveryID: fmt.Sprintf("bench-%d", off+i),
			EventType: "issues.opened", Source: relay.SourceLive, AccountID: "1", ResourceID: "2",
			Headers: map[string]string{"X-Github-Event": "issues"}, Payload: benchPayload, ReceivedAt: t0}
		items[i] = &relay.IngestItem{Event: e, Deliveries: []*relay.Delivery{{ID: relay.NewID("dlv", t0), EventID: e.ID,
			DestinationID: dst, Status: relay.DeliveryPending, Source: relay.SourceLive, NextAttemptAt: t0, CreatedAt: t0, UpdatedAt: t0}}}
	}
	return items
}

// BenchInsertEvents is the body of a backend's InsertEvents benchmark on the
// fresh, migrated store s: each op stores one batch of 100 events with one
// delivery each (one transaction). It also reports ns/event.
func BenchInsertEvents(b *testing.B, s relay.Store) {
	d := benchDestination(b, s)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.InsertEvents(ctx, benchItems(benchBatch, i*benchBatch, d.ID)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/event")
}

// BenchClaimRecord is the body of a backend's delivery-loop benchmark on the
// fresh, migrated store s: each op claims 100 due deliveries and records 100
// successful outcomes (the inserts feeding it are not timed). It also
// reports ns/delivery.
func BenchClaimRecord(b *testing.B, s relay.Store) {
	d := benchDestination(b, s)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := s.InsertEvents(ctx, benchItems(benchBatch, i*benchBatch, d.ID)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		claims, err := s.ClaimDue(ctx, "bench", t0, time.Minute, benchBatch)
		if err != nil {
			b.Fatal(err)
		}
		if len(claims) != benchBatch {
			b.Fatalf("claimed %d, want %d", len(claims), benchBatch)
		}
		outs := make([]*relay.Outcome, len(claims))
		for j, c := range claims {
			outs[j] = &relay.Outcome{Status: relay.DeliverySucceeded, Step: 1, Attempt: relay.Attempt{DeliveryID: c.Delivery.ID,
				StartedAt: t0, StatusCode: 200, Latency: relay.Duration(time.Millisecond)}}
		}
		if err := s.RecordOutcomes(ctx, outs, t0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/delivery")
}
