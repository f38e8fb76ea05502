package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/ingest"
	"github.com/relayhq/relay/metrics"
	"github.com/relayhq/relay/sqlite"
)

// countingStore counts commits and can hold or fail them.
type countingStore struct {
	relay.Store
	commits atomic.Int64
	entered atomic.Int64
	held    atomic.Int64  // events in the commit waiting at the gate
	gate    chan struct{} // when set, each commit waits for a token
	fail    atomic.Bool
	probes  atomic.Int64
	// When probeResult is set, each probe signals probeEntered and
	// returns what the test sends on probeResult.
	probeEntered chan struct{}
	probeResult  chan error
}

func (s *countingStore) InsertEvents(ctx context.Context, items []*relay.IngestItem) error {
	s.entered.Add(1)
	if s.gate != nil {
		s.held.Store(int64(len(items)))
		<-s.gate
	}
	s.commits.Add(1)
	if s.fail.Load() {
		return errors.New("disk full")
	}
	return s.Store.InsertEvents(ctx, items)
}

// ProbeWrite makes countingStore a relay.WriteProber that fails with its
// commits.
func (s *countingStore) ProbeWrite(ctx context.Context) error {
	s.probes.Add(1)
	if s.probeResult != nil {
		select {
		case s.probeEntered <- struct{}{}:
		default:
		}
		return <-s.probeResult
	}
	if s.fail.Load() {
		return errors.New("disk full")
	}
	return nil
}

type oneDestination struct{ dst *relay.Destination }

func (r oneDestination) Route(context.Context, *relay.Event) []*relay.Destination {
	return []*relay.Destination{r.dst}
}

// recorder is a Dispatcher that records what it is handed.
type recorder struct {
	mu       sync.Mutex
	room     int
	claims   []*relay.Claim
	wakes    int
	reserved int
}

func (r *recorder) Reserve(n int, _ []string) relay.Reservation {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reserved+n > r.room {
		return nil
	}
	r.reserved += n
	return &recorded{r: r, n: n}
}

// recorded is a reservation the recorder handed out.
type recorded struct {
	r *recorder
	n int
}

func (res *recorded) Dispatch(c []*relay.Claim) {
	r := res.r
	r.mu.Lock()
	r.reserved -= res.n - len(c)
	r.claims = append(r.claims, c...)
	r.mu.Unlock()
}
func (res *recorded) Cancel() { res.r.mu.Lock(); res.r.reserved -= res.n; res.r.mu.Unlock() }
func (r *recorder) Wake()     { r.mu.Lock(); r.wakes++; r.mu.Unlock() }

func setup(t *testing.T, room int) (*countingStore, *recorder, *ingest.Pipeline) {
	t.Helper()
	return setupRouted(t, room, func(dst *relay.Destination) ingest.Router { return oneDestination{dst} })
}

// setupRouted is setup with the router router(dst) returns.
func setupRouted(t *testing.T, room int, router func(dst *relay.Destination) ingest.Router) (*countingStore, *recorder, *ingest.Pipeline) {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "relay.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	dst := &relay.Destination{ID: "dst_1", Name: "app", URL: "http://127.0.0.1:1/", Secret: relay.NewSecret(), CreatedAt: now, UpdatedAt: now}
	if err := dst.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateDestination(context.Background(), dst); err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{Store: s}
	rec := &recorder{room: room}
	p := ingest.New(cs, router(dst), rec, metrics.New(), slog.New(slog.DiscardHandler), func() time.Time { return time.Now().UTC() },
		ingest.Config{Owner: "me", Lease: time.Minute, BatchMax: 64, ProbeInterval: 5 * time.Millisecond})
	done := make(chan struct{})
	go func() { p.Run(); close(done) }()
	t.Cleanup(func() { _ = p.Close(context.Background()); <-done })
	return cs, rec, p
}

