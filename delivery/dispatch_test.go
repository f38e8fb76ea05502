package delivery_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/delivery"
	"github.com/relayhq/relay/metrics"
	"github.com/relayhq/relay/sqlite"
)

// blockingReleases is a store whose ReleaseLeases waits until unblock is
// closed, announcing each call on released.
type blockingReleases struct {
	relay.Store
	unblock  chan struct{}
	released chan []string
}

func (s *blockingReleases) ReleaseLeases(ctx context.Context, owner string, ids []string) error {
	<-s.unblock
	s.released <- ids
	return s.Store.ReleaseLeases(ctx, owner, ids)
}

// Dispatch runs on the ingest committer: handing it deliveries it cannot
// send (here to a disabled destination) must not make it wait for the
// store to give their leases back.
func TestDispatchDoesNotWriteOnTheCallersGoroutine(t *testing.T) {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "relay.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	store := &blockingReleases{Store: s, unblock: make(chan struct{}), released: make(chan []string, 1)}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	e := delivery.New(store, nil, metrics.New(), slog.New(slog.DiscardHandler), func() time.Time { return now },
		delivery.Config{Owner: "test", PollInterval: time.Hour, RefreshInterval: time.Hour})
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	var once sync.Once
	unblock := func() { once.Do(func() { close(store.unblock) }) }
	t.Cleanup(unblock)

	dst := &relay.Destination{ID: "dst_1", MaxConcurrency: 1, Disabled: true}
	claim := &relay.Claim{Delivery: &relay.Delivery{ID: "dlv_1"}, Event: &relay.Event{ID: "evt_1"}, Destination: dst}
	res := e.Reserve(1, []string{dst.ID})
	if res == nil {
		t.Fatal("no room reserved")
	}
	dispatched := make(chan struct{})
	go func() { res.Dispatch([]*relay.Claim{claim}); close(dispatched) }()
	select {
	case <-dispatched:
	case <-time.After(10 * time.Second):
		t.Fatal("Dispatch waited for the store to release the leases")
	}
	unblock()
	if ids := <-store.released; len(ids) != 1 || ids[0] != "dlv_1" {
		t.Fatalf("released %v, want [dlv_1]", ids)
	}
}

// A reservation takes room for all its deliveries or none; dispatching
// frees the room of those not handed over, and a destination paused by its
// circuit breaker gets no room (its deliveries would only be handed back).
func TestReservationRoom(t *testing.T) {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "relay.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	e := delivery.New(s, nil, metrics.New(), slog.New(slog.DiscardHandler), func() time.Time { return now },
		delivery.Config{Owner: "test", Capacity: 2, PollInterval: time.Hour, RefreshInterval: time.Hour})
	t.Cleanup(func() { _ = e.Stop(context.Background()) })

	res := e.Reserve(2, []string{"dst_1", "dst_1"})
	if res == nil {
		t.Fatal("no room for 2 of 2")
	}
	if e.Reserve(1, []string{"dst_1"}) != nil {
		t.Fatal("room for a third delivery past capacity")
	}
	res.Dispatch(nil) // both were duplicates
	if again := e.Reserve(2, []string{"dst_1", "dst_1"}); again == nil {
		t.Fatal("room not freed by dispatching no claim")
	} else {
		again.Cancel()
	}

	paused := &relay.Destination{ID: "dst_paused", MaxConcurrency: 1, PausedUntil: now.Add(time.Hour)}
	res = e.Reserve(1, []string{paused.ID})
	if res == nil {
		t.Fatal("no room before the engine knew of the pause")
	}
	res.Dispatch([]*relay.Claim{{Delivery: &relay.Delivery{ID: "dlv_p"}, Event: &relay.Event{ID: "evt_p"}, Destination: paused}})
	if e.Reserve(1, []string{"dst_1", paused.ID}) != nil {
		t.Fatal("room reserved for a paused destination")
	}
}
