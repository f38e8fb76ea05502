// Package ingest turns verified webhooks into durably stored events with
// group commit: concurrent requests queue their events and one committer
// stores everything queued so far in a single transaction, so a burst of N
// requests costs one fsync rather than N. Each caller gets its answer only
// after the commit that holds its event has returned.
//
// Routing happens in Submit, on the request's goroutine and under its
// context: the event is matched to its connection's org (Routing, which
// also holds events of unknown accounts), and its deliveries are planned
// (relay.PlanEvent) before it is queued. The commit writes what was
// planned. When the dispatcher reserves room for a batch (one
// relay.Reservation per batch), its deliveries are written already leased
// to this replica and handed over straight after the commit, so delivery
// starts without a poll and without a second write to claim.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/metrics"
)

// Router returns the destinations an event goes to, setting the event's
// org and match state on the way. ctx is the request's.
type Router interface {
	Route(ctx context.Context, e *relay.Event) []*relay.Destination
}

// Dispatcher takes deliveries to send right away.
type Dispatcher interface {
	// Reserve takes room for n deliveries to the destinations
	// destinationIDs, to be written leased to this replica and handed over
	// through the reservation; nil means none was taken (no room, or a
	// destination is paused) and the deliveries are left for the poller.
	Reserve(n int, destinationIDs []string) relay.Reservation
	// Wake tells the poller that unleased deliveries are due now.
	Wake()
}

// Config tunes the pipeline.
type Config struct {
	Owner      string        // this replica's lease owner id
	Lease      time.Duration // lease on dispatched deliveries
	BatchMax   int           // events per commit at most
	Committers int           // concurrent committers (1 for SQLite: one writer)
	// ProbeInterval is how often, after a failed commit, the store is
	// probed (relay.WriteProber) to find whether events can be stored
	// again; default 1 s. An idle pipeline probes every idleProbeAfter.
	ProbeInterval time.Duration
}

// idleProbeAfter is how long without a successful write before the
// pipeline probes the store anyway: a disk can fill up while no webhook
// arrives, and readiness should say so before the next one fails.
const idleProbeAfter = 10 * time.Second

type request struct {
	item *relay.IngestItem
	dsts []*relay.Destination
	done chan error
}

// Pipeline is the group-commit ingest path. Start it with Run.
type Pipeline struct {
	store   relay.Store
	router  Router
	disp    Dispatcher
	metrics *metrics.Metrics
	logger  *slog.Logger
	now     func() time.Time
	cfg     Config

	reqs    chan *request
	mu      sync.RWMutex // guards closed against Submit racing Close
	closed  bool
	stopped chan struct{}

	health    sync.Mutex
	failure   error     // why the last commit or probe failed; nil when it succeeded
	failures  int64     // failed commits and probes so far
	lastWrite time.Time // when a commit or probe last succeeded
}

// New returns a pipeline; call Run to start its committers.
func New(store relay.Store, router Router, disp Dispatcher, m *metrics.Metrics, logger *slog.Logger, now func() time.Time, cfg Config) *Pipeline {
	if cfg.BatchMax <= 0 {
		cfg.BatchMax = 256
	}
	if cfg.Committers <= 0 {
		cfg.Committers = 1
	}
	if cfg.Lease <= 0 {
		cfg.Lease = time.Minute
	}
	if cfg.ProbeInterval <= 0 {
		cfg.ProbeInterval = time.Second
	}
	return &Pipeline{
		store: store, router: router, disp: disp, metrics: m, logger: logger, now: now, cfg: cfg,
		reqs:      make(chan *request, cfg.BatchMax*4),
		stopped:   make(chan struct{}),
		lastWrite: now(),
	}
}

// ErrClosed is returned by Submit once the pipeline is shutting down.
var ErrClosed = relay.Errorf(relay.EUNAVAILABLE, "Relay is shutting down; retry shortly.")

// Submit routes e, stores it durably with its deliveries, and returns once
// the commit holding it is done. e.ID is set by Submit, and e.ReceivedAt
// (now when zero) is brought to relay.EventTime's precision, so the first
// attempt sends what every later one reads back from the store. It returns
// an *Error EUNAVAILABLE when the event could not be stored (nothing was
// stored).
func (p *Pipeline) Submit(ctx context.Context, e *relay.Event) (relay.IngestResult, error) {
	now := p.now()
	if e.ID == "" {
		e.ID = relay.NewID("evt", now)
	}
	if e.ReceivedAt.IsZero() {
		e.ReceivedAt = now
	}
	e.ReceivedAt = relay.EventTime(e.ReceivedAt)
	dsts := p.router.Route(ctx, e)
	item := relay.PlanEvent(e, dsts, now)
	r := &request{item: item, dsts: dsts, done: make(chan error, 1)}

	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		return relay.IngestResult{}, ErrClosed
	}
	select {
	case p.reqs <- r:
		p.mu.RUnlock()
	case <-ctx.Done():
		p.mu.RUnlock()
		return relay.IngestResult{}, relay.Errorf(relay.EUNAVAILABLE, "Request cancelled before the event was stored.")
	}
	// Once queued the event will be committed or failed; wait for that even if
	// the client goes away, so the answer we log matches what was stored.
	if err := <-r.done; err != nil {
		return relay.IngestResult{}, err
	}
	return relay.IngestResult{EventID: item.Event.ID, Duplicate: item.Duplicate}, nil
}

