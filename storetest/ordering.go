package storetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/relayhq/relay"
)

// orderedDestination creates a destination ordered by resource.
func orderedDestination(t *testing.T, s relay.Store, name, onDead string) *relay.Destination {
	t.Helper()
	d := &relay.Destination{ID: relay.NewID("dst", t0), Name: name, URL: "http://127.0.0.1:9/" + name, Secret: relay.NewSecret(),
		Ordering: relay.OrderingResource, OnDead: onDead, CreatedAt: t0, UpdatedAt: t0}
	must(t, d.Validate())
	must(t, s.CreateDestination(ctx, d))
	return d
}

// keyed plans an event of resource key (none when "") to dsts, as ingest does.
func keyed(key string, at time.Time, dsts ...*relay.Destination) *relay.IngestItem {
	n := seq.Add(1)
	e := &relay.Event{ID: relay.NewID("evt", at), Provider: "github", DeliveryID: fmt.Sprintf("o-%d", n), EventType: "push",
		Source: relay.SourceLive, ResourceID: key, Payload: json.RawMessage(`{}`), ReceivedAt: at}
	return relay.PlanEvent(e, dsts, at)
}

func outcome(id, status string, next time.Time) *relay.Outcome {
	code := 200
	if status != relay.DeliverySucceeded {
		code = 500
	}
	return &relay.Outcome{Status: status, Step: 1, NextAttemptAt: next,
		Attempt: relay.Attempt{DeliveryID: id, StartedAt: t0, StatusCode: code}}
}

// testOrderedHeadOfLine: of an ordered key only the head is claimable; a
// retrying head holds back its key alone; a dead head lets the key move
// on (on_dead skip); unkeyed events are unordered.
func testOrderedHeadOfLine(t *testing.T, s relay.Store) {
	d := orderedDestination(t, s, "ordered", "")
	a1, a2, a3 := keyed("A", t0, d), keyed("A", t0.Add(time.Millisecond), d), keyed("A", t0.Add(2*time.Millisecond), d)
	b1 := keyed("B", t0.Add(3*time.Millisecond), d)
	u1, u2 := keyed("", t0.Add(4*time.Millisecond), d), keyed("", t0.Add(5*time.Millisecond), d)
	insert(t, s, a1, a2, a3, b1, u1, u2)
	if a1.Deliveries[0].OrderKey != "A" || u1.Deliveries[0].OrderKey != "" {
		t.Fatalf("order keys %q %q, want A and none", a1.Deliveries[0].OrderKey, u1.Deliveries[0].OrderKey)
	}
	if got, err := s.GetDelivery(ctx, a2.Deliveries[0].ID, ""); err != nil || got.OrderKey != "A" {
		t.Fatalf("stored order key %+v (%v)", got, err)
	}
	now := t0.Add(time.Second)
	c, err := s.ClaimDue(ctx, "r1", now, time.Minute, 10)
	must(t, err)
	ids := claimed(c)
	want := []string{a1.Deliveries[0].ID, b1.Deliveries[0].ID, u1.Deliveries[0].ID, u2.Deliveries[0].ID}
	if len(ids) != len(want) {
		t.Fatalf("claimed %d deliveries, want the heads of A and B and both unordered ones", len(ids))
	}
	for _, id := range want {
		if !ids[id] {
			t.Fatalf("claim missed %s: %v", id, ids)
		}
	}
	// While A's head is in flight, nobody may take the next of A, even
	// after the lease of the others ran out.
	if c, err := s.ClaimDue(ctx, "r2", now, time.Minute, 10); err != nil || len(c) != 0 {
		t.Fatalf("second claimer got %d deliveries (%v) while every head was in flight", len(c), err)
	}
	// A's head fails and waits an hour: A stays blocked, B moves on.
	must(t, s.RecordOutcomes(ctx, []*relay.Outcome{outcome(a1.Deliveries[0].ID, relay.DeliveryRetrying, t0.Add(time.Hour)),
		outcome(b1.Deliveries[0].ID, relay.DeliverySucceeded, time.Time{})}, now))
	if c, err := s.ClaimDue(ctx, "r2", now.Add(2*time.Second), time.Minute, 10); err != nil || len(c) != 0 {
		t.Fatalf("claimed %v (%v) behind a retrying head", claimed(c), err)
	}
	// The head ends dead: with on_dead skip the key moves on, in order.
	must(t, s.RecordOutcomes(ctx, []*relay.Outcome{outcome(a1.Deliveries[0].ID, relay.DeliveryDead, time.Time{})}, now))
	c, err = s.ClaimDue(ctx, "r2", now.Add(2*time.Second), time.Minute, 10)
	must(t, err)
	if len(c) != 1 || c[0].Delivery.ID != a2.Deliveries[0].ID {
		t.Fatalf("after the head died claimed %v, want only the second of A", claimed(c))
	}
	must(t, s.RecordOutcomes(ctx, []*relay.Outcome{outcome(a2.Deliveries[0].ID, relay.DeliverySucceeded, time.Time{})}, now))
	c, err = s.ClaimDue(ctx, "r2", now.Add(3*time.Second), time.Minute, 10)
	must(t, err)
	if len(c) != 1 || c[0].Delivery.ID != a3.Deliveries[0].ID {
		t.Fatalf("claimed %v, want the third of A", claimed(c))
	}
}