func event(id string) *relay.Event {
	return &relay.Event{Provider: "github", DeliveryID: id, EventType: "push", Source: relay.SourceLive,
		Payload: json.RawMessage(`{}`), ReceivedAt: time.Now().UTC()}
}

// A failed commit makes the pipeline unwritable until a probe (with no
// webhook arriving) or a later commit succeeds.
func TestWritableFollowsCommitsAndProbes(t *testing.T) {
	cs, _, p := setup(t, 10)
	if err := p.Writable(); err != nil {
		t.Fatalf("writable at start: %v", err)
	}
	cs.fail.Store(true)
	if _, err := p.Submit(context.Background(), event("w-1")); err == nil {
		t.Fatal("commit on a full disk succeeded")
	}
	if p.Writable() == nil {
		t.Fatal("writable after a failed commit")
	}
	seen := cs.probes.Load()
	waitUntil(t, func() bool { return cs.probes.Load() >= seen+2 })
	if p.Writable() == nil {
		t.Fatal("writable after failed probes")
	}
	cs.fail.Store(false)
	waitUntil(t, func() bool { return p.Writable() == nil })

	cs.fail.Store(true)
	if _, err := p.Submit(context.Background(), event("w-2")); err == nil {
		t.Fatal("commit on a full disk succeeded")
	}
	cs.fail.Store(false)
	if _, err := p.Submit(context.Background(), event("w-3")); err != nil {
		t.Fatal(err)
	}
	if err := p.Writable(); err != nil {
		t.Fatalf("not writable after a successful commit: %v", err)
	}
}

// A probe that succeeds does not clear a commit failure that came while it
// ran: the disk may have filled in between.
func TestProbeDoesNotHideLaterFailure(t *testing.T) {
	cs, _, p := setup(t, 10)
	cs.probeEntered, cs.probeResult = make(chan struct{}, 1), make(chan error)
	t.Cleanup(func() { close(cs.probeResult) }) // before the pipeline closes
	cs.fail.Store(true)
	if _, err := p.Submit(context.Background(), event("g-1")); err == nil {
		t.Fatal("commit on a full disk succeeded")
	}
	<-cs.probeEntered // a probe is under way
	if _, err := p.Submit(context.Background(), event("g-2")); err == nil {
		t.Fatal("commit on a full disk succeeded")
	}
	cs.probeResult <- nil // the probe began before that failure
	<-cs.probeEntered     // so the next probe begins: the first is recorded
	if p.Writable() == nil {
		t.Fatal("a probe begun before a failed commit made the pipeline writable")
	}
	cs.probeResult <- nil
	waitUntil(t, func() bool { return p.Writable() == nil })
}

// The event handed to delivery carries the received_at the store keeps
// (milliseconds), so the first attempt's envelope equals every retry's.
func TestSubmitReceivedAtAsStored(t *testing.T) {
	cs, rec, p := setup(t, 10)
	e := event("ms-1")
	e.ReceivedAt = time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	res, err := p.Submit(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := cs.GetEvent(context.Background(), res.EventID, "")
	if err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.claims) != 1 {
		t.Fatalf("%d claims dispatched", len(rec.claims))
	}
	if got := rec.claims[0].Event.ReceivedAt; !got.Equal(stored.ReceivedAt) || got.Location() != time.UTC {
		t.Fatalf("dispatched received_at %v, stored %v", got, stored.ReceivedAt)
	}
}

// Concurrent submissions share commits, and each is answered after its own.
func TestGroupCommit(t *testing.T) {
	cs, rec, p := setup(t, 1000)
	cs.gate = make(chan struct{})
	const n = 50
	var wg sync.WaitGroup
	results := make([]relay.IngestResult, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = p.Submit(context.Background(), event(fmt.Sprintf("d-%d", i)))
		}()
	}
	// Hold the first commit until every other request is queued behind it.
	for cs.held.Load()+int64(queued(p)) < n {
		time.Sleep(time.Millisecond)
	}
	close(cs.gate)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || results[i].Duplicate || results[i].EventID == "" {
			t.Fatalf("submit %d: %+v %v", i, results[i], errs[i])
		}
	}
	if c := cs.commits.Load(); c > 2 {
		t.Fatalf("%d commits for %d concurrent events, want at most 2", c, n)
	}
	if len(rec.claims) != n {
		t.Fatalf("dispatched %d deliveries, want %d", len(rec.claims), n)
	}
	for _, c := range rec.claims {
		if c.Delivery.EventID != c.Event.ID || c.Destination.ID != "dst_1" {
			t.Fatalf("claim %+v", c)
		}
	}
}

