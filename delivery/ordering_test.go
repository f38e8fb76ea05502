package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/delivery"
	"github.com/relayhq/relay/metrics"
)

// orderedFixture makes the fixture's destination ordered by resource and
// stores n events of one resource, in arrival order.
func orderedFixture(t *testing.T, f *fixture, n int) []*relay.Delivery {
	t.Helper()
	ctx := context.Background()
	f.dst.Ordering, f.dst.Secret = relay.OrderingResource, ""
	if err := f.store.UpdateDestination(ctx, f.dst); err != nil {
		t.Fatal(err)
	}
	if err := f.engine.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	var out []*relay.Delivery
	for i := range n {
		now := f.clock.Now()
		ev := &relay.Event{ID: relay.NewID("evt", now), Provider: "github", DeliveryID: fmt.Sprintf("o-%d", i),
			EventType: "issues.edited", Source: relay.SourceLive, ResourceID: "repo-1", Payload: json.RawMessage(`{}`), ReceivedAt: now}
		it := relay.PlanEvent(ev, f.engine.Route(ev), now)
		if err := f.store.InsertEvents(ctx, []*relay.IngestItem{it}); err != nil {
			t.Fatal(err)
		}
		out = append(out, it.Deliveries[0])
	}
	return out
}

// When an ordered head is delivered, the next delivery of its key is
// claimed at once, not at the next poll (an hour away in the fixture).
func TestOrderedNextInLineIsClaimedAtOnce(t *testing.T) {
	s := newSink(t, 200)
	f := newFixture(t, s.URL)
	ds := orderedFixture(t, f, 3)
	if _, err := f.engine.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		waitDelivery(t, f.store, d.ID, func(d *relay.Delivery) bool { return d.Status == relay.DeliverySucceeded })
	}
	reqs := s.received()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for i, r := range reqs {
		var env struct {
			DeliveryID string `json:"delivery_id"`
		}
		_ = json.Unmarshal(r.body, &env)
		if want := fmt.Sprintf("o-%d", i); env.DeliveryID != want {
			t.Fatalf("request %d carried %s, want %s: sent out of order", i, env.DeliveryID, want)
		}
	}
}

// A failing head is counted in the blocked-keys gauge with its age.
func TestBlockedKeysMetric(t *testing.T) {
	s := newSink(t, 503)
	f := newFixture(t, s.URL)
	ds := orderedFixture(t, f, 2)
	f.pollUntil(t, ds[0].ID, 1)
	f.clock.Advance(90 * time.Second)
	// A second engine over the same store samples its metrics often.
	m := metrics.New()
	e := delivery.New(f.store, nil, m, slog.New(slog.DiscardHandler), f.clock.Now, delivery.Config{
		Owner: "sampler", PollInterval: time.Hour, RefreshInterval: 10 * time.Millisecond, Lease: time.Minute,
	})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	waitFor(t, func() bool { return gauge(m, `relay_ordering_blocked_keys{destination="app"}`) == 1 })
	if got := gauge(m, `relay_ordering_oldest_blocked_seconds{destination="app"}`); got < 90 {
		t.Fatalf("oldest blocked %vs, want at least 90s", got)
	}
}

// gauge reads one series from the metrics page (-1 when absent).
func gauge(m *metrics.Metrics, series string) float64 {
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}
