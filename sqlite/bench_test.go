package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/simulator"
	"github.com/relayhq/relay/sqlite"
)

func benchStore(b *testing.B) (*sqlite.Store, *relay.Destination) {
	s, err := sqlite.Open(filepath.Join(b.TempDir(), "relay.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	d := &relay.Destination{ID: "dst_1", Name: "app", URL: "http://127.0.0.1:1/", Secret: relay.NewSecret(), CreatedAt: now, UpdatedAt: now}
	if err := d.Validate(); err != nil {
		b.Fatal(err)
	}
	if err := s.CreateDestination(context.Background(), d); err != nil {
		b.Fatal(err)
	}
	return s, d
}

func batch(n, off int, dst string) []*relay.IngestItem {
	now := time.Now().UTC()
	payload := simulator.GitHubIssuesPayload(1, 2, "opened")
	items := make([]*relay.IngestItem, n)
	for i := range items {
		e := &relay.Event{ID: relay.NewID("evt", now), Provider: "github", DeliveryID: fmt.Sprintf("d-%d", off+i), EventType: "issues.opened",
			Source: relay.SourceLive, AccountID: "1", ResourceID: "2", Headers: map[string]string{"X-Github-Event": "issues", "User-Agent": "GitHub-Hookshot/1"},
			Payload: payload, ReceivedAt: now}
		items[i] = &relay.IngestItem{Event: e, LeaseOwner: "me", LeaseUntil: now.Add(time.Minute), Deliveries: []*relay.Delivery{{
			ID: relay.NewID("dlv", now), EventID: e.ID, DestinationID: dst, Status: relay.DeliveryPending, Source: relay.SourceLive,
			NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}}}
	}
	return items
}

// BenchmarkInsertEvents stores batches of 64 events with one delivery each
// (the group commit of the hot path); ns/op is per event.
func BenchmarkInsertEvents(b *testing.B) {
	for _, size := range []int{1, 16, 64, 256} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s, d := benchStore(b)
			b.ResetTimer()
			for i := 0; i < b.N; i += size {
				items := batch(size, i, d.ID)
				if err := s.InsertEvents(context.Background(), items); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRecordOutcomes records batches of 64 successful first attempts;
// ns/op is per outcome.
func BenchmarkRecordOutcomes(b *testing.B) {
	s, d := benchStore(b)
	var all []*relay.IngestItem
	for i := 0; i < b.N; i += 64 {
		items := batch(64, i, d.ID)
		if err := s.InsertEvents(context.Background(), items); err != nil {
			b.Fatal(err)
		}
		all = append(all, items...)
	}
	now := time.Now().UTC()
	b.ResetTimer()
	for i := 0; i < len(all); i += 64 {
		var outs []*relay.Outcome
		for _, it := range all[i:min(i+64, len(all))] {
			outs = append(outs, &relay.Outcome{Status: relay.DeliverySucceeded, Step: 1,
				Attempt: relay.Attempt{DeliveryID: it.Deliveries[0].ID, StartedAt: now, StatusCode: 200, Latency: relay.Duration(time.Millisecond)}})
		}
		if err := s.RecordOutcomes(context.Background(), outs, now); err != nil {
			b.Fatal(err)
		}
	}
}
