package backfill

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/relayhq/relay"
)

// committer group-commits the pages of concurrent tasks, as the ingest
// pipeline does with webhooks: a page queued while a commit runs waits for
// it, and the next commit stores every page queued meanwhile in one
// transaction (relay.BackfillStore.CommitBackfillPages), so N tasks cost
// one fsync per round rather than N. Each page still commits on its own
// terms: it gets its own error, and a page that conflicts or fails does not
// fail the others.
//
// There is no committer goroutine to start and stop: the task that finds no
// commit running commits the queue itself, then hands the turn to the
// first task whose page arrived meanwhile. Every commit is thus run by a
// task waiting for it, and a task returns only once its own page is
// committed or failed.
type committer struct {
	store relay.BackfillStore
	// reserve, when set, takes room in the delivery engine for a group's
	// deliveries, which are then written leased to owner and handed over
	// after the commit (Config.Reserve).
	reserve func(n int, destinationIDs []string) relay.Reservation
	owner   string
	lease   time.Duration
	now     func() time.Time

	mu      sync.Mutex
	queue   []*queuedPage
	running bool // a task is committing: pages queued now wait for their turn
}

type queuedPage struct {
	page *relay.BackfillPage
	dsts [][]*relay.Destination // dsts[i][j] is where page.Items[i].Deliveries[j] goes
	done chan error             // the page's outcome, or errTurn
	// dispatched is set, before done is answered, when the page's
	// unordered deliveries were written leased and handed over.
	dispatched bool
}

// errTurn tells a waiting task that it runs the next commit.
var errTurn = errors.New("backfill: your turn to commit")

// maxGroup is how many pages one commit takes at most: a few thousand
// events, as many as a few ingest batches.
const maxGroup = 16

// commitTimeout bounds a group commit. The group is shared, so no one
// task's context can cancel it.
const commitTimeout = 30 * time.Second

// commit stores p with the pages of other tasks queued with it and returns
// the page's own outcome (CommitBackfillPage's errors). dsts[i][j] is the
// destination of p.Items[i].Deliveries[j]. Once queued, a page is
// committed or failed even when ctx ends meanwhile: the task only learns
// which. It reports whether the page's deliveries were handed to the
// delivery engine (else the poller must be woken for them).
func (c *committer) commit(ctx context.Context, p *relay.BackfillPage, dsts [][]*relay.Destination) (dispatched bool, err error) {
	q := &queuedPage{page: p, dsts: dsts, done: make(chan error, 1)}
	c.mu.Lock()
	c.queue = append(c.queue, q)
	turn := !c.running
	c.running = true
	c.mu.Unlock()
	if !turn {
		err := <-q.done
		if err != errTurn {
			return q.dispatched, err
		}
	}
	c.run(ctx)
	err = <-q.done
	return q.dispatched, err
}

// run commits what is queued (at most maxGroup pages, the head of the
// queue holding the caller's own), answers those pages, and hands the turn
// over to the first page queued after them, if any.
func (c *committer) run(ctx context.Context) {
	c.mu.Lock()
	n := min(len(c.queue), maxGroup)
	group := c.queue[:n:n]
	c.queue = c.queue[n:]
	c.mu.Unlock()

	// Whatever happens to this commit, the tasks waiting behind it must
	// not wait forever: a store that panics fails the group's pages, and
	// the turn still passes on.
	defer c.handOver()
	answered := false
	defer func() {
		if !answered {
			for _, q := range group {
				q.done <- relay.Errorf(relay.EINTERNAL, "backfill: the page commit failed")
			}
		}
	}()

	pages := make([]*relay.BackfillPage, len(group))
	for i, q := range group {
		pages[i] = q.page
	}
	res := c.reserveFor(pages)
	handed := false
	defer func() {
		if res != nil && !handed {
			res.Cancel()
		}
	}()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	errs := c.store.CommitBackfillPages(cctx, pages)
	if res != nil {
		var claims []*relay.Claim
		for i, q := range group {
			if errs[i] != nil {
				continue // not written: its room is freed with the unused rest
			}
			q.dispatched = true
			for j, it := range q.page.Items {
				if it.Duplicate {
					continue
				}
				for k, d := range it.Deliveries {
					if !d.Ordered() {
						claims = append(claims, &relay.Claim{Delivery: d, Event: it.Event, Destination: q.dsts[j][k]})
					}
				}
			}
		}
		handed = true
		res.Dispatch(claims)
	}
	for i, q := range group {
		q.done <- errs[i]
	}
	answered = true
}

// reserveFor takes room in the delivery engine for the pages' unordered
// deliveries and, when it gets it, has every item written leased to this
// replica. It returns nil when there is no engine, nothing to reserve, or
// no room: the deliveries are then written unleased, for the poller.
func (c *committer) reserveFor(pages []*relay.BackfillPage) relay.Reservation {
	if c.reserve == nil {
		return nil
	}
	n, ids := 0, []string(nil)
	for _, p := range pages {
		for _, it := range p.Items {
			for _, d := range it.Deliveries {
				if !d.Ordered() {
					n++
					ids = append(ids, d.DestinationID)
				}
			}
		}
	}
	if n == 0 {
		return nil
	}
	res := c.reserve(n, ids)
	if res == nil {
		return nil
	}
	until := c.now().Add(c.lease)
	for _, p := range pages {
		for _, it := range p.Items {
			it.LeaseTo(c.owner, until)
		}
	}
	return res
}

// handOver gives the turn to the first queued page's task, or ends the turn.
func (c *committer) handOver() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) > 0 {
		c.queue[0].done <- errTurn
	} else {
		c.running = false
		c.queue = nil // let the backing array go
	}
}
