package retention_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/metrics"
	"github.com/relayhq/relay/retention"
	"github.com/relayhq/relay/sqlite"
)

var t0 = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "relay.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// event builds an event received at `at`, held when held is set, with one
// delivery to dst in status (none when dst is nil).
func event(n int, at time.Time, held bool, dst *relay.Destination) *relay.IngestItem {
	e := &relay.Event{ID: relay.NewID("evt", at), Provider: "github", DeliveryID: fmt.Sprintf("d-%d", n), EventType: "push",
		Source: relay.SourceLive, AccountID: "acct", Payload: json.RawMessage(`{}`), ReceivedAt: at}
	if held {
		e.Match = relay.MatchUnmatched
	}
	it := &relay.IngestItem{Event: e}
	if dst != nil {
		it.Deliveries = []*relay.Delivery{{ID: relay.NewID("dlv", at), EventID: e.ID, DestinationID: dst.ID,
			Status: relay.DeliveryPending, Source: relay.SourceLive, NextAttemptAt: at, CreatedAt: at, UpdatedAt: at}}
	}
	return it
}

// TestPassDeletesByAgeInBatches: with the clock past max_age, a pass
// deletes, in batches, the old events with finished deliveries and the held
// events past held_max_age, keeps the old event still pending, counts what
// it deleted and samples the database size.
func TestPassDeletesByAgeInBatches(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	dst := &relay.Destination{ID: relay.NewID("dst", t0), Name: "app", URL: "http://127.0.0.1:9/", Secret: relay.NewSecret(),
		CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateDestination(ctx, dst); err != nil {
		t.Fatal(err)
	}
	var items []*relay.IngestItem
	for i := 0; i < 5; i++ {
		items = append(items, event(i, t0, false, dst))
	}
	pending := event(5, t0, false, dst)
	young := event(6, t0.Add(48*time.Hour), false, nil)
	heldOld, heldYoung := event(7, t0, true, nil), event(8, t0.Add(47*time.Hour), true, nil)
	if err := s.InsertEvents(ctx, append(items, pending, young, heldOld, heldYoung)); err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if err := s.RecordOutcomes(ctx, []*relay.Outcome{{Status: relay.DeliverySucceeded,
			Attempt: relay.Attempt{DeliveryID: it.Deliveries[0].ID, StartedAt: t0, StatusCode: 200}}}, t0); err != nil {
			t.Fatal(err)
		}
	}

	now := t0.Add(50 * time.Hour)
	m := metrics.New()
	svc := retention.New(s, m, slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return now },
		retention.Config{MaxAge: 24 * time.Hour, HeldMaxAge: 24 * time.Hour, Interval: time.Minute, Batch: 2})
	got, err := svc.Pass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (relay.Pruned{Events: 5, Deliveries: 5, Attempts: 5, Held: 1}); got != want {
		t.Fatalf("pass deleted %+v, want %+v", got, want)
	}
	for _, it := range []*relay.IngestItem{pending, young, heldYoung} {
		if _, err := s.GetEvent(ctx, it.Event.ID, ""); err != nil {
			t.Fatalf("event %s: %v", it.Event.DeliveryID, err)
		}
	}
	for kind, want := range map[string]float64{"events": 5, "deliveries": 5, "attempts": 5, "held": 1} {
		if v := value(t, m, "relay_retention_deleted_total", kind); v != want {
			t.Errorf("relay_retention_deleted_total{kind=%q} = %v, want %v", kind, v, want)
		}
	}
	if v := value(t, m, "relay_database_size_bytes", ""); v <= 0 {
		t.Errorf("relay_database_size_bytes = %v", v)
	}
	if v := value(t, m, "relay_retention_last_success_timestamp_seconds", ""); v != float64(now.Unix()) {
		t.Errorf("relay_retention_last_success_timestamp_seconds = %v, want %v", v, now.Unix())
	}
	exp, err := s.HeldExpiries(ctx)
	if err != nil || len(exp) != 1 || exp[0].AccountID != "acct" || exp[0].Expired != 1 {
		t.Fatalf("held expiries %+v, %v", exp, err)
	}

	// Nothing is deleted when both ages are 0 (keep forever).
	forever := retention.New(s, m, slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return now.Add(1000 * time.Hour) },
		retention.Config{Interval: time.Minute})
	if got, err := forever.Pass(ctx); err != nil || got != (relay.Pruned{}) {
		t.Fatalf("keep-forever pass deleted %+v, %v", got, err)
	}
}

// value returns the gathered value of the metric name (with label kind when
// not "").
func value(t *testing.T, m *metrics.Metrics, name, kind string) float64 {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, mt := range f.GetMetric() {
			if kind != "" && (len(mt.GetLabel()) != 1 || mt.GetLabel()[0].GetValue() != kind) {
				continue
			}
			if c := mt.GetCounter(); c != nil {
				return c.GetValue()
			}
			return mt.GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s{%s} not found", name, kind)
	return 0
}