func queued(p *ingest.Pipeline) int { return p.Queued() }

func TestDuplicatesInOneBatch(t *testing.T) {
	cs, rec, p := setup(t, 1000)
	cs.gate = make(chan struct{})
	// A first event holds the committer, so the next four share one batch.
	blocked := make(chan struct{})
	go func() { _, _ = p.Submit(context.Background(), event("blocker")); close(blocked) }()
	for cs.entered.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	var wg sync.WaitGroup
	results := make([]relay.IngestResult, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = p.Submit(context.Background(), event("same"))
		}()
	}
	for queued(p) < 4 {
		time.Sleep(time.Millisecond)
	}
	close(cs.gate)
	wg.Wait()
	<-blocked
	if c := cs.commits.Load(); c != 2 {
		t.Fatalf("%d commits, want 2 (the blocker, then the four together)", c)
	}
	dups := 0
	for _, r := range results {
		if r.Duplicate {
			dups++
		}
		if r.EventID != results[0].EventID {
			t.Fatalf("duplicates answered with different ids: %+v", results)
		}
	}
	if dups != 3 {
		t.Fatalf("%d duplicates, want 3", dups)
	}
	if len(rec.claims) != 2 {
		t.Fatalf("dispatched %d, want 2 (blocker and one of the four)", len(rec.claims))
	}
	if rec.reserved != len(rec.claims) {
		t.Fatalf("room reserved %d for %d dispatched: duplicates' room not given back", rec.reserved, len(rec.claims))
	}
}

// A failed commit answers every request in the batch with EUNAVAILABLE
// (the handler's 503) and stores nothing.
func TestCommitFailureIsUnavailable(t *testing.T) {
	cs, rec, p := setup(t, 1000)
	cs.fail.Store(true)
	_, err := p.Submit(context.Background(), event("d-fail"))
	if relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Fatalf("err %v, want EUNAVAILABLE", err)
	}
	if rec.reserved != 0 || len(rec.claims) != 0 {
		t.Fatalf("room %d claims %d after a failed commit", rec.reserved, len(rec.claims))
	}
	cs.fail.Store(false)
	page, err := cs.ListEvents(context.Background(), relay.EventFilter{})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("events stored after failure: %v %v", page, err)
	}
	// The same delivery id goes through once the store is back.
	if res, err := p.Submit(context.Background(), event("d-fail")); err != nil || res.Duplicate {
		t.Fatalf("retry: %+v %v", res, err)
	}
}

// Without room in memory, deliveries are stored unleased and the poller is woken.
func TestNoRoomLeavesWorkForThePoller(t *testing.T) {
	cs, rec, p := setup(t, 0)
	res, err := p.Submit(context.Background(), event("d-1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.claims) != 0 || rec.wakes != 1 {
		t.Fatalf("claims %d wakes %d", len(rec.claims), rec.wakes)
	}
	claims, err := cs.ClaimDue(context.Background(), "other", time.Now().UTC().Add(time.Second), time.Minute, 10)
	if err != nil || len(claims) != 1 || claims[0].Event.ID != res.EventID {
		t.Fatalf("claim by another owner: %v %v", claims, err)
	}
}

func TestClosedPipelineRefuses(t *testing.T) {
	_, _, p := setup(t, 10)
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Submit(context.Background(), event("late")); relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Fatalf("submit after close: %v", err)
	}
}

func waitUntil(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
