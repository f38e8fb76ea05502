package delivery_test

import (
	"context"
	"encoding/json"
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

// replicaStore poses a SQLite store as one several replicas share: it
// records heartbeats, and its sweep releases every lease once told a
// replica died.
type replicaStore struct {
	*sqlite.Store
	mu      sync.Mutex
	beats   []string
	sweeps  []time.Time
	removed []string
	died    bool
}

func (r *replicaStore) Heartbeat(_ context.Context, owner string, _ time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.beats = append(r.beats, owner)
	return nil
}

func (r *replicaStore) ReleaseStaleLeases(ctx context.Context, staleBefore time.Time) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweeps = append(r.sweeps, staleBefore)
	if !r.died {
		return 0, nil
	}
	n, err := r.Store.ReleaseAllLeases(ctx)
	r.died = err != nil
	return n, err
}

func (r *replicaStore) RemoveReplica(_ context.Context, owner string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.removed = append(r.removed, owner)
	return nil
}

// On a shared store the engine registers its heartbeat before claiming,
// keeps it beating, and when a sweep releases a dead replica's leases it
// delivers them at once (no poll runs here); a clean stop removes it.
func TestHeartbeatTakesOverDeadReplica(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "relay.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	store := &replicaStore{Store: s}
	sk := newSink(t, 200)
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	now := clk.Now()
	dst := &relay.Destination{ID: relay.NewID("dst", now), Name: "app", URL: sk.URL, Secret: relay.NewSecret(), CreatedAt: now, UpdatedAt: now}
	if err := s.CreateDestination(ctx, dst); err != nil {
		t.Fatal(err)
	}
	ev := &relay.Event{ID: relay.NewID("evt", now), Provider: "github", DeliveryID: "hb-1", EventType: "push",
		Source: relay.SourceLive, Payload: json.RawMessage(`{}`), ReceivedAt: now}
	item := &relay.IngestItem{Event: ev, LeaseOwner: "dead-replica", LeaseUntil: now.Add(10 * time.Minute),
		Deliveries: []*relay.Delivery{{ID: relay.NewID("dlv", now), EventID: ev.ID, DestinationID: dst.ID,
			Status: relay.DeliveryPending, Source: relay.SourceLive, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}}}
	if err := s.InsertEvents(ctx, []*relay.IngestItem{item}); err != nil {
		t.Fatal(err)
	}

	e := delivery.New(store, nil, metrics.New(), slog.New(slog.DiscardHandler), clk.Now, delivery.Config{
		Owner: "live", PollInterval: time.Hour, RefreshInterval: time.Hour, Lease: 10 * time.Minute,
		HeartbeatInterval: 5 * time.Millisecond, StaleAfter: 40 * time.Millisecond,
	})
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	store.mu.Lock()
	registered := len(store.beats) == 1 && store.beats[0] == "live"
	store.died = true
	store.mu.Unlock()
	if !registered {
		t.Fatal("Start did not register the heartbeat")
	}

	waitFor(t, func() bool { return sk.hits.Load() == 1 })
	if err := e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	if len(store.beats) < 2 || len(store.sweeps) == 0 || !store.sweeps[0].Equal(now.Add(-40*time.Millisecond)) {
		t.Fatalf("beats %v, sweeps %v: want beats on every interval, sweeps of heartbeats older than StaleAfter", store.beats, store.sweeps)
	}
	if len(store.removed) != 1 || store.removed[0] != "live" {
		t.Fatalf("removed %v on a clean stop", store.removed)
	}
}
