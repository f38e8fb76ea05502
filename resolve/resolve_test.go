package resolve_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/metrics"
	"github.com/relayhq/relay/ops"
	"github.com/relayhq/relay/resolve"
	"github.com/relayhq/relay/sqlite"
)

var ctx = context.Background()

// step is a resolver whose answer the test sets.
type step struct {
	name string
	mu   sync.Mutex
	fn   func(q *relay.ResolveQuery) (*relay.ResolveStep, error)
	seen []map[string]string
}

func (s *step) Name() string { return s.name }

func (s *step) Resolve(_ context.Context, q *relay.ResolveQuery) (*relay.ResolveStep, error) {
	s.mu.Lock()
	s.seen = append(s.seen, q.Attributes)
	fn := s.fn
	s.mu.Unlock()
	return fn(q)
}

type fixture struct {
	store  *sqlite.Store
	svc    *resolve.Service
	email  *step // customer lookup: the account's email
	orgs   *step // org lookup by email
	dst    *relay.Destination
	ops    *relay.Destination
	paired []*relay.Connection
	mu     sync.Mutex

	// build builds the service as setup does, with the queue q.
	build func(q resolve.Queue) *resolve.Service
}

// setup builds the service on SQLite with the chain email → orgs, an org
// "acme", a destination filtered to it and one subscribed to operational
// events.
func setup(t *testing.T) *fixture {
	t.Helper()
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "relay.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Now().UTC() }
	f := &fixture{store: store}
	must(t, store.CreateOrg(ctx, &relay.Org{ID: "acme", Name: "Acme", CreatedAt: now()}))
	f.dst = &relay.Destination{ID: "dst_app", Name: "app", URL: "http://127.0.0.1:9/app", Secret: relay.NewSecret(), OrgID: "acme",
		CreatedAt: now(), UpdatedAt: now()}
	f.ops = &relay.Destination{ID: "dst_ops", Name: "ops", URL: "http://127.0.0.1:9/ops", Secret: relay.NewSecret(),
		EventTypes: []string{"relay.*"}, CreatedAt: now(), UpdatedAt: now()}
	must(t, store.CreateDestination(ctx, f.dst))
	must(t, store.CreateDestination(ctx, f.ops))
	route := func(e *relay.Event) []*relay.Destination {
		var out []*relay.Destination
		for _, d := range []*relay.Destination{f.dst, f.ops} {
			if d.Matches(e.Provider, e.EventType, e.OrgID) {
				out = append(out, d)
			}
		}
		return out
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := metrics.New()
	em := ops.New(store, route, nil, m, logger, now)
	f.email = &step{name: "customer", fn: func(q *relay.ResolveQuery) (*relay.ResolveStep, error) {
		return &relay.ResolveStep{Attributes: map[string]string{"email": q.AccountID + "@example.com"}}, nil
	}}
	f.orgs = &step{name: "by_email", fn: func(q *relay.ResolveQuery) (*relay.ResolveStep, error) {
		return &relay.ResolveStep{OrgIDs: []string{"acme"}}, nil
	}}
	paired := func(ctx context.Context, c *relay.Connection) {
		f.mu.Lock()
		f.paired = append(f.paired, c)
		f.mu.Unlock()
		_, err := store.ReleaseHeld(ctx, relay.HeldRelease{Provider: c.Provider, AccountID: c.ExternalID, OrgID: c.OrgID,
			ConnectionID: c.ID, Destinations: []*relay.Destination{f.dst}, Now: now()})
		must(t, err)
	}
	f.build = func(q resolve.Queue) *resolve.Service {
		return resolve.New(store, paired, em, m, logger, now, resolve.Config{Chains: map[string][]relay.Resolver{"bridge": {f.email, f.orgs}}, Queue: q})
	}
	f.svc = f.build(nil)
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// hold stores an event of the account as held and returns it.
func (f *fixture) hold(t *testing.T, account string, n int) *relay.Event {
	t.Helper()
	at := time.Now().UTC()
	e := &relay.Event{ID: relay.NewID("evt", at), Provider: "bridge", DeliveryID: fmt.Sprintf("%s-%d", account, n),
		EventType: "customer.updated", Source: relay.SourceLive, AccountID: account, Match: relay.MatchUnmatched,
		Payload: json.RawMessage(`{"n":` + fmt.Sprint(n) + `}`), ReceivedAt: at}
	must(t, f.store.InsertEvents(ctx, []*relay.IngestItem{{Event: e}}))
	return e
}

// opsEvents returns the stored operational events by type.
func (f *fixture) opsEvents(t *testing.T) map[string][]*relay.Event {
	t.Helper()
	page, err := f.store.ListEvents(ctx, relay.EventFilter{Provider: ops.Provider, Limit: 100})
	must(t, err)
	out := map[string][]*relay.Event{}
	for _, e := range page.Items {
		out[e.EventType] = append(out[e.EventType], e)
	}
	return out
}

func TestPairsAndReleasesInOrder(t *testing.T) {
	f := setup(t)
	var held []*relay.Event
	for i := range 3 {
		held = append(held, f.hold(t, "cust_1", i))
	}
	must(t, f.svc.Resolve(ctx, "bridge", "cust_1", held[2].ID))

	c, err := f.store.FindConnection(ctx, "bridge", "cust_1")
	if err != nil || c.OrgID != "acme" || c.AccountName != "cust_1@example.com" || c.Status != relay.ConnectionActive {
		t.Fatalf("connection %+v %v", c, err)
	}
	r, err := f.store.GetResolution(ctx, "bridge", "cust_1")
	if err != nil || r.Outcome != relay.ResolvePaired || r.ConnectionID != c.ID || r.Resolver != "by_email" || r.Attempts != 1 {
		t.Fatalf("resolution %+v %v", r, err)
	}
	// The second step saw what the first learnt.
	if got := f.orgs.seen[0]["email"]; got != "cust_1@example.com" {
		t.Fatalf("attributes passed on: %v", f.orgs.seen)
	}
	// The held events now belong to the org, each with a delivery due in
	// arrival order.
	var due []time.Time
	for _, h := range held {
		e, err := f.store.GetEvent(ctx, h.ID, "acme")
		if err != nil || e.Match != relay.MatchMatched || e.ConnectionID != c.ID || len(e.Deliveries) != 1 {
			t.Fatalf("released event %+v %v", e, err)
		}
		due = append(due, e.Deliveries[0].NextAttemptAt)
	}
	if !due[0].Before(due[1]) || !due[1].Before(due[2]) {
		t.Fatalf("release order %v", due)
	}
	evs := f.opsEvents(t)
	p := evs[ops.ConnectionPaired]
	if len(p) != 1 || p[0].OrgID != "acme" || p[0].ConnectionID != c.ID {
		t.Fatalf("operational events %v", evs)
	}
	full, _ := f.store.GetEvent(ctx, p[0].ID, "")
	// Only the destination that subscribed to relay.* gets it: the org's
	// unfiltered one receives provider events only.
	if len(full.Deliveries) != 1 || full.Deliveries[0].DestinationID != f.ops.ID {
		t.Fatalf("paired event deliveries %+v", full.Deliveries)
	}
	// Resolving again: already paired, announced, one connection.
	must(t, f.svc.Resolve(ctx, "bridge", "cust_1", ""))
	if r, _ := f.store.GetResolution(ctx, "bridge", "cust_1"); r.Outcome != relay.ResolveAlreadyPaired || r.ConnectionID != c.ID || r.Attempts != 2 {
		t.Fatalf("second resolution %+v", r)
	}
}

func TestConcurrentResolutionsPairOnce(t *testing.T) {
	f := setup(t)
	f.hold(t, "cust_2", 0)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = f.svc.Resolve(ctx, "bridge", "cust_2", "") }()
	}
	wg.Wait()
	for _, err := range errs {
		must(t, err)
	}
	list, err := f.store.ListConnections(ctx, relay.ConnectionFilter{Provider: "bridge"})
	if err != nil || len(list) != 1 || len(f.paired) != 1 {
		t.Fatalf("%d connections, %d pairings (%v)", len(list), len(f.paired), err)
	}
	evs := f.opsEvents(t)
	if len(evs[ops.ConnectionPaired]) != 1 || len(evs[ops.PairingAlreadyPaired]) != 1 {
		// already_paired is keyed by connection: announced once however
		// many lost the race.
		t.Fatalf("operational events: %d paired, %d already paired", len(evs[ops.ConnectionPaired]), len(evs[ops.PairingAlreadyPaired]))
	}
	r, _ := f.store.GetResolution(ctx, "bridge", "cust_2")
	if r.Attempts != 6 || (r.Outcome != relay.ResolvePaired && r.Outcome != relay.ResolveAlreadyPaired) {
		t.Fatalf("resolution %+v", r)
	}
}