// testOrderedNotLeasedOnInsert: an ordered delivery is never written
// leased, so a batch holding two events of one key cannot send both at once.
func testOrderedNotLeasedOnInsert(t *testing.T, s relay.Store) {
	d := orderedDestination(t, s, "ordered", "")
	plain := destination(t, s, "plain")
	first, second := keyed("K", t0, d, plain), keyed("K", t0.Add(time.Millisecond), d, plain)
	for _, it := range []*relay.IngestItem{first, second} {
		it.LeaseTo("replica-a", t0.Add(time.Minute))
	}
	insert(t, s, first, second)
	c, err := s.ClaimDue(ctx, "replica-b", t0.Add(time.Second), time.Minute, 10)
	must(t, err)
	if len(c) != 1 || c[0].Delivery.ID != first.Deliveries[0].ID {
		t.Fatalf("claimed %v, want only the ordered head (the unordered ones are leased to replica-a)", claimed(c))
	}
}

// testOrderedOnDeadBlock: with on_dead block a dead head holds its key
// until it is replayed and succeeds; BlockedKeys shows the key.
func testOrderedOnDeadBlock(t *testing.T, s relay.Store) {
	d := orderedDestination(t, s, "blocking", relay.OnDeadBlock)
	k1, k2, k3 := keyed("K", t0, d), keyed("K", t0.Add(time.Millisecond), d), keyed("K", t0.Add(2*time.Millisecond), d)
	other := keyed("L", t0.Add(3*time.Millisecond), d)
	insert(t, s, k1, k2, k3, other)
	c, err := s.ClaimDue(ctx, "r", t0.Add(time.Second), time.Minute, 10)
	must(t, err)
	if len(c) != 2 {
		t.Fatalf("claimed %d, want the heads of K and L", len(c))
	}
	head := k1.Deliveries[0].ID
	must(t, s.RecordOutcomes(ctx, []*relay.Outcome{outcome(head, relay.DeliveryDead, time.Time{})}, t0))
	if c, err := s.ClaimDue(ctx, "r", t0.Add(time.Second), time.Minute, 10); err != nil || len(c) != 0 {
		t.Fatalf("claimed %v (%v) behind a dead head with on_dead block", claimed(c), err)
	}
	bk, err := s.BlockedKeys(ctx, d.ID, 10)
	must(t, err)
	if len(bk) != 1 || bk[0].Key != "K" || bk[0].Head.ID != head || bk[0].Attempts != 1 || bk[0].Waiting != 2 || bk[0].Head.Status != relay.DeliveryDead {
		t.Fatalf("blocked keys %+v, want K with its dead head, 1 attempt, 2 waiting", bk)
	}
	// The replayed head goes first, then the key moves on.
	_, err = s.ReplayDelivery(ctx, head, "", t0.Add(2*time.Second))
	must(t, err)
	c, err = s.ClaimDue(ctx, "r", t0.Add(2*time.Second), time.Minute, 10)
	must(t, err)
	if len(c) != 1 || c[0].Delivery.ID != head {
		t.Fatalf("after replay claimed %v, want the replayed head only", claimed(c))
	}
	must(t, s.RecordOutcomes(ctx, []*relay.Outcome{outcome(head, relay.DeliverySucceeded, time.Time{})}, t0))
	c, err = s.ClaimDue(ctx, "r", t0.Add(3*time.Second), time.Minute, 10)
	must(t, err)
	if len(c) != 1 || c[0].Delivery.ID != k2.Deliveries[0].ID {
		t.Fatalf("claimed %v, want the second of K", claimed(c))
	}
	if bk, err := s.BlockedKeys(ctx, d.ID, 10); err != nil || len(bk) != 0 {
		t.Fatalf("blocked keys %+v (%v) after the head succeeded", bk, err)
	}
}

