package backfill

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/relayhq/relay"
)

// groupStore records the groups it is asked to commit. The first commit
// waits for release, so that pages queue behind it; a page of a task in
// conflicts fails with ECONFLICT.
type groupStore struct {
	relay.BackfillStore
	entered   chan struct{}
	release   chan struct{}
	conflicts map[string]bool
	panics    bool // the first commit panics once released

	mu     sync.Mutex
	groups [][]string // task ids, per commit
}

func (s *groupStore) CommitBackfillPages(ctx context.Context, pages []*relay.BackfillPage) []error {
	s.mu.Lock()
	first := len(s.groups) == 0
	var ids []string
	for _, p := range pages {
		ids = append(ids, p.TaskID)
	}
	s.groups = append(s.groups, ids)
	s.mu.Unlock()
	if first {
		close(s.entered)
		<-s.release
		if s.panics {
			panic("store bug")
		}
	}
	errs := make([]error, len(pages))
	for i, p := range pages {
		if s.conflicts[p.TaskID] {
			errs[i] = relay.Errorf(relay.ECONFLICT, "task %s moved on", p.TaskID)
		}
	}
	return errs
}

func TestPagesQueuedDuringACommitShareTheNext(t *testing.T) {
	st := &groupStore{entered: make(chan struct{}), release: make(chan struct{}), conflicts: map[string]bool{"b": true}}
	c := &committer{store: st}
	errs := map[string]chan error{}
	for _, id := range []string{"first", "a", "b", "c"} {
		errs[id] = make(chan error, 1)
	}
	commit := func(ctx context.Context, id string) {
		errs[id] <- commitErr(c, ctx, &relay.BackfillPage{TaskID: id})
	}
	go commit(context.Background(), "first")
	<-st.entered
	// While the first page commits, three tasks queue theirs; one of them
	// gives up waiting (its job is cancelled), which changes nothing.
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	go commit(context.Background(), "a")
	go commit(cancelled, "b")
	go commit(context.Background(), "c")
	for queued := 0; queued < 3; {
		c.mu.Lock()
		queued = len(c.queue)
		c.mu.Unlock()
		runtime.Gosched()
	}
	close(st.release)

	if err := <-errs["first"]; err != nil {
		t.Fatalf("first page: %v", err)
	}
	for _, id := range []string{"a", "c"} {
		if err := <-errs[id]; err != nil {
			t.Fatalf("page of %s: %v, want committed despite the conflict of another page", id, err)
		}
	}
	if err := <-errs["b"]; relay.ErrorCode(err) != relay.ECONFLICT {
		t.Fatalf("conflicting page: %v, want ECONFLICT", err)
	}
	if len(st.groups) != 2 || len(st.groups[0]) != 1 || len(st.groups[1]) != 3 {
		t.Fatalf("commits: %v, want the first page alone, then the three queued meanwhile together", st.groups)
	}
	if c.running || len(c.queue) != 0 {
		t.Fatalf("after the last commit: running %v, %d queued", c.running, len(c.queue))
	}
	// Idle again: the next page commits at once, on its own.
	if err := commitErr(c, context.Background(), &relay.BackfillPage{TaskID: "d"}); err != nil || len(st.groups) != 3 {
		t.Fatalf("next page: %v, commits %v", err, st.groups)
	}
}

func TestGroupsAreBounded(t *testing.T) {
	st := &groupStore{entered: make(chan struct{}), release: make(chan struct{})}
	c := &committer{store: st}
	n := maxGroup*2 + 1
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = commitErr(c, context.Background(), &relay.BackfillPage{TaskID: "first"}) }()
	<-st.entered
	for range n {
		wg.Add(1)
		go func() { defer wg.Done(); _ = commitErr(c, context.Background(), &relay.BackfillPage{TaskID: "x"}) }()
	}
	for queued := 0; queued < n; {
		c.mu.Lock()
		queued = len(c.queue)
		c.mu.Unlock()
		runtime.Gosched()
	}
	close(st.release)
	wg.Wait()
	sizes := []int{}
	for _, g := range st.groups {
		sizes = append(sizes, len(g))
	}
	if len(sizes) != 4 || sizes[1] != maxGroup || sizes[2] != maxGroup || sizes[3] != 1 {
		t.Fatalf("group sizes %v, want 1, %d, %d, 1", sizes, maxGroup, maxGroup)
	}
}

// A commit that panics fails its own group, and the tasks queued behind it
// still get their turn.
func TestAPanickingCommitPassesTheTurnOn(t *testing.T) {
	st := &groupStore{entered: make(chan struct{}), release: make(chan struct{}), panics: true}
	c := &committer{store: st}
	next := make(chan error, 1)
	go func() {
		<-st.entered
		go func() { next <- commitErr(c, context.Background(), &relay.BackfillPage{TaskID: "next"}) }()
		for queued := 0; queued < 1; {
			c.mu.Lock()
			queued = len(c.queue)
			c.mu.Unlock()
			runtime.Gosched()
		}
		close(st.release)
	}()
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the store's panic did not reach the task that ran the commit")
			}
		}()
		_ = commitErr(c, context.Background(), &relay.BackfillPage{TaskID: "first"})
	}()
	if err := <-next; err != nil {
		t.Fatalf("page queued behind the panic: %v", err)
	}
	if len(st.groups) != 2 || st.groups[1][0] != "next" {
		t.Fatalf("commits: %v", st.groups)
	}
}