func TestAmbiguousAndUnknownOrgHold(t *testing.T) {
	f := setup(t)
	held := f.hold(t, "cust_3", 0)
	f.orgs.fn = func(q *relay.ResolveQuery) (*relay.ResolveStep, error) {
		return &relay.ResolveStep{OrgIDs: []string{"acme", "globex", "acme"}}, nil
	}
	must(t, f.svc.Resolve(ctx, "bridge", "cust_3", ""))
	must(t, f.svc.Resolve(ctx, "bridge", "cust_3", "")) // the same answer: no second alert
	r, _ := f.store.GetResolution(ctx, "bridge", "cust_3")
	if r.Outcome != relay.ResolveAmbiguous || len(r.Candidates) != 2 || r.Candidates[0] != "acme" || r.Candidates[1] != "globex" {
		t.Fatalf("resolution %+v", r)
	}
	if amb := f.opsEvents(t)[ops.PairingAmbiguous]; len(amb) != 1 || amb[0].OrgID != "" {
		t.Fatalf("ambiguous alerts %+v", amb)
	}
	if e, _ := f.store.GetEvent(ctx, held.ID, ""); e.Match != relay.MatchUnmatched || len(f.paired) != 0 {
		t.Fatalf("event %+v, pairings %d", e, len(f.paired))
	}

	// An org Relay does not know is its own outcome, not "already paired".
	f.orgs.fn = func(q *relay.ResolveQuery) (*relay.ResolveStep, error) {
		return &relay.ResolveStep{OrgIDs: []string{"initech"}}, nil
	}
	must(t, f.svc.Resolve(ctx, "bridge", "cust_3", ""))
	r, _ = f.store.GetResolution(ctx, "bridge", "cust_3")
	if r.Outcome != relay.ResolveOrgNotFound || r.OrgID != "initech" || len(f.paired) != 0 {
		t.Fatalf("resolution %+v", r)
	}
	if nf := f.opsEvents(t)[ops.PairingOrgNotFound]; len(nf) != 1 {
		t.Fatalf("org-not-found alerts %d", len(nf))
	}
	if _, err := f.store.FindConnection(ctx, "bridge", "cust_3"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("connection: %v", err)
	}

	// Nobody found: unresolved, still held.
	f.orgs.fn = func(q *relay.ResolveQuery) (*relay.ResolveStep, error) { return &relay.ResolveStep{}, nil }
	must(t, f.svc.Resolve(ctx, "bridge", "cust_3", ""))
	if r, _ = f.store.GetResolution(ctx, "bridge", "cust_3"); r.Outcome != relay.ResolveUnresolved || r.Attempts != 4 {
		t.Fatalf("resolution %+v", r)
	}
	if held, _ := f.store.HeldAccounts(ctx, []string{"bridge"}, 10); len(held) != 1 || held[0].AccountID != "cust_3" {
		t.Fatalf("held accounts %+v", held)
	}
}

