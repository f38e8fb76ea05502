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