// commitErr commits p without destinations and returns its error.
func commitErr(c *committer, ctx context.Context, p *relay.BackfillPage) error {
	_, err := c.commit(ctx, p, nil)
	return err
}

// fakeReservation records what it is handed.
type fakeReservation struct {
	n         int
	claims    []*relay.Claim
	ended     int
	cancelled bool
}

func (r *fakeReservation) Dispatch(claims []*relay.Claim) { r.claims = claims; r.ended++ }
func (r *fakeReservation) Cancel()                        { r.cancelled = true; r.ended++ }

// dupStore marks the items whose delivery id is in dups as duplicates, as
// a store does, and fails the pages of tasks in conflicts.
type dupStore struct {
	relay.BackfillStore
	dups      map[string]bool
	conflicts map[string]bool
	leased    []string // delivery ids of items written leased
}

func (s *dupStore) CommitBackfillPages(ctx context.Context, pages []*relay.BackfillPage) []error {
	errs := make([]error, len(pages))
	for i, p := range pages {
		if s.conflicts[p.TaskID] {
			errs[i] = relay.Errorf(relay.ECONFLICT, "task %s moved on", p.TaskID)
			continue
		}
		for _, it := range p.Items {
			it.Duplicate = s.dups[it.Event.DeliveryID]
			if it.LeaseOwner == "me" {
				s.leased = append(s.leased, it.Event.DeliveryID)
			}
		}
	}
	return errs
}

// With room in the delivery engine, a page's unordered deliveries are
// written leased and handed over after the commit, without the duplicates;
// its ordered ones are left to the poller, and a page that failed hands
// nothing over.
func TestCommittedPagesAreHandedToDelivery(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	plain := &relay.Destination{ID: "dst_plain"}
	ordered := &relay.Destination{ID: "dst_ordered", Ordering: relay.OrderingResource}
	page := func(task string, ids ...string) (*relay.BackfillPage, [][]*relay.Destination) {
		p := &relay.BackfillPage{TaskID: task}
		var dsts [][]*relay.Destination
		for _, id := range ids {
			e := &relay.Event{ID: relay.NewID("evt", t0), DeliveryID: id, ResourceID: "r"}
			d := []*relay.Destination{plain, ordered}
			p.Items = append(p.Items, relay.PlanEvent(e, d, t0))
			dsts = append(dsts, d)
		}
		return p, dsts
	}
	st := &dupStore{dups: map[string]bool{"a2": true}}
	var res *fakeReservation
	var asked []string
	c := &committer{store: st, owner: "me", lease: time.Minute, now: func() time.Time { return t0 },
		reserve: func(n int, ids []string) relay.Reservation {
			asked = ids
			res = &fakeReservation{n: n}
			return res
		}}
	p, dsts := page("a", "a1", "a2")
	dispatched, err := c.commit(context.Background(), p, dsts)
	if err != nil || !dispatched {
		t.Fatalf("dispatched %v, err %v", dispatched, err)
	}
	if res.n != 2 || len(asked) != 2 || asked[0] != "dst_plain" {
		t.Fatalf("reserved %d for %v, want 2 for the unordered deliveries", res.n, asked)
	}
	if len(st.leased) != 2 {
		t.Fatalf("items written leased: %v", st.leased)
	}
	if res.ended != 1 || len(res.claims) != 1 || res.claims[0].Event.DeliveryID != "a1" ||
		res.claims[0].Destination != plain || res.claims[0].Delivery.DestinationID != "dst_plain" {
		t.Fatalf("handed over %+v (ended %d), want a1's unordered delivery alone", res.claims, res.ended)
	}

	st.conflicts = map[string]bool{"b": true}
	p, dsts = page("b", "b1")
	dispatched, err = c.commit(context.Background(), p, dsts)
	if relay.ErrorCode(err) != relay.ECONFLICT || dispatched {
		t.Fatalf("a failed page: dispatched %v, err %v", dispatched, err)
	}
	if res.ended != 1 || len(res.claims) != 0 || res.cancelled {
		t.Fatalf("a failed page's reservation: claims %v, ended %d, cancelled %v; want freed by an empty hand-over", res.claims, res.ended, res.cancelled)
	}

	// No room: written unleased, nothing handed over.
	c.reserve = func(int, []string) relay.Reservation { return nil }
	st.conflicts, st.leased = nil, nil
	p, dsts = page("c", "c1")
	if dispatched, err = c.commit(context.Background(), p, dsts); err != nil || dispatched || len(st.leased) != 0 {
		t.Fatalf("without room: dispatched %v, err %v, leased %v", dispatched, err, st.leased)
	}
}
