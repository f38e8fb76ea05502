// Package storetest is the conformance suite every relay.Store passes: one
// body of tests, run by each backend's package against a real database
// (sqlite on a temp file, postgres on the server RELAY_TEST_DATABASE_URL
// names), so the backends cannot drift apart.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/relayhq/relay"
)

// PostgresSchemaURL returns a URL of the PostgreSQL database named by
// RELAY_TEST_DATABASE_URL that selects a fresh schema, dropped when t ends.
// Without the variable, t is skipped.
func PostgresSchemaURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("RELAY_TEST_DATABASE_URL")
	if base == "" {
		t.Skip("RELAY_TEST_DATABASE_URL not set: skipping PostgreSQL tests (set it to a postgres:// URL)")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "relay_test_" + hex.EncodeToString(b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to RELAY_TEST_DATABASE_URL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		_, _ = conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// t0 is the suite's fixed clock.
var t0 = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

// Run runs the whole suite; open returns a fresh, migrated, empty store.
func Run(t *testing.T, open func(t *testing.T) relay.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s relay.Store)
	}{
		{"MigrateIdempotentAndReady", testMigrate},
		{"InsertRoundTrip", testInsertRoundTrip},
		{"Duplicates", testDuplicates},
		{"BodyKeyDuplicates", testBodyKeyDuplicates},
		{"BodyKeyConcurrent", testBodyKeyConcurrent},
		{"LeasedOnInsert", testLeasedOnInsert},
		{"ClaimRules", testClaimRules},
		{"ClaimFairness", testClaimFairness},
		{"ConcurrentClaims", testConcurrentClaims},
		{"InsertIsAtomic", testInsertAtomic},
		{"RecordOutcomes", testRecordOutcomes},
		{"StaleOutcomeKeepsState", testStaleOutcome},
		{"StaleOutcomeSameOwner", testStaleOutcomeSameOwner},
		{"OrgsAndOAuthStates", testOrgsAndStates},
		{"OAuthStateBinding", testOAuthStateBinding},
		{"ConnectSessions", testConnectSessions},
		{"ConnectionGeneration", testConnectionGeneration},
		{"ConnectionLifecycle", testConnectionLifecycle},
		{"ConnectionResources", testConnectionResources},
		{"ConnectionTokens", testConnectionTokens},
		{"ListConnections", testListConnections},
		{"ConnectionNotFound", testConnectionNotFound},
		{"WebhookSecrets", testWebhookSecrets},
		{"ReleaseHeld", testReleaseHeld},
		{"PairConnection", testPairConnection},
		{"PairConnectionConcurrent", testPairConnectionConcurrent},
		{"Resolutions", testResolutions},
		{"HeldAccounts", testHeldAccounts},
		{"BackfillLifecycle", testBackfillLifecycle},
		{"BackfillPageCommit", testBackfillPageCommit},
		{"BackfillPageGroup", testBackfillPageGroup},
		{"BackfillCancel", testBackfillCancel},
		{"BackfillConcurrentCreate", testBackfillConcurrentCreate},
		{"DisableAndPause", testDisableAndPause},
		{"ReleaseLeases", testReleaseLeases},
		{"StaleReplicaLeases", testStaleReplicaLeases},
		{"ProbeWrite", testProbeWrite},
		{"ReceivedAtMilliseconds", testReceivedAtMilliseconds},
		{"Replays", testReplays},
		{"ListEventsFiltersAndPages", testListEvents},
		{"ListDeliveries", testListDeliveries},
		{"OrgScoping", testOrgScoping},
		{"Destinations", testDestinations},
		{"APIKeys", testAPIKeys},
		{"APIKeyListRevoke", testAPIKeyListRevoke},
		{"APIKeyRevokeLastAdminConcurrent", testAPIKeyRevokeLastAdminConcurrent},
		{"APIKeyTouch", testAPIKeyTouch},
		{"NotFound", testNotFound},
		{"OrderedHeadOfLine", testOrderedHeadOfLine},
		{"OrderedNotLeasedOnInsert", testOrderedNotLeasedOnInsert},
		{"OrderedOnDeadBlock", testOrderedOnDeadBlock},
		{"OrderedBlockedKeysRetrying", testOrderedBlockedKeysRetrying},
		{"OrderedConcurrentClaimers", testOrderedConcurrentClaimers},
		{"OrderingRoundTrip", testOrderingRoundTrip},
		{"OrderedReleaseHeld", testOrderedReleaseHeld},
		{"OrderedReplayToNewDestination", testOrderedReplayToNewDestination},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

var ctx = context.Background()

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func code(t *testing.T, err error, want string) {
	t.Helper()
	if got := relay.ErrorCode(err); got != want {
		t.Fatalf("error %v: code %q, want %q", err, got, want)
	}
}

func destination(t *testing.T, s relay.Store, name string) *relay.Destination {
	t.Helper()
	d := &relay.Destination{ID: relay.NewID("dst", t0), Name: name, URL: "http://127.0.0.1:9/" + name, Secret: relay.NewSecret(),
		Providers: []string{"github"}, EventTypes: []string{"issues.*", "push"}, CreatedAt: t0, UpdatedAt: t0}
	must(t, d.Validate())
	must(t, s.CreateDestination(ctx, d))
	return d
}

// seq numbers built items and runs; tests build them from several goroutines.
var seq atomic.Int64

// item builds an event (received at `at`) with one pending delivery per destination.
func item(provider, deliveryID, eventType, org string, at time.Time, dsts ...*relay.Destination) *relay.IngestItem {
	n := seq.Add(1)
	e := &relay.Event{ID: relay.NewID("evt", at), Provider: provider, DeliveryID: deliveryID, EventType: eventType,
		Source: relay.SourceLive, AccountID: "acct-1", ResourceID: "res-1", OrgID: org,
		Headers: map[string]string{"X-Github-Event": "issues"}, Payload: json.RawMessage(fmt.Sprintf(`{"n": %d, "s": "é\u0000x"}`, n)), ReceivedAt: at}
	it := &relay.IngestItem{Event: e}
	for _, d := range dsts {
		it.Deliveries = append(it.Deliveries, &relay.Delivery{ID: relay.NewID("dlv", at), EventID: e.ID, DestinationID: d.ID,
			Status: relay.DeliveryPending, Source: relay.SourceLive, NextAttemptAt: at, CreatedAt: at, UpdatedAt: at})
	}
	return it
}

func insert(t *testing.T, s relay.Store, items ...*relay.IngestItem) {
	t.Helper()
	must(t, s.InsertEvents(ctx, items))
}

func testMigrate(t *testing.T, s relay.Store) {
	must(t, s.Ready(ctx))
	must(t, s.Migrate(ctx))
	must(t, s.Ready(ctx))
}

func testInsertRoundTrip(t *testing.T, s relay.Store) {
	d := destination(t, s, "app")
	at := t0.Add(123 * time.Millisecond)
	it := item("github", "gh-1", "issues.opened", "org-1", at, d)
	it.Event.ConnectionID = "con-1"
	insert(t, s, it)
	if it.Duplicate {
		t.Fatal("new event marked duplicate")
	}
	got, err := s.GetEvent(ctx, it.Event.ID, "")
	must(t, err)
	e := it.Event
	if got.Provider != e.Provider || got.DeliveryID != e.DeliveryID || got.EventType != e.EventType || got.Source != e.Source ||
		got.AccountID != e.AccountID || got.ResourceID != e.ResourceID || got.OrgID != e.OrgID || got.ConnectionID != e.ConnectionID {
		t.Fatalf("fields differ:\n got %+v\nwant %+v", got, e)
	}
	if string(got.Payload) != string(e.Payload) {
		t.Fatalf("payload %q, want the exact bytes %q", got.Payload, e.Payload)
	}
	if got.Headers["X-Github-Event"] != "issues" || len(got.Headers) != 1 {
		t.Fatalf("headers %v", got.Headers)
	}
	if !got.ReceivedAt.Equal(at) || got.ReceivedAt.Location() != time.UTC {
		t.Fatalf("received_at %v, want %v in UTC", got.ReceivedAt, at)
	}
	if len(got.Deliveries) != 1 {
		t.Fatalf("%d deliveries", len(got.Deliveries))
	}
	dl := got.Deliveries[0]
	if dl.ID != it.Deliveries[0].ID || dl.Status != relay.DeliveryPending || dl.DestinationID != d.ID || dl.Source != relay.SourceLive ||
		!dl.NextAttemptAt.Equal(at) || dl.Attempts != 0 {
		t.Fatalf("delivery %+v", dl)
	}
	if n, err := s.QueueDepth(ctx); err != nil || n != 1 {
		t.Fatalf("queue depth %d, %v", n, err)
	}
}

func testDuplicates(t *testing.T, s relay.Store) {
	d := destination(t, s, "app")
	first := item("github", "same", "push", "", t0, d)
	insert(t, s, first)
	again := item("github", "same", "push", "", t0, d)
	inBatchA := item("linear", "x", "Issue.create", "", t0, d)
	inBatchB := item("linear", "x", "Issue.create", "", t0, d)
	otherProvider := item("sentry", "same", "issue.created", "", t0, d)
	insert(t, s, again, inBatchA, inBatchB, otherProvider)
	if !again.Duplicate || again.Event.ID != first.Event.ID {
		t.Fatalf("redelivery: duplicate=%v id=%s, want true and %s", again.Duplicate, again.Event.ID, first.Event.ID)
	}
	if inBatchA.Duplicate || !inBatchB.Duplicate || inBatchB.Event.ID != inBatchA.Event.ID {
		t.Fatalf("duplicate within a batch: %v/%v ids %s %s", inBatchA.Duplicate, inBatchB.Duplicate, inBatchA.Event.ID, inBatchB.Event.ID)
	}
	if otherProvider.Duplicate {
		t.Fatal("same delivery id under another provider marked duplicate")
	}
	page, err := s.ListDeliveries(ctx, relay.DeliveryFilter{})
	must(t, err)
	if len(page.Items) != 3 {
		t.Fatalf("%d deliveries, want 3 (duplicates write none)", len(page.Items))
	}
}

func testLeasedOnInsert(t *testing.T, s relay.Store) {
	d := destination(t, s, "app")
	it := item("github", "l-1", "push", "", t0, d)
	it.LeaseOwner, it.LeaseUntil = "replica-a", t0.Add(time.Minute)
	insert(t, s, it)
	c, err := s.ClaimDue(ctx, "replica-b", t0.Add(30*time.Second), time.Minute, 10)
	must(t, err)
	if len(c) != 0 {
		t.Fatalf("another replica claimed a delivery leased until %s", it.LeaseUntil)
	}
	c, err = s.ClaimDue(ctx, "replica-b", t0.Add(time.Minute), time.Minute, 10)
	must(t, err)
	if len(c) != 1 {
		t.Fatal("delivery not claimable once its lease ended")
	}
}

func testClaimRules(t *testing.T, s relay.Store) {
	d := destination(t, s, "app")
	later := item("github", "c-later", "push", "", t0.Add(2*time.Second), d)
	early := item("github", "c-early", "push", "", t0, d)
	future := item("github", "c-future", "push", "", t0.Add(time.Hour), d)
	insert(t, s, later, early, future)
	c, err := s.ClaimDue(ctx, "me", t0.Add(5*time.Second), time.Minute, 1)
	must(t, err)
	if len(c) != 1 || c[0].Delivery.ID != early.Deliveries[0].ID {
		t.Fatalf("limit 1 claimed %v, want the oldest due", c)
	}
	if string(c[0].Event.Payload) != string(early.Event.Payload) || c[0].Destination.Secret != d.Secret {
		t.Fatal("claim lacks the event payload or the destination secret")
	}
	// A claim moves NextAttemptAt to the lease's end.
	if got, err := s.GetDelivery(ctx, early.Deliveries[0].ID, ""); err != nil || !got.NextAttemptAt.Equal(t0.Add(5*time.Second+time.Minute)) {
		t.Fatalf("claimed delivery next attempt %v (%v), want the lease end", got, err)
	}
	// A deleted destination's deliveries are never claimed.
	gone := destination(t, s, "gone")
	insert(t, s, item("github", "c-gone", "push", "", t0, gone))
	must(t, s.DeleteDestination(ctx, gone.ID))
	c, err = s.ClaimDue(ctx, "me", t0.Add(5*time.Second), time.Minute, 10)
	must(t, err)
	if len(c) != 1 || c[0].Delivery.ID != later.Deliveries[0].ID {
		t.Fatalf("second claim %v: the leased one and the future one must not be claimed", c)
	}
	// Succeeded deliveries are never claimed again.
	must(t, s.RecordOutcomes(ctx, []*relay.Outcome{{Status: relay.DeliverySucceeded, Step: 1,
		Attempt: relay.Attempt{DeliveryID: later.Deliveries[0].ID, StartedAt: t0, StatusCode: 200}}}, t0))
	c, err = s.ClaimDue(ctx, "me", t0.Add(2*time.Hour), time.Minute, 10)
	must(t, err)
	ids := claimed(c)
	if len(ids) != 2 || !ids[future.Deliveries[0].ID] || !ids[early.Deliveries[0].ID] {
		t.Fatalf("after the leases ended: %v", ids)
	}
}

func claimed(c []*relay.Claim) map[string]bool {
	m := map[string]bool{}
	for _, x := range c {
		m[x.Delivery.ID] = true
	}
	return m
}

func testClaimFairness(t *testing.T, s relay.Store) {
	busy, light, paused := destination(t, s, "busy"), destination(t, s, "light"), destination(t, s, "paused")
	var items []*relay.IngestItem
	for i := range 20 {
		items = append(items, item("github", fmt.Sprintf("fb-%d", i), "push", "", t0, busy))
		items = append(items, item("github", fmt.Sprintf("fp-%d", i), "push", "", t0, paused))
	}
	for i := range 3 {
		items = append(items, item("github", fmt.Sprintf("fl-%d", i), "push", "", t0, light))
	}
	insert(t, s, items...)
	must(t, s.PauseDestination(ctx, paused.ID, t0.Add(time.Hour)))
	per := func(c []*relay.Claim) map[string]int {
		m := map[string]int{}
		for _, x := range c {
			m[x.Delivery.DestinationID]++
		}
		return m
	}
	c, err := s.ClaimDue(ctx, "me", t0, time.Minute, 10)
	must(t, err)
	if m := per(c); len(c) != 10 || m[light.ID] != 3 || m[busy.ID] != 7 {
		t.Fatalf("claim of 10: %v, want light 3 and busy the other 7 (paused none)", m)
	}
	c, err = s.ClaimDue(ctx, "me", t0, time.Minute, 100)
	must(t, err)
	if m := per(c); len(c) != 13 || m[busy.ID] != 13 {
		t.Fatalf("second claim: %v, want busy's 13 left (paused none)", m)
	}
}

func testInsertAtomic(t *testing.T, s relay.Store) {
	d := destination(t, s, "app")
	a, b := item("github", "at-1", "push", "", t0, d), item("github", "at-2", "push", "", t0, d)
	b.Deliveries[0].ID = a.Deliveries[0].ID // a uniqueness violation in the middle of the batch
	if err := s.InsertEvents(ctx, []*relay.IngestItem{a, b}); err == nil {
		t.Fatal("a batch with a repeated delivery id was stored")
	}
	p, err := s.ListEvents(ctx, relay.EventFilter{})
	must(t, err)
	dp, err := s.ListDeliveries(ctx, relay.DeliveryFilter{})
	must(t, err)
	if len(p.Items) != 0 || len(dp.Items) != 0 {
		t.Fatalf("a failed batch left %d events and %d deliveries", len(p.Items), len(dp.Items))
	}
}

func testConcurrentClaims(t *testing.T, s relay.Store) {
	d := destination(t, s, "app")
	var items []*relay.IngestItem
	for i := range 200 {
		items = append(items, item("github", fmt.Sprintf("cc-%d", i), "push", "", t0, d))
	}
	insert(t, s, items...)
	var mu sync.Mutex
	count := map[string]int{}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := s.ClaimDue(ctx, fmt.Sprintf("w%d", w), t0.Add(time.Second), time.Minute, 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(c) == 0 {
					return
				}
				mu.Lock()
				for _, x := range c {
					count[x.Delivery.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(count) != 200 {
		t.Fatalf("%d deliveries claimed, want 200", len(count))
	}
	for id, n := range count {
		if n != 1 {
			t.Fatalf("delivery %s claimed %d times", id, n)
		}
	}
}

// The outcome of an attempt still in flight when its delivery was replayed
// and claimed again by the same owner names its own lease, so it does not
// overwrite the state of the newer attempt, whose outcome then lands.
func testStaleOutcomeSameOwner(t *testing.T, s relay.Store) {
	d := destination(t, s, "app")
	it := item("github", "r-same-owner", "push", "", t0, d)
	insert(t, s, it)
	id := it.Deliveries[0].ID
	first, err := s.ClaimDue(ctx, "a", t0, time.Minute, 10)
	must(t, err)
	if len(first) != 1 {
		t.Fatalf("claimed %d", len(first))
	}
	_, err = s.ReplayDelivery(ctx, id, "", t0.Add(time.Second))
	must(t, err)
	second, err := s.ClaimDue(ctx, "a", t0.Add(2*time.Second), time.Minute, 10)
	must(t, err)
	if len(second) != 1 {
		t.Fatalf("replay claimed %d", len(second))
	}
	// The first attempt's success arrives late, then the replay's 410.
	must(t, s.RecordOutcomes(ctx, []*relay.Outcome{{Owner: "a", LeaseUntil: first[0].Delivery.NextAttemptAt,
		Status: relay.DeliverySucceeded, Step: 1, Attempt: relay.Attempt{DeliveryID: id, StartedAt: t0, StatusCode: 200}}}, t0.Add(3*time.Second)))
	got, err := s.GetDelivery(ctx, id, "")
	must(t, err)
	if got.Status != relay.DeliveryPending || got.Attempts != 1 {
		t.Fatalf("the first attempt's late success overwrote the replay's claim: %+v", got)
	}
	must(t, s.RecordOutcomes(ctx, []*relay.Outcome{{Owner: "a", LeaseUntil: second[0].Delivery.NextAttemptAt,
		Status: relay.DeliveryDead, Step: 1, Attempt: relay.Attempt{DeliveryID: id, StartedAt: t0.Add(2 * time.Second), StatusCode: 410}}}, t0.Add(4*time.Second)))
	got, err = s.GetDelivery(ctx, id, "")
	must(t, err)
	if got.Status != relay.DeliveryDead || got.Attempts != 2 || len(got.AttemptLog) != 2 {
		t.Fatalf("the replay's own outcome did not land: %+v", got)
	}
}

// An outcome that arrives after its lease was lost (the delivery replayed,
// or taken over by another replica) counts its attempt but does not
// overwrite the state the current holder or the replay set.
func testStaleOutcome(t *testing.T, s relay.Store) {
	d := destination(t, s, "app")
	it := item("github", "r-stale", "push", "", t0, d)
	insert(t, s, it)
	id := it.Deliveries[0].ID
	c, err := s.ClaimDue(ctx, "a", t0, time.Minute, 10)
	must(t, err)
	if len(c) != 1 {
		t.Fatalf("claimed %d", len(c))
	}
	// Replayed while a's attempt is in flight; then a's success is recorded.
	_, err = s.ReplayDelivery(ctx, id, "", t0.Add(time.Second))
	must(t, err)
	must(t, s.RecordOutcomes(ctx, []*relay.Outcome{{Owner: "a", Status: relay.DeliverySucceeded, Step: 1,
		Attempt: relay.Attempt{DeliveryID: id, StartedAt: t0, StatusCode: 200}}}, t0.Add(2*time.Second)))
	got, err := s.GetDelivery(ctx, id, "")
	must(t, err)
	if got.Status != relay.DeliveryPending || got.Source != relay.SourceReplay || got.Attempts != 1 || len(got.AttemptLog) != 1 {
		t.Fatalf("a stale success overwrote the replay: %+v", got)
	}
	// a claims the replay, its lease runs out, b takes over; a's late
	// failure must not undo b's lease, and b's success then lands.
	c, err = s.ClaimDue(ctx, "a", t0.Add(3*time.Second), time.Second, 10)
	must(t, err)
	if len(c) != 1 {
		t.Fatalf("replay claimed %d", len(c))
	}
	c, err = s.ClaimDue(ctx, "b", t0.Add(10*time.Second), time.Minute, 10)
	must(t, err)
	if len(c) != 1 {
		t.Fatalf("takeover claimed %d", len(c))
	}
	must(t, s.RecordOutcomes(ctx, []*relay.Outcome{{Owner: "a", Status: relay.DeliveryRetrying, Step: 1, NextAttemptAt: t0.Add(time.Hour),
		Attempt: relay.Attempt{DeliveryID: id, StartedAt: t0.Add(3 * time.Second), StatusCode: 500}}}, t0.Add(11*time.Second)))
	if c, _ := s.ClaimDue(ctx, "c", t0.Add(12*time.Second), time.Minute, 10); len(c) != 0 {
		t.Fatal("a stale outcome released b's lease")
	}
	must(t, s.RecordOutcomes(ctx, []*relay.Outcome{{Owner: "b", Status: relay.DeliverySucceeded, Step: 1,
		Attempt: relay.Attempt{DeliveryID: id, StartedAt: t0.Add(10 * time.Second), StatusCode: 204}}}, t0.Add(13*time.Second)))
	got, err = s.GetDelivery(ctx, id, "")
	must(t, err)
	if got.Status != relay.DeliverySucceeded || got.Attempts != 3 || len(got.AttemptLog) != 3 {
		t.Fatalf("after takeover: %+v", got)
	}
	for i, a := range got.AttemptLog {
		if a.N != i+1 {
			t.Fatalf("attempt numbers %+v", got.AttemptLog)
		}
	}
}

func testRecordOutcomes(t *testing.T, s relay.Store) {
	d := destination(t, s, "app")
	it := item("github", "r-1", "push", "", t0, d)
	insert(t, s, it)
	id := it.Deliveries[0].ID
	_, err := s.ClaimDue(ctx, "me", t0, time.Minute, 10)
	must(t, err)
	next := t0.Add(5 * time.Second)
	must(t, s.RecordOutcomes(ctx, []*relay.Outcome{{Status: relay.DeliveryRetrying, Step: 1, NextAttemptAt: next,
		Attempt: relay.Attempt{DeliveryID: id, StartedAt: t0, StatusCode: 500, Latency: relay.Duration(12 * time.Millisecond),
			Error: "HTTP 500", ResponseBody: "oops"}}}, t0))
	got, err := s.GetDelivery(ctx, id, "")
	must(t, err)
	if got.Status != relay.DeliveryRetrying || got.Step != 1 || got.Attempts != 1 || got.LastStatus != 500 ||
		got.LastError != "HTTP 500" || !got.NextAttemptAt.Equal(next) {
		t.Fatalf("after a failure: %+v", got)
	}
	// The lease is cleared: claimable again once due, not before.
	if c, _ := s.ClaimDue(ctx, "other", t0.Add(time.Second), time.Minute, 10); len(c) != 0 {
		t.Fatal("claimed before its next attempt")
	}
	c, err := s.ClaimDue(ctx, "other", next, time.Minute, 10)
	must(t, err)
	if len(c) != 1 || c[0].Delivery.Attempts != 1 || c[0].Delivery.Step != 1 {
		t.Fatalf("retry claim %v", c)
	}
	must(t, s.RecordOutcomes(ctx, []*relay.Outcome{{Status: relay.DeliverySucceeded, Step: 2,
		Attempt: relay.Attempt{DeliveryID: id, StartedAt: next, StatusCode: 204, Latency: relay.Duration(3 * time.Millisecond)}}}, next))
	got, err = s.GetDelivery(ctx, id, "")
	must(t, err)
	if got.Status != relay.DeliverySucceeded || got.Attempts != 2 || len(got.AttemptLog) != 2 {
		t.Fatalf("after success: %+v", got)
	}
	a1, a2 := got.AttemptLog[0], got.AttemptLog[1]
	if a1.N != 1 || a1.StatusCode != 500 || a1.Error != "HTTP 500" || a1.ResponseBody != "oops" || time.Duration(a1.Latency) != 12*time.Millisecond ||
		!a1.StartedAt.Equal(t0) || a2.N != 2 || a2.StatusCode != 204 {
		t.Fatalf("attempt log %+v %+v", a1, a2)
	}
	if n, _ := s.QueueDepth(ctx); n != 0 {
		t.Fatalf("queue depth %d after success", n)
	}
	e, err := s.GetEvent(ctx, it.Event.ID, "")
	must(t, err)
	if len(e.Deliveries) != 1 || len(e.Deliveries[0].AttemptLog) != 2 || e.Deliveries[0].AttemptLog[1].N != 2 {
		t.Fatalf("GetEvent deliveries %+v: want one with its two attempts", e.Deliveries)
	}
}

func testDisableAndPause(t *testing.T, s relay.Store) {
	d := destination(t, s, "app")
	a, b := item("github", "g-1", "push", "", t0, d), item("github", "g-2", "push", "", t0, d)
	insert(t, s, a, b)
	_, err := s.ClaimDue(ctx, "me", t0, time.Minute, 1)
	must(t, err)
	must(t, s.RecordOutcomes(ctx, []*relay.Outcome{{Status: relay.DeliveryDead, Step: 1, DisableDestination: "410 Gone",
		Attempt: relay.Attempt{DeliveryID: a.Deliveries[0].ID, StartedAt: t0, StatusCode: 410}}}, t0))
	got, err := s.GetDestination(ctx, d.ID)
	must(t, err)
	if !got.Disabled || got.DisabledReason != "410 Gone" {
		t.Fatalf("destination %+v, want disabled", got)
	}
	if c, _ := s.ClaimDue(ctx, "me", t0.Add(time.Hour), time.Minute, 10); len(c) != 0 {
		t.Fatal("claimed for a disabled destination")
	}
	must(t, s.SetDestinationDisabled(ctx, d.ID, false, ""))
	got, _ = s.GetDestination(ctx, d.ID)
	if got.Disabled || got.DisabledReason != "" {
		t.Fatalf("re-enabled destination %+v", got)
	}

	// A pause holds claims until it ends; resume makes retries due now.
	must(t, s.PauseDestination(ctx, d.ID, t0.Add(2*time.Hour)))
	got, _ = s.GetDestination(ctx, d.ID)
	if !got.PausedUntil.Equal(t0.Add(2 * time.Hour)) {
		t.Fatalf("paused until %v", got.PausedUntil)
	}
	if c, _ := s.ClaimDue(ctx, "me", t0.Add(time.Hour), time.Minute, 10); len(c) != 0 {
		t.Fatal("claimed for a paused destination")
	}
	c, err := s.ClaimDue(ctx, "me", t0.Add(2*time.Hour), time.Minute, 10)
	must(t, err)
	if len(c) != 1 {
		t.Fatalf("after the pause: %d claims, want 1", len(c))
	}
	must(t, s.RecordOutcomes(ctx, []*relay.Outcome{{Status: relay.DeliveryRetrying, Step: 1, NextAttemptAt: t0.Add(10 * time.Hour),
		Attempt: relay.Attempt{DeliveryID: b.Deliveries[0].ID, StartedAt: t0, StatusCode: 503}}}, t0.Add(2*time.Hour)))
	must(t, s.PauseDestination(ctx, d.ID, t0.Add(3*time.Hour)))
	n, err := s.ResumeDestination(ctx, d.ID, t0.Add(150*time.Minute))
	must(t, err)
	got, _ = s.GetDestination(ctx, d.ID)
	if n != 1 || !got.PausedUntil.IsZero() {
		t.Fatalf("resume: %d made due, paused until %v", n, got.PausedUntil)
	}
	if c, _ := s.ClaimDue(ctx, "me", t0.Add(150*time.Minute), time.Minute, 10); len(c) != 1 {
		t.Fatal("a retry is not due right after resume")
	}
}

func testReleaseLeases(t *testing.T, s relay.Store) {
	d := destination(t, s, "app")
	a := item("github", "rl-1", "push", "", t0, d)
	insert(t, s, a)
	_, err := s.ClaimDue(ctx, "me", t0, time.Hour, 10)
	must(t, err)
	must(t, s.ReleaseLeases(ctx, "someone-else", []string{a.Deliveries[0].ID}))
	if c, _ := s.ClaimDue(ctx, "other", t0, time.Hour, 10); len(c) != 0 {
		t.Fatal("another owner's release freed my lease")
	}
	// An older delivery arrives meanwhile; the released one still goes first.
	insert(t, s, item("github", "rl-2", "push", "", t0.Add(-time.Hour), d))
	must(t, s.ReleaseLeases(ctx, "me", []string{a.Deliveries[0].ID}))
	c, err := s.ClaimDue(ctx, "other", t0, time.Hour, 1)
	must(t, err)
	if len(c) != 1 || c[0].Delivery.ID != a.Deliveries[0].ID {
		t.Fatalf("released delivery not first in line: %v", claimed(c))
	}
}

func testReplays(t *testing.T, s relay.Store) {
	d, d2, d3 := destination(t, s, "app"), destination(t, s, "other"), destination(t, s, "third")
	a := item("github", "rp-1", "push", "", t0, d)
	deadOld := item("github", "rp-2", "push", "", t0.Add(-48*time.Hour), d)
	deadNew := item("github", "rp-3", "push", "", t0.Add(-time.Hour), d)
	deadElsewhere := item("github", "rp-4", "push", "", t0.Add(-time.Hour), d2)
	insert(t, s, a, deadOld, deadNew, deadElsewhere)
	var dead []*relay.Outcome
	for _, it := range []*relay.IngestItem{a, deadOld, deadNew, deadElsewhere} {
		dead = append(dead, &relay.Outcome{Status: relay.DeliveryDead, Step: 8,
			Attempt: relay.Attempt{DeliveryID: it.Deliveries[0].ID, StartedAt: t0, StatusCode: 500}})
	}
	must(t, s.RecordOutcomes(ctx, dead, t0))

	now := t0.Add(time.Minute)
	ds, err := s.ReplayEvent(ctx, a.Event.ID, "", []string{d.ID, d3.ID}, now)
	must(t, err)
	if len(ds) != 2 {
		t.Fatalf("replay event: %d deliveries, want its own and one new", len(ds))
	}
	for _, x := range ds {
		if x.Status != relay.DeliveryPending || x.Source != relay.SourceReplay || !x.NextAttemptAt.Equal(now) || x.Step != 0 {
			t.Fatalf("replayed delivery %+v", x)
		}
	}
	if ds[0].ID != a.Deliveries[0].ID && ds[1].ID != a.Deliveries[0].ID {
		t.Fatal("replay made a new delivery instead of reusing the event's")
	}

	x, err := s.ReplayDelivery(ctx, deadOld.Deliveries[0].ID, "", now)
	must(t, err)
	if x.Status != relay.DeliveryPending || x.Source != relay.SourceReplay || x.Attempts != 1 {
		t.Fatalf("replay delivery %+v (attempts are history and stay)", x)
	}
	// deadOld is pending again; of d's dead ones only deadNew is left, and the range must hold it.
	n, err := s.ReplayDead(ctx, d.ID, t0.Add(-2*time.Hour), t0.Add(-30*time.Minute), now)
	must(t, err)
	if n != 1 {
		t.Fatalf("replay dead in range: %d, want 1", n)
	}
	n, err = s.ReplayDead(ctx, d.ID, time.Time{}, time.Time{}, now)
	must(t, err)
	if n != 0 {
		t.Fatalf("replay dead again: %d, want 0", n)
	}
	n, err = s.ReplayDead(ctx, d2.ID, time.Time{}, time.Time{}, now)
	must(t, err)
	if n != 1 {
		t.Fatalf("replay dead of the other destination: %d, want 1", n)
	}
	c, err := s.ClaimDue(ctx, "me", now, time.Minute, 100)
	must(t, err)
	if len(c) != 5 {
		t.Fatalf("%d replayed deliveries due now, want 5", len(c))
	}
	for _, x := range c {
		if x.Delivery.Source != relay.SourceReplay {
			t.Fatalf("claimed replay with source %q", x.Delivery.Source)
		}
	}
}

func testListEvents(t *testing.T, s relay.Store) {
	d := destination(t, s, "app")
	var all []*relay.IngestItem
	for i := range 25 {
		typ := "issues.opened"
		if i%5 == 0 {
			typ = "push"
		}
		provider := "github"
		if i%2 == 1 {
			provider = "linear"
		}
		all = append(all, item(provider, fmt.Sprintf("le-%d", i), typ, "", t0.Add(time.Duration(i)*time.Second), d))
	}
	insert(t, s, all...)
	// Pages of 10, newest first, no gaps or repeats.
	var ids []string
	cursor := ""
	for pages := 0; ; pages++ {
		p, err := s.ListEvents(ctx, relay.EventFilter{Limit: 10, Cursor: cursor})
		must(t, err)
		for _, e := range p.Items {
			ids = append(ids, e.ID)
		}
		if p.Next == "" {
			if pages != 2 {
				t.Fatalf("%d pages, want 3", pages+1)
			}
			break
		}
		cursor = p.Next
	}
	if len(ids) != 25 || !sort.SliceIsSorted(ids, func(i, j int) bool { return ids[i] > ids[j] }) {
		t.Fatalf("paged ids: %d, sorted newest first: %v", len(ids), sort.SliceIsSorted(ids, func(i, j int) bool { return ids[i] > ids[j] }))
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("%s repeated across pages", id)
		}
		seen[id] = true
	}
	count := func(f relay.EventFilter) int {
		t.Helper()
		f.Limit = 1000
		p, err := s.ListEvents(ctx, f)
		must(t, err)
		return len(p.Items)
	}
	if n := count(relay.EventFilter{Provider: "linear"}); n != 12 {
		t.Fatalf("provider linear: %d", n)
	}
	if n := count(relay.EventFilter{EventType: "push"}); n != 5 {
		t.Fatalf("event type push: %d", n)
	}
	if n := count(relay.EventFilter{EventType: "issues.*"}); n != 20 {
		t.Fatalf("event type issues.*: %d", n)
	}
	if n := count(relay.EventFilter{EventType: "*.opened"}); n != 20 {
		t.Fatalf("event type *.opened: %d", n)
	}
	if n := count(relay.EventFilter{Since: t0.Add(10 * time.Second), Until: t0.Add(20 * time.Second)}); n != 10 {
		t.Fatalf("time range: %d", n)
	}
	must(t, s.RecordOutcomes(ctx, []*relay.Outcome{{Status: relay.DeliveryDead, Step: 8,
		Attempt: relay.Attempt{DeliveryID: all[3].Deliveries[0].ID, StartedAt: t0, StatusCode: 500}}}, t0))
	if n := count(relay.EventFilter{Status: relay.DeliveryDead}); n != 1 {
		t.Fatalf("status dead: %d", n)
	}
	if n := count(relay.EventFilter{Status: relay.DeliveryPending}); n != 24 {
		t.Fatalf("status pending: %d", n)
	}
}

func testListDeliveries(t *testing.T, s relay.Store) {
	d, d2 := destination(t, s, "app"), destination(t, s, "other")
	var all []*relay.IngestItem
	for i := range 15 {
		all = append(all, item("github", fmt.Sprintf("ld-%d", i), "push", "", t0.Add(time.Duration(i)*time.Second), d, d2))
	}
	insert(t, s, all...)
	var n int
	cursor := ""
	for {
		p, err := s.ListDeliveries(ctx, relay.DeliveryFilter{DestinationID: d.ID, Limit: 4, Cursor: cursor})
		must(t, err)
		n += len(p.Items)
		for _, x := range p.Items {
			if x.DestinationID != d.ID {
				t.Fatal("destination filter leaked")
			}
		}
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	if n != 15 {
		t.Fatalf("%d deliveries of one destination, want 15", n)
	}
	p, err := s.ListDeliveries(ctx, relay.DeliveryFilter{EventID: all[0].Event.ID})
	must(t, err)
	if len(p.Items) != 2 {
		t.Fatalf("deliveries of one event: %d", len(p.Items))
	}
	p, err = s.ListDeliveries(ctx, relay.DeliveryFilter{Status: relay.DeliverySucceeded})
	must(t, err)
	if len(p.Items) != 0 {
		t.Fatalf("succeeded: %d", len(p.Items))
	}
}

func testOrgScoping(t *testing.T, s relay.Store) {
	d := destination(t, s, "app")
	mine, theirs := item("github", "o-1", "push", "org-a", t0, d), item("github", "o-2", "push", "org-b", t0, d)
	insert(t, s, mine, theirs)
	if _, err := s.GetEvent(ctx, theirs.Event.ID, "org-a"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("another org's event: %v", err)
	}
	if _, err := s.GetEvent(ctx, mine.Event.ID, "org-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetDelivery(ctx, theirs.Deliveries[0].ID, "org-a"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("another org's delivery: %v", err)
	}
	if _, err := s.ReplayDelivery(ctx, theirs.Deliveries[0].ID, "org-a", t0); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("replay of another org's delivery: %v", err)
	}
	if _, err := s.ReplayEvent(ctx, theirs.Event.ID, "org-a", nil, t0); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("replay of another org's event: %v", err)
	}
	p, err := s.ListEvents(ctx, relay.EventFilter{OrgID: "org-a"})
	must(t, err)
	if len(p.Items) != 1 || p.Items[0].ID != mine.Event.ID {
		t.Fatalf("org list: %v", p.Items)
	}
	dp, err := s.ListDeliveries(ctx, relay.DeliveryFilter{OrgID: "org-a"})
	must(t, err)
	if len(dp.Items) != 1 || dp.Items[0].ID != mine.Deliveries[0].ID {
		t.Fatalf("org deliveries: %v", dp.Items)
	}
}

func testDestinations(t *testing.T, s relay.Store) {
	d := destination(t, s, "app")
	dup := &relay.Destination{ID: relay.NewID("dst", t0), Name: "app", URL: "http://x/", Secret: relay.NewSecret(), CreatedAt: t0, UpdatedAt: t0}
	must(t, dup.Validate())
	code(t, s.CreateDestination(ctx, dup), relay.ECONFLICT)

	got, err := s.GetDestination(ctx, d.ID)
	must(t, err)
	if got.Name != "app" || got.URL != d.URL || got.Secret != d.Secret || fmt.Sprint(got.Providers) != "[github]" ||
		fmt.Sprint(got.EventTypes) != "[issues.* push]" || got.MaxConcurrency != relay.DefaultMaxConcurrency ||
		time.Duration(got.Timeout) != relay.DefaultTimeout || !got.CreatedAt.Equal(t0) {
		t.Fatalf("round trip %+v", got)
	}
	got.URL, got.Secret, got.EventTypes, got.UpdatedAt = "http://127.0.0.1:9/new", "", nil, t0.Add(time.Hour)
	must(t, s.UpdateDestination(ctx, got))
	again, _ := s.GetDestination(ctx, d.ID)
	if again.URL != "http://127.0.0.1:9/new" || again.Secret != d.Secret || len(again.EventTypes) != 0 {
		t.Fatalf("update: %+v (an empty secret keeps the old one)", again)
	}

	up := &relay.Destination{ID: relay.NewID("dst", t0), Name: "app", URL: "http://127.0.0.1:9/up", Secret: relay.NewSecret(), UpdatedAt: t0}
	must(t, up.Validate())
	must(t, s.UpsertDestination(ctx, up))
	if up.ID != d.ID || !up.CreatedAt.Equal(t0) {
		t.Fatalf("upsert by name: id %s created %v, want %s and %v", up.ID, up.CreatedAt, d.ID, t0)
	}
	fresh := &relay.Destination{ID: relay.NewID("dst", t0), Name: "zeta", URL: "http://127.0.0.1:9/z", Secret: relay.NewSecret(), UpdatedAt: t0}
	must(t, fresh.Validate())
	must(t, s.UpsertDestination(ctx, fresh))
	list, err := s.ListDestinations(ctx)
	must(t, err)
	if len(list) != 2 || list[0].Name != "app" || list[1].Name != "zeta" || list[0].URL != "http://127.0.0.1:9/up" {
		t.Fatalf("list %v", list)
	}
	must(t, s.DeleteDestination(ctx, fresh.ID))
	code(t, s.DeleteDestination(ctx, fresh.ID), relay.ENOTFOUND)
	_, err = s.GetDestination(ctx, fresh.ID)
	code(t, err, relay.ENOTFOUND)
	list, _ = s.ListDestinations(ctx)
	if len(list) != 1 {
		t.Fatalf("deleted destination still listed: %v", list)
	}
	// The name of a deleted destination is free again.
	again2 := &relay.Destination{ID: relay.NewID("dst", t0), Name: "zeta", URL: "http://127.0.0.1:9/z2", Secret: relay.NewSecret(), CreatedAt: t0, UpdatedAt: t0}
	must(t, again2.Validate())
	must(t, s.CreateDestination(ctx, again2))
}

func testAPIKeys(t *testing.T, s relay.Store) {
	k := &relay.APIKey{ID: "key_1", OrgID: "org-a", Name: "ci", Hash: relay.HashAPIKey("k1"), CreatedAt: t0}
	must(t, s.CreateAPIKey(ctx, k))
	code(t, s.CreateAPIKey(ctx, &relay.APIKey{ID: "key_2", Name: "x", Hash: k.Hash, CreatedAt: t0}), relay.ECONFLICT)
	got, err := s.FindAPIKey(ctx, k.Hash)
	must(t, err)
	if got.ID != "key_1" || got.OrgID != "org-a" || got.IsAdmin() || !got.CreatedAt.Equal(t0) {
		t.Fatalf("key %+v", got)
	}
	_, err = s.FindAPIKey(ctx, relay.HashAPIKey("nope"))
	code(t, err, relay.ENOTFOUND)

	// An org-scoped key of the same name is not an admin key: it stays.
	must(t, s.CreateAPIKey(ctx, &relay.APIKey{ID: "key_o", OrgID: "org-b", Name: "admin (config)", Hash: relay.HashAPIKey("o"), CreatedAt: t0}))
	must(t, s.SetAdminAPIKey(ctx, &relay.APIKey{ID: "key_a1", Name: "admin (config)", Hash: relay.HashAPIKey("a1"), CreatedAt: t0}))
	must(t, s.SetAdminAPIKey(ctx, &relay.APIKey{ID: "key_a1b", Name: "admin (config)", Hash: relay.HashAPIKey("a1"), CreatedAt: t0}))
	must(t, s.SetAdminAPIKey(ctx, &relay.APIKey{ID: "key_a2", Name: "admin (config)", Hash: relay.HashAPIKey("a2"), CreatedAt: t0}))
	_, err = s.FindAPIKey(ctx, relay.HashAPIKey("a1"))
	code(t, err, relay.ENOTFOUND)
	admin, err := s.FindAPIKey(ctx, relay.HashAPIKey("a2"))
	must(t, err)
	if !admin.IsAdmin() {
		t.Fatal("config admin key is org-scoped")
	}
	if _, err := s.FindAPIKey(ctx, relay.HashAPIKey("o")); err != nil {
		t.Fatalf("org-scoped key of the same name: %v", err)
	}
	if n, err := s.CountAPIKeys(ctx); err != nil || n != 3 {
		t.Fatalf("count %d, %v", n, err)
	}
}

func testNotFound(t *testing.T, s relay.Store) {
	_, err := s.GetEvent(ctx, "evt_nope", "")
	code(t, err, relay.ENOTFOUND)
	_, err = s.GetDelivery(ctx, "dlv_nope", "")
	code(t, err, relay.ENOTFOUND)
	_, err = s.ReplayEvent(ctx, "evt_nope", "", nil, t0)
	code(t, err, relay.ENOTFOUND)
	_, err = s.ReplayDelivery(ctx, "dlv_nope", "", t0)
	code(t, err, relay.ENOTFOUND)
	code(t, s.UpdateDestination(ctx, &relay.Destination{ID: "dst_nope", Name: "n", URL: "http://x/"}), relay.ENOTFOUND)
	code(t, s.SetDestinationDisabled(ctx, "dst_nope", true, "x"), relay.ENOTFOUND)
	code(t, s.PauseDestination(ctx, "dst_nope", t0), relay.ENOTFOUND)
	_, err = s.ResumeDestination(ctx, "dst_nope", t0)
	code(t, err, relay.ENOTFOUND)
	_, err = s.GetDestination(ctx, "dst_nope")
	code(t, err, relay.ENOTFOUND)
}