func TestFailingResolverRetriesWithoutLoss(t *testing.T) {
	f := setup(t)
	held := f.hold(t, "cust_4", 0)
	f.email.fn = func(q *relay.ResolveQuery) (*relay.ResolveStep, error) {
		return nil, relay.Errorf(relay.EUNAVAILABLE, "bridge: get customer: HTTP 503")
	}
	err := f.svc.Resolve(ctx, "bridge", "cust_4", held.ID)
	if relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Fatalf("a failing resolver: %v", err)
	}
	r, _ := f.store.GetResolution(ctx, "bridge", "cust_4")
	if r.Outcome != relay.ResolveFailed || r.Resolver != "customer" || r.LastError != "bridge: get customer: HTTP 503" || len(f.orgs.seen) != 0 {
		t.Fatalf("resolution %+v", r)
	}
	if e, _ := f.store.GetEvent(ctx, held.ID, ""); e.Match != relay.MatchUnmatched {
		t.Fatalf("event %+v", e)
	}
	// Back up: the retry pairs.
	f.email.fn = func(q *relay.ResolveQuery) (*relay.ResolveStep, error) {
		return &relay.ResolveStep{Attributes: map[string]string{"email": "x@example.com"}}, nil
	}
	must(t, f.svc.Resolve(ctx, "bridge", "cust_4", held.ID))
	if e, _ := f.store.GetEvent(ctx, held.ID, ""); e.Match != relay.MatchMatched || e.OrgID != "acme" || len(e.Deliveries) != 1 {
		t.Fatalf("event after the retry %+v", e)
	}
}

