package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/delivery"
	"github.com/relayhq/relay/metrics"
	"github.com/relayhq/relay/sqlite"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// clock is an injected clock the test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// sink is a destination whose answers the test scripts.
type sink struct {
	*httptest.Server
	mu       sync.Mutex
	answers  []int // answered in order; the last one repeats
	headers  http.Header
	requests []received
	hits     atomic.Int64
	extra    func(w http.ResponseWriter)
}

type received struct {
	header http.Header
	body   []byte
}

func newSink(t *testing.T, answers ...int) *sink {
	s := &sink{answers: answers}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.requests = append(s.requests, received{header: r.Header.Clone(), body: body})
		code := s.answers[0]
		if len(s.answers) > 1 {
			s.answers = s.answers[1:]
		}
		extra := s.extra
		s.mu.Unlock()
		if extra != nil {
			extra(w)
		}
		s.hits.Add(1)
		w.WriteHeader(code)
		_, _ = io.WriteString(w, http.StatusText(code))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sink) setAnswers(codes ...int) { s.mu.Lock(); s.answers = codes; s.mu.Unlock() }
func (s *sink) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.requests...)
}

type fixture struct {
	store  *sqlite.Store
	engine *delivery.Engine
	clock  *clock
	dst    *relay.Destination
}

func newFixture(t *testing.T, sinkURL string) *fixture {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "relay.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	dst := &relay.Destination{ID: relay.NewID("dst", clk.Now()), Name: "app", URL: sinkURL, Secret: relay.NewSecret(),
		CreatedAt: clk.Now(), UpdatedAt: clk.Now()}
	if err := dst.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := store.CreateDestination(ctx, dst); err != nil {
		t.Fatal(err)
	}
	e := delivery.New(store, nil, metrics.New(), slog.New(slog.DiscardHandler), clk.Now, delivery.Config{
		Owner: "test", Jitter: 0.1, PollInterval: time.Hour, RefreshInterval: time.Hour, Lease: time.Minute,
	})
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	return &fixture{store: store, engine: e, clock: clk, dst: dst}
}

