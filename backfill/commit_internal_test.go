package backfill

import (
	"context"
	"runtime"
	"sync"
	"testing"

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
		errs[id] <- c.commit(ctx, &relay.BackfillPage{TaskID: id})
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
	if err := c.commit(context.Background(), &relay.BackfillPage{TaskID: "d"}); err != nil || len(st.groups) != 3 {
		t.Fatalf("next page: %v, commits %v", err, st.groups)
	}
}

func TestGroupsAreBounded(t *testing.T) {
	st := &groupStore{entered: make(chan struct{}), release: make(chan struct{})}
	c := &committer{store: st}
	n := maxGroup*2 + 1
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = c.commit(context.Background(), &relay.BackfillPage{TaskID: "first"}) }()
	<-st.entered
	for range n {
		wg.Add(1)
		go func() { defer wg.Done(); _ = c.commit(context.Background(), &relay.BackfillPage{TaskID: "x"}) }()
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
		go func() { next <- c.commit(context.Background(), &relay.BackfillPage{TaskID: "next"}) }()
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
		_ = c.commit(context.Background(), &relay.BackfillPage{TaskID: "first"})
	}()
	if err := <-next; err != nil {
		t.Fatalf("page queued behind the panic: %v", err)
	}
	if len(st.groups) != 2 || st.groups[1][0] != "next" {
		t.Fatalf("commits: %v", st.groups)
	}
}