// Queued returns how many events wait for a committer.
func (p *Pipeline) Queued() int { return len(p.reqs) }

// Run runs the committers until Close is called and every queued event is
// committed, and meanwhile probes the store (when it is a
// relay.WriteProber) as ProbeInterval describes.
func (p *Pipeline) Run() {
	var wg sync.WaitGroup
	for range p.cfg.Committers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.commitLoop()
		}()
	}
	quit, probed := make(chan struct{}), make(chan struct{})
	if prober, ok := p.store.(relay.WriteProber); ok {
		go func() { defer close(probed); p.probeLoop(prober, quit) }()
	} else {
		close(probed)
	}
	wg.Wait()
	close(quit)
	<-probed
	close(p.stopped)
}

// Writable returns nil when events can be stored now, as far as the last
// commit or probe tells, or else an error wrapping why that write failed.
// It is cheap: readiness probes call it.
func (p *Pipeline) Writable() error {
	p.health.Lock()
	defer p.health.Unlock()
	if p.failure != nil {
		return fmt.Errorf("ingest: events cannot be stored: %w", p.failure)
	}
	return nil
}

// wrote records a commit's or probe's outcome. A probe's success (since is
// the failure count when it began) does not clear a commit failure that
// came after the probe began.
func (p *Pipeline) wrote(err error, probe bool, since int64) {
	p.health.Lock()
	defer p.health.Unlock()
	switch {
	case err != nil:
		p.failure = err
		p.failures++
	case !probe || p.failures == since:
		if p.failure != nil {
			p.logger.Info("events can be stored again")
		}
		p.failure = nil
		p.lastWrite = p.now()
	}
}

// probeLoop probes the store every ProbeInterval while the last write
// failed, or when nothing was written for idleProbeAfter, until quit closes.
func (p *Pipeline) probeLoop(prober relay.WriteProber, quit <-chan struct{}) {
	t := time.NewTicker(p.cfg.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-quit:
			return
		case <-t.C:
		}
		p.health.Lock()
		failing, since, last := p.failure != nil, p.failures, p.lastWrite
		p.health.Unlock()
		if !failing && p.now().Sub(last) < idleProbeAfter {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := prober.ProbeWrite(ctx)
		cancel()
		if err != nil {
			p.logger.Warn("storage probe failed: not ready", "err", err)
		}
		p.wrote(err, true, since)
	}
}

// Close stops accepting events, waits until every queued one is committed
// and the committers have exited, or ctx ends.
func (p *Pipeline) Close(ctx context.Context) error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.reqs)
	}
	p.mu.Unlock()
	select {
	case <-p.stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *Pipeline) commitLoop() {
	batch := make([]*request, 0, p.cfg.BatchMax)
	for {
		r, ok := <-p.reqs
		if !ok {
			return
		}
		batch = append(batch[:0], r)
	fill:
		for len(batch) < p.cfg.BatchMax {
			select {
			case r, ok := <-p.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		p.commit(batch)
	}
}

// commit stores one batch and answers every request in it.
func (p *Pipeline) commit(batch []*request) {
	now := p.now()
	items := make([]*relay.IngestItem, len(batch))
	n, ordered := 0, false
	for i, r := range batch {
		items[i] = r.item
		for _, d := range r.item.Deliveries {
			// Ordered deliveries are never leased here: ClaimDue decides
			// their turn, so they only wake the poller.
			if d.Ordered() {
				ordered = true
			} else {
				n++
			}
		}
	}
	// Room for the whole batch or none of it: simple, and the poller picks
	// up whatever was not leased here.
	var res relay.Reservation
	if n > 0 {
		dstIDs := make([]string, 0, n)
		for _, it := range items {
			for _, d := range it.Deliveries {
				if !d.Ordered() {
					dstIDs = append(dstIDs, d.DestinationID)
				}
			}
		}
		res = p.disp.Reserve(n, dstIDs)
	}
	leased := res != nil
	if leased {
		for _, it := range items {
			it.LeaseTo(p.cfg.Owner, now.Add(p.cfg.Lease))
		}
	}

	start := time.Now()
	// A fixed timeout rather than the callers' contexts: the batch is shared.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err := p.store.InsertEvents(ctx, items)
	cancel()
	p.metrics.CommitDuration.Observe(time.Since(start).Seconds())
	p.metrics.CommitBatchSize.Observe(float64(len(batch)))
	p.wrote(err, false, 0)

	if err != nil {
		if leased {
			res.Cancel()
		}
		p.logger.Error("ingest commit failed", "events", len(batch), "err", err)
		failure := relay.Errorf(relay.EUNAVAILABLE, "The event could not be stored; retry later.")
		if errors.Is(err, context.DeadlineExceeded) {
			failure = relay.Errorf(relay.EUNAVAILABLE, "Storing the event timed out; retry later.")
		}
		for _, r := range batch {
			r.done <- failure
		}
		return
	}

	if leased {
		// Duplicates wrote nothing: the reservation frees their room.
		var claims []*relay.Claim
		for _, r := range batch {
			if it := r.item; !it.Duplicate {
				for i, d := range it.Deliveries {
					if !d.Ordered() {
						claims = append(claims, &relay.Claim{Delivery: d, Event: it.Event, Destination: r.dsts[i]})
					}
				}
			}
		}
		res.Dispatch(claims)
	}
	if (!leased && n > 0) || ordered {
		p.disp.Wake()
	}
	for _, r := range batch {
		r.done <- nil
	}
}
