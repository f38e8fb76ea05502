package ops_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/metrics"
	"github.com/relayhq/relay/ops"
	"github.com/relayhq/relay/sqlite"
)

func TestSubscribed(t *testing.T) {
	tests := []struct {
		d    relay.Destination
		want bool
	}{
		{relay.Destination{}, false},
		{relay.Destination{Providers: []string{"github"}}, false},
		{relay.Destination{Providers: []string{"github", "relay"}}, true},
		{relay.Destination{EventTypes: []string{"relay.*"}}, true},
		{relay.Destination{EventTypes: []string{"relay.pairing.ambiguous"}}, true},
		{relay.Destination{EventTypes: []string{"*"}}, false},
	}
	for _, tt := range tests {
		if got := ops.Subscribed(&tt.d); got != tt.want {
			t.Errorf("%+v: %v, want %v", tt.d, got, tt.want)
		}
	}
}

func TestEmit(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "relay.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Now().UTC() }
	sub := &relay.Destination{ID: "dst_ops", Name: "ops", URL: "http://127.0.0.1:9/", Secret: relay.NewSecret(), Providers: []string{"relay"}}
	other := &relay.Destination{ID: "dst_all", Name: "all", URL: "http://127.0.0.1:9/", Secret: relay.NewSecret()}
	orgOnly := &relay.Destination{ID: "dst_b", Name: "b", URL: "http://127.0.0.1:9/", Secret: relay.NewSecret(), OrgID: "org_b", EventTypes: []string{"relay.*"}}
	for _, d := range []*relay.Destination{sub, other, orgOnly} {
		d.CreatedAt, d.UpdatedAt = now(), now()
		if err := store.CreateDestination(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	route := func(e *relay.Event) []*relay.Destination {
		var out []*relay.Destination
		for _, d := range []*relay.Destination{sub, other, orgOnly} {
			if d.Matches(e.Provider, e.EventType, e.OrgID) {
				out = append(out, d)
			}
		}
		return out
	}
	woken := 0
	em := ops.New(store, route, func() { woken++ }, metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)), now)
	data := map[string]any{"connection_id": "con_1"}
	for range 2 { // the same key twice: stored once
		if err := em.Emit(ctx, ops.ConnectionRevoked, "con_1:1", "org_a", "con_1", data); err != nil {
			t.Fatal(err)
		}
	}
	page, err := store.ListEvents(ctx, relay.EventFilter{Provider: ops.Provider, Limit: 10})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("events %+v %v", page, err)
	}
	e, _ := store.GetEvent(ctx, page.Items[0].ID, "")
	if e.EventType != ops.ConnectionRevoked || e.OrgID != "org_a" || e.Match != relay.MatchMatched || len(e.Deliveries) != 1 ||
		e.Deliveries[0].DestinationID != sub.ID || woken == 0 {
		t.Fatalf("event %+v, deliveries %+v", e, e.Deliveries)
	}

	// EmitLater is stored by Run.
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { em.Run(rctx); close(done) }()
	em.EmitLater(ops.DeliveryExhausted, "dlv_1:8", "org_b", "", map[string]any{"delivery_id": "dlv_1"})
	deadline := time.Now().Add(5 * time.Second)
	for {
		page, _ = store.ListEvents(ctx, relay.EventFilter{Provider: ops.Provider, EventType: ops.DeliveryExhausted, Limit: 10})
		if len(page.Items) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if len(page.Items) != 1 {
		t.Fatal("EmitLater's event was not stored")
	}
	e, _ = store.GetEvent(ctx, page.Items[0].ID, "")
	if len(e.Deliveries) != 2 { // the subscriber and org_b's relay.* destination
		t.Fatalf("deliveries %+v", e.Deliveries)
	}
}

// captured records the items an emitter stores.
type captured struct{ items []*relay.IngestItem }

func (c *captured) InsertEvents(_ context.Context, items []*relay.IngestItem) error {
	c.items = append(c.items, items...)
	return nil
}

// An operational event is created at the millisecond precision every event
// carries, like a received one.
func TestEmitReceivedAtMilliseconds(t *testing.T) {
	store := &captured{}
	at := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	em := ops.New(store, func(*relay.Event) []*relay.Destination { return nil }, func() {}, metrics.New(),
		slog.New(slog.DiscardHandler), func() time.Time { return at })
	if err := em.Emit(context.Background(), ops.ConnectionRevoked, "con_1:1", "", "con_1", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	if len(store.items) != 1 {
		t.Fatalf("%d events stored", len(store.items))
	}
	if got := store.items[0].Event.ReceivedAt; !got.Equal(at.Truncate(time.Millisecond)) {
		t.Fatalf("received_at %v, want %v", got, at.Truncate(time.Millisecond))
	}
}