// testOrderedBlockedKeysRetrying: a retrying head blocks its key; a key
// whose head is merely in flight is not blocked; on_dead skip hides dead heads.
func testOrderedBlockedKeysRetrying(t *testing.T, s relay.Store) {
	d := orderedDestination(t, s, "ordered", relay.OnDeadSkip)
	a1, a2 := keyed("A", t0, d), keyed("A", t0.Add(time.Millisecond), d)
	b1, b2 := keyed("B", t0.Add(2*time.Millisecond), d), keyed("B", t0.Add(3*time.Millisecond), d)
	insert(t, s, a1, a2, b1, b2)
	_, err := s.ClaimDue(ctx, "r", t0.Add(time.Second), time.Minute, 10)
	must(t, err)
	must(t, s.RecordOutcomes(ctx, []*relay.Outcome{outcome(a1.Deliveries[0].ID, relay.DeliveryRetrying, t0.Add(time.Hour))}, t0))
	bk, err := s.BlockedKeys(ctx, d.ID, 10)
	must(t, err)
	if len(bk) != 1 || bk[0].Key != "A" || bk[0].Waiting != 1 || bk[0].Attempts != 1 || !bk[0].Since.Equal(t0) {
		t.Fatalf("blocked keys %+v, want A only (B's head is in flight)", bk)
	}
	must(t, s.RecordOutcomes(ctx, []*relay.Outcome{outcome(a1.Deliveries[0].ID, relay.DeliveryDead, time.Time{})}, t0))
	if bk, err := s.BlockedKeys(ctx, d.ID, 10); err != nil || len(bk) != 0 {
		t.Fatalf("blocked keys %+v (%v): a dead head does not block with on_dead skip", bk, err)
	}
	if bk, err := s.BlockedKeys(ctx, "dst_missing", 10); err != nil || len(bk) != 0 {
		t.Fatalf("missing destination: %+v (%v)", bk, err)
	}
}

// testOrderedConcurrentClaimers: claimers working side by side (replicas)
// never hold two deliveries of one key at once, and each key's deliveries
// complete in arrival order.
func testOrderedConcurrentClaimers(t *testing.T, s relay.Store) {
	d := orderedDestination(t, s, "ordered", "")
	const keys, perKey = 8, 6
	var items []*relay.IngestItem
	order := map[string][]string{} // key -> delivery ids in arrival order
	for i := 0; i < perKey; i++ {
		for k := 0; k < keys; k++ {
			key := fmt.Sprintf("k%d", k)
			it := keyed(key, t0.Add(time.Duration(len(items))*time.Millisecond), d)
			items = append(items, it)
			order[key] = append(order[key], it.Deliveries[0].ID)
		}
	}
	insert(t, s, items...)
	var mu sync.Mutex
	inFlight := map[string]bool{}
	done := map[string][]string{}
	var failure error
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(owner string) {
			defer wg.Done()
			for range 200 {
				mu.Lock()
				total := 0
				for _, ids := range done {
					total += len(ids)
				}
				mu.Unlock()
				if total == keys*perKey {
					return
				}
				c, err := s.ClaimDue(ctx, owner, t0.Add(time.Second), time.Minute, 3)
				if err != nil {
					mu.Lock()
					failure = err
					mu.Unlock()
					return
				}
				mu.Lock()
				for _, x := range c {
					if inFlight[x.Delivery.OrderKey] {
						failure = fmt.Errorf("key %s claimed twice at once", x.Delivery.OrderKey)
					}
					inFlight[x.Delivery.OrderKey] = true
				}
				mu.Unlock()
				var outs []*relay.Outcome
				for _, x := range c {
					outs = append(outs, &relay.Outcome{Owner: owner, Status: relay.DeliverySucceeded, Step: 1,
						Attempt: relay.Attempt{DeliveryID: x.Delivery.ID, StartedAt: t0, StatusCode: 200}})
				}
				// Marked done, and no longer in flight, just before the
				// outcome is recorded: its commit is visible to the other
				// claimers before RecordOutcomes returns here, so a key is in
				// flight, as far as a client can tell, from its claim until
				// its outcome is sent, and a claimer that sees the next of
				// the key meanwhile is caught.
				mu.Lock()
				for _, x := range c {
					done[x.Delivery.OrderKey] = append(done[x.Delivery.OrderKey], x.Delivery.ID)
					inFlight[x.Delivery.OrderKey] = false
				}
				mu.Unlock()
				if len(outs) > 0 {
					if err := s.RecordOutcomes(ctx, outs, t0); err != nil {
						mu.Lock()
						failure = err
						mu.Unlock()
						return
					}
				}
			}
		}(fmt.Sprintf("replica-%d", w))
	}
	wg.Wait()
	must(t, failure)
	for key, want := range order {
		if fmt.Sprint(done[key]) != fmt.Sprint(want) {
			t.Fatalf("key %s completed %v, want arrival order %v", key, done[key], want)
		}
	}
}

