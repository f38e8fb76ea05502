// Package ingest turns verified webhooks into durably stored events with
// group commit: concurrent requests queue their events and one committer
// stores everything queued so far in a single transaction, so a burst of N
// requests costs one fsync rather than N. Each caller gets its answer only
// after the commit that holds its event has returned.
//
// Routing happens inside the commit: every new event gets one delivery per
// matching destination. Deliveries the dispatcher has room for are written
// already leased to this replica and handed to it straight after the commit,
// so delivery starts without a poll and without a second write to claim.
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

// Router returns the destinations an event goes to.
type Router interface {
	Route(e *relay.Event) []*relay.Destination
}

// Dispatcher takes deliveries to send right away.
type Dispatcher interface {
	// Reserve asks for room for n deliveries held in memory; false means
	// none was taken and the deliveries are left for the poller.
	Reserve(n int) bool
	// Release returns room reserved but not used.
	Release(n int)
	// Dispatch hands over leased deliveries whose room was reserved.
	Dispatch(claims []*relay.Claim)
	// Wake tells the poller that unleased deliveries are due now.
	Wake()
	// Paused reports whether a destination is paused (failing): its
	// deliveries are stored unleased, to wait for it.
	Paused(destinationID string) bool
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
	dsts := p.router.Route(e)
	item := &relay.IngestItem{Event: e, Deliveries: make([]*relay.Delivery, len(dsts))}
	for i, d := range dsts {
		item.Deliveries[i] = &relay.Delivery{
			ID: relay.NewID("dlv", now), EventID: e.ID, DestinationID: d.ID,
			Status: relay.DeliveryPending, Source: e.Source, NextAttemptAt: now,
			CreatedAt: now, UpdatedAt: now,
		}
	}
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

func (p *Pipeline) anyPaused(batch []*request) bool {
	for _, r := range batch {
		for _, d := range r.dsts {
			if p.disp.Paused(d.ID) {
				return true
			}
		}
	}
	return false
}

// commit stores one batch and answers every request in it.
func (p *Pipeline) commit(batch []*request) {
	now := p.now()
	items := make([]*relay.IngestItem, len(batch))
	n := 0
	for i, r := range batch {
		items[i] = r.item
		n += len(r.item.Deliveries)
	}
	// Room for the whole batch or none of it: simple, and the poller picks
	// up whatever was not leased here.
	leased := n > 0 && !p.anyPaused(batch) && p.disp.Reserve(n)
	if leased {
		for _, it := range items {
			it.LeaseOwner, it.LeaseUntil = p.cfg.Owner, now.Add(p.cfg.Lease)
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
			p.disp.Release(n)
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

	var claims []*relay.Claim
	unused := 0
	for _, r := range batch {
		it := r.item
		if it.Duplicate {
			unused += len(it.Deliveries)
			continue
		}
		if leased {
			for i, d := range it.Deliveries {
				claims = append(claims, &relay.Claim{Delivery: d, Event: it.Event, Destination: r.dsts[i]})
			}
		}
	}
	if leased {
		if unused > 0 {
			p.disp.Release(unused)
		}
		if len(claims) > 0 {
			p.disp.Dispatch(claims)
		}
	} else if n > 0 {
		p.disp.Wake()
	}
	for _, r := range batch {
		r.done <- nil
	}
}