// addEvent stores an event with one pending, unleased delivery to the destination.
func (f *fixture) addEvent(t *testing.T) (*relay.Event, *relay.Delivery) {
	t.Helper()
	now := f.clock.Now()
	ev := &relay.Event{ID: relay.NewID("evt", now), Provider: "github", DeliveryID: relay.NewID("gh", now),
		EventType: "issues.opened", Source: relay.SourceLive, Payload: json.RawMessage(`{"action":"opened","n":1}`), ReceivedAt: now}
	d := &relay.Delivery{ID: relay.NewID("dlv", now), EventID: ev.ID, DestinationID: f.dst.ID, Status: relay.DeliveryPending,
		Source: relay.SourceLive, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
	if err := f.store.InsertEvents(context.Background(), []*relay.IngestItem{{Event: ev, Deliveries: []*relay.Delivery{d}}}); err != nil {
		t.Fatal(err)
	}
	return ev, d
}

// pollUntil claims due work and waits until the delivery has made n attempts.
func (f *fixture) pollUntil(t *testing.T, id string, attempts int) *relay.Delivery {
	t.Helper()
	if _, err := f.engine.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	return waitDelivery(t, f.store, id, func(d *relay.Delivery) bool { return d.Attempts >= attempts })
}

func waitDelivery(t *testing.T, store relay.Store, id string, ok func(*relay.Delivery) bool) *relay.Delivery {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := store.GetDelivery(context.Background(), id, "")
		if err != nil {
			t.Fatal(err)
		}
		if ok(d) {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery %s: condition not reached; last state %+v", id, d)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func within(t *testing.T, what string, got, want time.Time, jitter float64, base time.Duration) {
	t.Helper()
	slack := time.Duration(float64(base)*jitter) + time.Millisecond
	if got.Before(want.Add(-slack)) || got.After(want.Add(slack)) {
		t.Fatalf("%s: next attempt at %s, want %s ± %s", what, got, want, slack)
	}
}

func TestRetryScheduleThenSuccess(t *testing.T) {
	s := newSink(t, 500, 500, 500, 200)
	f := newFixture(t, s.URL)
	ev, d := f.addEvent(t)

	// Attempt 1 is immediate; each failure schedules the next per the schedule.
	steps := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute}
	for i, wait := range steps {
		got := f.pollUntil(t, d.ID, i+1)
		if got.Status != relay.DeliveryRetrying || got.LastStatus != 500 {
			t.Fatalf("after attempt %d: status %s last %d, want retrying/500", i+1, got.Status, got.LastStatus)
		}
		within(t, "after attempt "+string(rune('1'+i)), got.NextAttemptAt, f.clock.Now().Add(wait), 0.1, wait)

		// Not due yet: nothing is claimed.
		f.clock.Advance(wait * 8 / 10)
		if n, err := f.engine.Poll(context.Background()); err != nil || n != 0 {
			t.Fatalf("poll before due: claimed %d, err %v", n, err)
		}
		f.clock.Advance(wait * 4 / 10)
	}
	got := f.pollUntil(t, d.ID, 4)
	if got.Status != relay.DeliverySucceeded {
		t.Fatalf("status %s, want succeeded", got.Status)
	}
	if len(got.AttemptLog) != 4 {
		t.Fatalf("attempt log has %d entries, want 4", len(got.AttemptLog))
	}
	for i, want := range []int{500, 500, 500, 200} {
		a := got.AttemptLog[i]
		if a.N != i+1 || a.StatusCode != want {
			t.Fatalf("attempt %d: n=%d status=%d, want n=%d status=%d", i, a.N, a.StatusCode, i+1, want)
		}
		if want == 500 && (a.Error != "HTTP 500" || a.ResponseBody != "Internal Server Error") {
			t.Fatalf("attempt %d: error %q body %q", i, a.Error, a.ResponseBody)
		}
	}

	// Every attempt carried the same webhook-id and a valid signature.
	wh, err := standardwebhooks.NewWebhook(f.dst.Secret)
	if err != nil {
		t.Fatal(err)
	}
	reqs := s.received()
	if len(reqs) != 4 {
		t.Fatalf("sink got %d requests, want 4", len(reqs))
	}
	for _, r := range reqs {
		if r.header.Get("webhook-id") != ev.ID {
			t.Fatalf("webhook-id %q, want %q", r.header.Get("webhook-id"), ev.ID)
		}
		if err := wh.VerifyIgnoringTimestamp(r.body, r.header); err != nil {
			t.Fatalf("signature does not verify: %v", err)
		}
		var env map[string]any
		if err := json.Unmarshal(r.body, &env); err != nil {
			t.Fatalf("envelope is not JSON: %v", err)
		}
		if env["id"] != ev.ID || env["source"] != "live" || env["event_type"] != "issues.opened" || env["type"] != "github.issues.opened" {
			t.Fatalf("envelope %v", env)
		}
	}
}

func TestDeadThenReplay(t *testing.T) {
	s := newSink(t, 503)
	f := newFixture(t, s.URL)
	ev, d := f.addEvent(t)

	var got *relay.Delivery
	for i := range delivery.DefaultSchedule {
		got = f.pollUntil(t, d.ID, i+1)
		f.clock.Advance(11 * time.Hour) // past any step of the schedule
	}
	if got.Status != relay.DeliveryDead || got.Attempts != len(delivery.DefaultSchedule) {
		t.Fatalf("status %s after %d attempts, want dead after %d", got.Status, got.Attempts, len(delivery.DefaultSchedule))
	}
	// Dead stays dead: nothing more is claimed.
	if n, _ := f.engine.Poll(context.Background()); n != 0 {
		t.Fatalf("claimed %d dead deliveries", n)
	}

	// The destination recovers; replaying all its dead deliveries sends it once.
	s.setAnswers(200)
	n, err := f.store.ReplayDead(context.Background(), f.dst.ID, time.Time{}, time.Time{}, f.clock.Now())
	if err != nil || n != 1 {
		t.Fatalf("replay dead: %d, %v", n, err)
	}
	got = f.pollUntil(t, d.ID, len(delivery.DefaultSchedule)+1)
	if got.Status != relay.DeliverySucceeded || got.Source != relay.SourceReplay {
		t.Fatalf("after replay: status %s source %s", got.Status, got.Source)
	}
	reqs := s.received()
	last := reqs[len(reqs)-1]
	if last.header.Get("webhook-id") != ev.ID {
		t.Fatalf("replay webhook-id %q, want the original %q", last.header.Get("webhook-id"), ev.ID)
	}
	var env map[string]any
	_ = json.Unmarshal(last.body, &env)
	if env["source"] != "replay" {
		t.Fatalf("replayed envelope source %v", env["source"])
	}
}

func TestGoneDisablesDestination(t *testing.T) {
	s := newSink(t, 410)
	f := newFixture(t, s.URL)
	// One request at a time, so the second delivery is still queued when the 410 arrives.
	f.dst.MaxConcurrency = 1
	if err := f.store.UpdateDestination(context.Background(), f.dst); err != nil {
		t.Fatal(err)
	}
	if err := f.engine.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, d := f.addEvent(t)
	_, d2 := f.addEvent(t)
	got := f.pollUntil(t, d.ID, 1)
	if got.Status != relay.DeliveryDead {
		t.Fatalf("status %s, want dead", got.Status)
	}
	dst, err := f.store.GetDestination(context.Background(), f.dst.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !dst.Disabled || dst.DisabledReason == "" {
		t.Fatalf("destination not disabled: %+v", dst)
	}
	// The queued delivery is not sent to the disabled destination, and stays pending.
	f.clock.Advance(time.Hour)
	if n, err := f.engine.Poll(context.Background()); err != nil || n != 0 {
		t.Fatalf("claimed %d for a disabled destination (err %v)", n, err)
	}
	if got, _ := f.store.GetDelivery(context.Background(), d2.ID, ""); got.Status != relay.DeliveryPending || got.Attempts != 0 {
		t.Fatalf("second delivery %+v, want pending with no attempt", got)
	}
	if hits := s.hits.Load(); hits != 1 {
		t.Fatalf("destination got %d requests, want 1", hits)
	}
	// Enabled again, it gets the waiting delivery.
	s.setAnswers(200)
	if err := f.store.SetDestinationDisabled(context.Background(), f.dst.ID, false, ""); err != nil {
		t.Fatal(err)
	}
	if err := f.engine.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.pollUntil(t, d2.ID, 1); got.Status != relay.DeliverySucceeded {
		t.Fatalf("second delivery %s after enabling, want succeeded", got.Status)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	s := newSink(t, 429)
	s.extra = func(w http.ResponseWriter) { w.Header().Set("Retry-After", "3600") }
	f := newFixture(t, s.URL)
	_, d := f.addEvent(t)
	got := f.pollUntil(t, d.ID, 1)
	if got.Status != relay.DeliveryRetrying {
		t.Fatalf("status %s", got.Status)
	}
	// The schedule says 5 s; the destination asked for an hour.
	if want := f.clock.Now().Add(time.Hour); got.NextAttemptAt.Before(want) {
		t.Fatalf("next attempt %s, want not before %s", got.NextAttemptAt, want)
	}
}

func TestTransportErrorIsRecorded(t *testing.T) {
	s := newSink(t, 200)
	url := s.URL
	s.Close() // nothing listens there now
	f := newFixture(t, url)
	_, d := f.addEvent(t)
	got := f.pollUntil(t, d.ID, 1)
	if got.Status != relay.DeliveryRetrying || got.LastStatus != 0 || got.LastError == "" {
		t.Fatalf("got %+v", got)
	}
	if a := got.AttemptLog[0]; a.StatusCode != 0 || a.Error == "" {
		t.Fatalf("attempt %+v", a)
	}
}

func waitFor(t *testing.T, ok func() bool, explain ...func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			msg := ""
			for _, e := range explain {
				msg += e()
			}
			t.Fatal("condition not reached in 10s", msg)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// A destination that keeps failing is paused: its other deliveries wait
// without using their retries; a probe after the pause tests it, and once it
// answers, everything waiting goes out.
func TestCircuitBreaker(t *testing.T) {
	s := newSink(t, 503)
	f := newFixture(t, s.URL)
	ctx := context.Background()
	f.dst.MaxConcurrency = 1 // deterministic order
	if err := f.store.UpdateDestination(ctx, f.dst); err != nil {
		t.Fatal(err)
	}
	if err := f.engine.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 12 {
		_, d := f.addEvent(t)
		ids = append(ids, d.ID)
	}
	if _, err := f.engine.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	// Five failures in a row pause it; nothing more is sent.
	var dst *relay.Destination
	waitFor(t, func() bool {
		dst, _ = f.store.GetDestination(ctx, f.dst.ID)
		return dst != nil && !dst.PausedUntil.IsZero()
	})
	if want := f.clock.Now().Add(5 * time.Second); !dst.PausedUntil.Equal(want) {
		t.Fatalf("paused until %s, want %s", dst.PausedUntil, want)
	}
	waitFor(t, func() bool { // the queued rest is handed back untried
		d, _ := f.store.GetDelivery(ctx, ids[len(ids)-1], "")
		return d != nil && d.Attempts == 0
	})
	if hits := s.hits.Load(); hits != 5 {
		t.Fatalf("%d requests before the pause, want 5", hits)
	}
	f.clock.Advance(4 * time.Second) // still paused
	if n, _ := f.engine.Poll(ctx); n != 0 {
		t.Fatalf("claimed %d while paused", n)
	}

	// After the pause one probe goes out; it fails, so the pause is longer.
	f.clock.Advance(2 * time.Second)
	if _, err := f.engine.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		dst, _ = f.store.GetDestination(ctx, f.dst.ID)
		return s.hits.Load() == 6 && dst.PausedUntil.After(f.clock.Now())
	})
	if want := f.clock.Now().Add(15 * time.Second); !dst.PausedUntil.Equal(want) {
		t.Fatalf("second pause until %s, want %s", dst.PausedUntil, want)
	}

	// The destination is back: the next probe succeeds and everything waiting is delivered.
	s.setAnswers(200)
	f.clock.Advance(16 * time.Second)
	waitFor(t, func() bool {
		_, _ = f.engine.Poll(ctx)
		page, _ := f.store.ListDeliveries(ctx, relay.DeliveryFilter{Status: relay.DeliverySucceeded})
		return page != nil && len(page.Items) == len(ids)
	}, func() string {
		var out []string
		for _, id := range ids {
			d, _ := f.store.GetDelivery(ctx, id, "")
			out = append(out, fmt.Sprintf("%s/%d/%s", d.Status, d.Attempts, d.NextAttemptAt.Sub(f.clock.Now())))
		}
		return strings.Join(out, " ")
	})
	dst, _ = f.store.GetDestination(ctx, f.dst.ID)
	if !dst.PausedUntil.IsZero() {
		t.Fatalf("still paused until %s after recovering", dst.PausedUntil)
	}
	// The deliveries that waited out the pause used none of their retries.
	d, _ := f.store.GetDelivery(ctx, ids[len(ids)-1], "")
	if d.Status != relay.DeliverySucceeded || d.Attempts != 1 {
		t.Fatalf("a delivery that waited: %s after %d attempts, want succeeded after 1", d.Status, d.Attempts)
	}
}