// testOrderingRoundTrip: a destination's ordering and on_dead are stored,
// updated and upserted.
func testOrderingRoundTrip(t *testing.T, s relay.Store) {
	d := orderedDestination(t, s, "ordered", relay.OnDeadBlock)
	got, err := s.GetDestination(ctx, d.ID)
	must(t, err)
	if got.Ordering != relay.OrderingResource || got.OnDead != relay.OnDeadBlock {
		t.Fatalf("stored ordering %q on_dead %q", got.Ordering, got.OnDead)
	}
	got.Ordering, got.OnDead, got.Secret = "$.issue.id", relay.OnDeadSkip, ""
	must(t, s.UpdateDestination(ctx, got))
	got, err = s.GetDestination(ctx, d.ID)
	must(t, err)
	if got.Ordering != "$.issue.id" || got.OnDead != relay.OnDeadSkip {
		t.Fatalf("updated ordering %q on_dead %q", got.Ordering, got.OnDead)
	}
	up := &relay.Destination{ID: relay.NewID("dst", t0), Name: "ordered", URL: d.URL, Secret: relay.NewSecret(),
		Ordering: relay.OrderingAccount, OnDead: relay.OnDeadBlock, UpdatedAt: t0}
	must(t, up.Validate())
	must(t, s.UpsertDestination(ctx, up))
	got, err = s.GetDestination(ctx, d.ID)
	must(t, err)
	if got.Ordering != relay.OrderingAccount || got.OnDead != relay.OnDeadBlock {
		t.Fatalf("upserted ordering %q on_dead %q", got.Ordering, got.OnDead)
	}
	plain := destination(t, s, "plain")
	if got, err := s.GetDestination(ctx, plain.ID); err != nil || got.Ordering != relay.OrderingNone || got.OnDead != relay.OnDeadSkip {
		t.Fatalf("default ordering %+v (%v)", got, err)
	}
}

// testOrderedReleaseHeld: deliveries created when held events are released
// carry the destination's order key, so they take their place in line.
func testOrderedReleaseHeld(t *testing.T, s relay.Store) {
	cs := connStore(t, s)
	d := orderedDestination(t, s, "ordered-org", "")
	d.OrgID, d.Secret = "org_a", ""
	must(t, s.UpdateDestination(ctx, d))
	byPath := orderedDestination(t, s, "by-path", "")
	byPath.OrgID, byPath.Ordering, byPath.Secret = "org_a", "$.n", ""
	must(t, s.UpdateDestination(ctx, byPath))
	it := item("github", "held-ordered", "issues.opened", "", t0)
	it.Event.AccountID, it.Event.ResourceID, it.Event.Match = "A", "res-9", relay.MatchUnmatched
	insert(t, s, it)
	var payload struct{ N int }
	must(t, json.Unmarshal(it.Event.Payload, &payload))
	n, err := cs.ReleaseHeld(ctx, relay.HeldRelease{Provider: "github", AccountID: "A", OrgID: "org_a", ConnectionID: "con_1",
		Destinations: []*relay.Destination{d, byPath}, Now: t0.Add(time.Minute)})
	if err != nil || n != 1 {
		t.Fatalf("released %d %v", n, err)
	}
	e, err := s.GetEvent(ctx, it.Event.ID, "")
	must(t, err)
	keys := map[string]string{}
	for _, dl := range e.Deliveries {
		keys[dl.DestinationID] = dl.OrderKey
	}
	if keys[d.ID] != "res-9" || keys[byPath.ID] != fmt.Sprint(payload.N) {
		t.Fatalf("released deliveries' order keys %v, want res-9 and %d", keys, payload.N)
	}
}

// testOrderedReplayToNewDestination: replaying an event to a destination
// it never went to creates a delivery with that destination's order key.
func testOrderedReplayToNewDestination(t *testing.T, s relay.Store) {
	plain := destination(t, s, "plain")
	it := keyed("R", t0, plain)
	insert(t, s, it)
	d := orderedDestination(t, s, "ordered", "")
	ds, err := s.ReplayEvent(ctx, it.Event.ID, "", []string{d.ID}, t0.Add(time.Second))
	must(t, err)
	keys := map[string]string{}
	for _, dl := range ds {
		keys[dl.DestinationID] = dl.OrderKey
	}
	if len(ds) != 2 || keys[d.ID] != "R" || keys[plain.ID] != "" {
		t.Fatalf("replayed deliveries' order keys %v, want R for the ordered destination only", keys)
	}
}
