package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/storetest"
)

func TestRetention(t *testing.T) {
	storetest.RunRetention(t, func(t *testing.T) storetest.RetentionStore { return open(t) })
}

// TestPruneOneReplicaAtATime: while another replica holds the retention
// lock, a batch does nothing and says so.
func TestPruneOneReplicaAtATime(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	// Another replica: a connection of its own to the same schema.
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`, int32(0x72657465)); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	got, err := s.PruneEvents(ctx, relay.Prune{Before: now, HeldBefore: now, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Busy {
		t.Fatalf("pruned %+v while another replica held the lock", got)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err = s.PruneEvents(ctx, relay.Prune{Before: now, Now: now}); err != nil || got.Busy {
		t.Fatalf("after the lock was released: %+v, %v", got, err)
	}
}

// TestReplayWaitsForPrune: a replay adding a delivery to an event that
// retention has locked for deletion waits for it, then finds the event
// gone, rather than leaving a pending delivery without its event.
func TestReplayWaitsForPrune(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	d1 := &relay.Destination{ID: relay.NewID("dst", at), Name: "one", URL: "http://127.0.0.1:9/one", Secret: relay.NewSecret(),
		CreatedAt: at, UpdatedAt: at}
	d2 := &relay.Destination{ID: relay.NewID("dst", at), Name: "two", URL: "http://127.0.0.1:9/two", Secret: relay.NewSecret(),
		CreatedAt: at, UpdatedAt: at}
	for _, d := range []*relay.Destination{d1, d2} {
		if err := s.CreateDestination(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	e := &relay.Event{ID: relay.NewID("evt", at), Provider: "github", DeliveryID: "replay-race", EventType: "push",
		Source: relay.SourceLive, Payload: []byte(`{}`), ReceivedAt: at}
	if err := s.InsertEvents(ctx, []*relay.IngestItem{{Event: e}}); err != nil {
		t.Fatal(err)
	}

	// Retention's transaction, stopped after choosing (and locking) the event.
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT id FROM events WHERE id = $1 FOR UPDATE`, e.ID); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.ReplayEvent(ctx, e.ID, "", []string{d2.ID}, at.Add(time.Hour))
		done <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for waiting := false; !waiting; {
		select {
		case err := <-done:
			t.Fatalf("replay went ahead (%v) while retention held the event", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("replay neither finished nor waited")
		}
		if err := s.Pool().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND query LIKE '%FROM events e WHERE e.id = $1 FOR SHARE%')`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM events WHERE id = $1`, e.ID); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("replay of the deleted event: %v, want ENOTFOUND", err)
	}
	var orphans int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE event_id = $1`, e.ID).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	if orphans != 0 {
		t.Fatalf("%d deliveries left without their event", orphans)
	}
}