func TestPayloadResolver(t *testing.T) {
	body := json.RawMessage(`{"data":{"attributes":{"payload":{"data":{"attributes":{"reference-id":"acme"}}}}}}`)
	q := &relay.ResolveQuery{Payload: body}
	got, err := (&resolve.PayloadResolver{Path: "data.attributes.payload.data.attributes.reference-id", As: "org_id"}).Resolve(ctx, q)
	if err != nil || len(got.OrgIDs) != 1 || got.OrgIDs[0] != "acme" {
		t.Fatalf("%+v %v", got, err)
	}
	got, _ = (&resolve.PayloadResolver{Path: "data.attributes.payload.data.attributes.reference-id", As: "email"}).Resolve(ctx, q)
	if got.Attributes["email"] != "acme" || len(got.OrgIDs) != 0 {
		t.Fatalf("%+v", got)
	}
	got, _ = (&resolve.PayloadResolver{Path: "data.missing", As: "org_id"}).Resolve(ctx, q)
	if len(got.OrgIDs) != 0 || len(got.Attributes) != 0 {
		t.Fatalf("%+v", got)
	}
}

// queue records the accounts queued. The account named marker is not
// recorded: queueing it closes marked instead.
type queue struct {
	mu     sync.Mutex
	got    []string
	marker string
	marked chan struct{}
}

func (q *queue) EnqueueResolve(_ context.Context, provider, account, eventID string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.marker != "" && provider+"/"+account == q.marker {
		close(q.marked)
		return nil
	}
	q.got = append(q.got, provider+"/"+account)
	return nil
}

func (q *queue) accounts() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]string(nil), q.got...)
}

// The sweep queues held accounts, each backing off by how often it was
// tried: a fresh one at once, one tried three times a minute ago not yet.
func TestSweepBacksOff(t *testing.T) {
	f := setup(t)
	f.hold(t, "cust_new", 0)
	f.hold(t, "cust_tried", 0)
	f.hold(t, "cust_old", 0)
	now := time.Now().UTC()
	for range 3 {
		must(t, f.store.PutResolution(ctx, &relay.Resolution{Provider: "bridge", AccountID: "cust_tried", Outcome: relay.ResolveUnresolved,
			UpdatedAt: now.Add(-time.Minute)}))
	}
	// Tried three times too, but long ago: due.
	for range 3 {
		must(t, f.store.PutResolution(ctx, &relay.Resolution{Provider: "bridge", AccountID: "cust_old", Outcome: relay.ResolveAmbiguous,
			UpdatedAt: now.Add(-10 * time.Minute)}))
	}
	q := &queue{marker: "bridge/cust_marker", marked: make(chan struct{})}
	f.svc = f.build(q)
	// Run sweeps first and only then takes the accounts Notify named: the
	// marker queued means the first sweep is over.
	f.svc.Notify(&relay.Event{Provider: "bridge", AccountID: "cust_marker", Match: relay.MatchUnmatched, ID: "evt_marker"})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { f.svc.Run(rctx); close(done) }()
	select {
	case <-q.marked:
	case <-time.After(5 * time.Second):
		t.Error("the first sweep did not end")
	}
	cancel()
	<-done
	// SweepInterval is 1 minute: the third try waits 4 minutes.
	got := q.accounts()
	if len(got) != 2 || got[0] != "bridge/cust_new" || got[1] != "bridge/cust_old" {
		t.Fatalf("queued %v", got)
	}
}
