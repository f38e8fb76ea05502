// Package delivery sends stored events to destinations: signed per Standard
// Webhooks, retried on a schedule, recorded attempt by attempt.
//
// The deliveries table is the queue. Work reaches the engine two ways: the
// ingest pipeline reserves room before a commit (Reserve) and, through that
// relay.Reservation, hands over the deliveries it has just committed
// already leased to this replica (so delivery starts without a poll); and
// a poller claims due deliveries (retries, replays, and work whose lease
// expired because its replica died). Each destination has its own
// in-memory queue and at most MaxConcurrency requests in flight, so a slow
// destination delays nobody else. Outcomes are written back in batches by
// one recorder.
package delivery

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/metrics"
)

// DefaultSchedule is the retry schedule the Standard Webhooks spec
// recommends: the first attempt at once, then after 5 s, 5 min, 30 min, 2 h,
// 5 h, 10 h and 10 h; a delivery still failing after the last is dead.
var DefaultSchedule = []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// Config tunes the engine.
type Config struct {
	Owner           string          // this replica's lease owner id
	Schedule        []time.Duration // Schedule[k] is the wait before attempt k+1
	Jitter          float64         // ± fraction applied to each wait (0.1 = ±10 %)
	Lease           time.Duration   // how long a claim is ours; must exceed the longest request
	PollInterval    time.Duration   // how often to look for due work without a wake-up
	RefreshInterval time.Duration   // how often to reload destinations (other replicas' changes)
	Capacity        int             // deliveries held in memory at most
	ClaimBatch      int             // deliveries claimed per query at most

	// On a store several replicas share (relay.ReplicaStore), the engine
	// beats a heartbeat every HeartbeatInterval and releases the leases of
	// replicas whose heartbeat is older than StaleAfter: a dead replica's
	// deliveries wait StaleAfter plus one interval at most, not a lease.
	HeartbeatInterval time.Duration // default 2 s
	StaleAfter        time.Duration // default 4 heartbeat intervals

	// OnDead, when set, is called (on the recording goroutine: it must not
	// block) for every delivery that went dead after its outcome was stored.
	OnDead func(c *relay.Claim, attempts int)
}

func (c *Config) defaults() {
	if len(c.Schedule) == 0 {
		c.Schedule = DefaultSchedule
	}
	if c.Lease <= 0 {
		c.Lease = time.Minute
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.RefreshInterval <= 0 {
		c.RefreshInterval = 5 * time.Second
	}
	if c.Capacity <= 0 {
		c.Capacity = 4096
	}
	if c.ClaimBatch <= 0 {
		c.ClaimBatch = 512
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 2 * time.Second
	}
	if c.StaleAfter <= 0 {
		c.StaleAfter = 4 * c.HeartbeatInterval
	}
}

// Engine delivers events. Create it with New, start it with Start, stop it
// with Stop.
type Engine struct {
	store   relay.Store
	client  *http.Client
	metrics *metrics.Metrics
	logger  *slog.Logger
	now     func() time.Time
	cfg     Config

	reserved atomic.Int64 // room taken in memory (queued, in flight, or reserved by ingest)
	routes   atomic.Pointer[relay.Routes]

	mu       sync.Mutex
	queues   map[string]*destQueue
	stopping bool

	wake     chan struct{}
	starved  atomic.Bool // the poller stopped for want of room; wake it when room frees
	outcomes chan *result
	workers  sync.WaitGroup
	loops    sync.WaitGroup
	recorder sync.WaitGroup
	cancel   context.CancelFunc // stops the poll and refresh loops
	sendCtx  context.Context    // parent of every request; cancelled when Stop runs out of time
	stopSend context.CancelFunc
}

// destQueue is one destination's in-memory queue.
type destQueue struct {
	id       string
	max      int
	active   int
	queue    []*relay.Claim
	disabled bool // a 410 arrived: stop sending, release the rest
	signer   *signer

	// The circuit breaker. After breakerThreshold consecutive failures the
	// destination is paused: nothing is sent to it until pausedUntil, so
	// its deliveries keep their retries for when it is back. The first
	// claim after a pause is a probe, sent alone (probing); its success
	// closes the breaker, its failure pauses again, for longer.
	failures    int
	pausedUntil time.Time
	pauseStep   int
	probing     bool
	// pauseRecorded is set once the current pause is in the store: only
	// then does a store without it mean the pause was ended (Resume).
	pauseRecorded bool
}

// resume closes q's breaker: nothing is held back any more, and the next
// failures count from zero. The caller holds the engine's lock.
func (q *destQueue) resume() {
	q.pausedUntil, q.pauseRecorded, q.probing, q.pauseStep, q.failures = time.Time{}, false, false, 0, 0
}

// breakerThreshold is how many failures in a row pause a destination.
const breakerThreshold = 5

// pauseSchedule is how long successive pauses of a failing destination last.
var pauseSchedule = []time.Duration{5 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute}

// limit is how many requests may be in flight: one while probing.
func (q *destQueue) limit() int {
	if q.probing {
		return 1
	}
	return max(q.max, 1)
}

type result struct {
	outcome  *relay.Outcome
	claim    *relay.Claim
	release  bool // not attempted: just give the lease back
	received time.Time
}

// New returns an engine. client may be nil for a default tuned for many
// concurrent requests to a few hosts.
func New(store relay.Store, client *http.Client, m *metrics.Metrics, logger *slog.Logger, now func() time.Time, cfg Config) *Engine {
	cfg.defaults()
	if client == nil {
		client = NewHTTPClient()
	}
	e := &Engine{
		store: store, client: client, metrics: m, logger: logger, now: now, cfg: cfg,
		queues:   map[string]*destQueue{},
		wake:     make(chan struct{}, 1),
		outcomes: make(chan *result, 4096),
	}
	e.sendCtx, e.stopSend = context.WithCancel(context.Background())
	empty := relay.Routes{}
	e.routes.Store(&empty)
	return e
}

// NewHTTPClient returns the client deliveries are sent with: keep-alive
// connections, many per host, and no redirects (a 3xx is a failed attempt).
func NewHTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          2048,
			MaxIdleConnsPerHost:   512,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
			ForceAttemptHTTP2:     true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Start loads the destinations and starts the poller, the destination
// refresher and the outcome recorder; on a relay.ReplicaStore it registers
// this replica's heartbeat first (returning the store's error) and keeps it
// beating. It returns the store's error.
func (e *Engine) Start(ctx context.Context) error {
	if err := e.Refresh(ctx); err != nil {
		return err
	}
	rs, replicated := e.store.(relay.ReplicaStore)
	if replicated {
		// Registered before the first lease is taken, so that leases this
		// replica leaves behind if it dies are always found.
		if err := rs.Heartbeat(ctx, e.cfg.Owner, e.now()); err != nil {
			return err
		}
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.recorder.Add(1)
	go func() { defer e.recorder.Done(); e.recordLoop() }()
	e.loops.Add(2)
	go func() { defer e.loops.Done(); e.pollLoop(loopCtx) }()
	go func() { defer e.loops.Done(); e.refreshLoop(loopCtx) }()
	if replicated {
		e.loops.Add(1)
		go func() { defer e.loops.Done(); e.heartbeatLoop(loopCtx, rs) }()
	}
	e.Wake()
	return nil
}

// heartbeatLoop keeps this replica's heartbeat fresh and releases the
// leases of replicas whose heartbeat went stale, waking the poller to take
// their work over.
func (e *Engine) heartbeatLoop(ctx context.Context, rs relay.ReplicaStore) {
	t := time.NewTicker(e.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		now := e.now()
		if err := rs.Heartbeat(hctx, e.cfg.Owner, now); err != nil && ctx.Err() == nil {
			e.logger.Warn("heartbeat failed", "err", err)
		}
		n, err := rs.ReleaseStaleLeases(hctx, now.Add(-e.cfg.StaleAfter))
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			e.logger.Warn("releasing stale replicas' leases failed", "err", err)
		case n > 0:
			e.logger.Info("took over the leases of a stopped replica", "deliveries", n)
			e.Wake()
		}
	}
}

// Stop stops claiming, gives back the leases of deliveries not yet started,
// waits for requests in flight to finish and their outcomes to be recorded.
// When ctx ends first, requests still in flight are cancelled and their
// leases given back unrecorded (they will be sent again: at-least-once).
// On a relay.ReplicaStore a clean stop then removes this replica's
// heartbeat. It returns ctx's error when ctx ended first.
func (e *Engine) Stop(ctx context.Context) error {
	if e.cancel != nil {
		e.cancel()
	}
	e.loops.Wait()

	e.mu.Lock()
	e.stopping = true
	var unsent []*relay.Claim
	for _, q := range e.queues {
		unsent = append(unsent, q.queue...)
		q.queue = nil
	}
	e.mu.Unlock()
	e.releaseClaims(unsent)

	done := make(chan struct{})
	go func() { e.workers.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		e.stopSend()
		<-done
		err = ctx.Err()
	}
	close(e.outcomes)
	e.recorder.Wait()
	if rs, ok := e.store.(relay.ReplicaStore); ok && err == nil {
		// Every lease is given back. After a cut-short stop the row stays
		// and goes stale, so the other replicas release what is left.
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if rerr := rs.RemoveReplica(rctx, e.cfg.Owner); rerr != nil {
			e.logger.Warn("removing the replica's heartbeat failed", "err", rerr)
		}
		cancel()
	}
	return err
}

// Wake makes the poller look for due deliveries now.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// reservation is room reserved by Reserve; see relay.Reservation.
type reservation struct {
	e    *Engine
	n    int
	done atomic.Bool
}

// Dispatch hands the committed claims to their destinations' queues and
// frees the room of the deliveries that were not committed.
func (r *reservation) Dispatch(claims []*relay.Claim) {
	if !r.done.CompareAndSwap(false, true) {
		panic("delivery: reservation ended twice")
	}
	if unused := r.n - len(claims); unused > 0 {
		r.e.release(unused)
	}
	if len(claims) > 0 {
		r.e.dispatch(claims)
	}
}

// Cancel frees the whole reservation.
func (r *reservation) Cancel() {
	if !r.done.CompareAndSwap(false, true) {
		panic("delivery: reservation ended twice")
	}
	r.e.release(r.n)
}

// Reserve takes room in memory for n deliveries to the destinations
// destinationIDs (repeats allowed), which the caller stores leased to this
// replica and then hands over through the reservation. It returns nil,
// taking nothing, when there is no room for all n or when any of those
// destinations is paused by its circuit breaker (its deliveries would only
// be handed back): the deliveries are then stored unleased for the poller.
func (e *Engine) Reserve(n int, destinationIDs []string) relay.Reservation {
	if n <= 0 || e.anyPaused(destinationIDs) || !e.reserve(n) {
		return nil
	}
	return &reservation{e: e, n: n}
}

// anyPaused reports whether any of the destinations is paused.
func (e *Engine) anyPaused(ids []string) bool {
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, id := range ids {
		if q := e.queues[id]; q != nil && now.Before(q.pausedUntil) {
			return true
		}
	}
	return false
}

// reserve takes room for n deliveries in memory, or none and false.
func (e *Engine) reserve(n int) bool {
	for {
		cur := e.reserved.Load()
		if cur+int64(n) > int64(e.cfg.Capacity) {
			return false
		}
		if e.reserved.CompareAndSwap(cur, cur+int64(n)) {
			e.metrics.InFlight.Set(float64(cur + int64(n)))
			return true
		}
	}
}

// release gives back room for n deliveries. If the poller stopped for want
// of room and a claim batch now fits, it is woken: a backlog drains at the
// speed deliveries complete, not one memory-full per poll interval.
func (e *Engine) release(n int) {
	v := e.reserved.Add(-int64(n))
	e.metrics.InFlight.Set(float64(v))
	if e.starved.Load() && int(v) <= e.cfg.Capacity-min(e.cfg.ClaimBatch, e.cfg.Capacity/4) && e.starved.CompareAndSwap(true, false) {
		e.Wake()
	}
}

// Resume ends the circuit-breaker pause of the destination in this
// replica's memory and makes the poller look for due deliveries now. The
// caller has ended it in the store (Store.ResumeDestination), which the
// other replicas see at their next Refresh.
func (e *Engine) Resume(destinationID string) {
	e.mu.Lock()
	if q := e.queues[destinationID]; q != nil {
		q.resume()
	}
	e.mu.Unlock()
	e.Wake()
}

// Routes returns the live destinations as last loaded by Refresh.
func (e *Engine) Routes() relay.Routes { return *e.routes.Load() }

// Route returns the destinations an event goes to, from the cached list.
func (e *Engine) Route(ev *relay.Event) []*relay.Destination { return e.Routes().For(ev) }

// Refresh reloads the destinations from the store. Call it after changing one.
func (e *Engine) Refresh(ctx context.Context) error {
	dsts, err := e.store.ListDestinations(ctx)
	if err != nil {
		return err
	}
	routes := relay.Routes(dsts)
	e.routes.Store(&routes)
	e.mu.Lock()
	for _, d := range dsts {
		if q := e.queues[d.ID]; q != nil {
			q.max = d.MaxConcurrency
			q.disabled = d.Disabled
			if d.PausedUntil.After(q.pausedUntil) {
				q.pausedUntil, q.pauseRecorded = d.PausedUntil, true // paused by another replica
			} else if d.PausedUntil.IsZero() && !q.pausedUntil.IsZero() && q.pauseRecorded {
				// Resumed through the API on another replica. A pause
				// not yet written to the store is not mistaken for one.
				q.resume()
			}
		}
	}
	e.mu.Unlock()
	return nil
}

// dispatch queues leased deliveries whose room was reserved and starts
// workers up to each destination's concurrency limit. It never writes to
// the store on the caller's goroutine (the ingest committer's, through a
// reservation): the leases of deliveries it cannot send are given back by
// a goroutine of their own.
func (e *Engine) dispatch(claims []*relay.Claim) {
	var drop []*relay.Claim
	now := e.now()
	e.mu.Lock()
	for _, c := range claims {
		q := e.queues[c.Destination.ID]
		if q == nil {
			q = &destQueue{id: c.Destination.ID, max: c.Destination.MaxConcurrency, disabled: c.Destination.Disabled,
				pausedUntil: c.Destination.PausedUntil, pauseRecorded: true}
			e.queues[c.Destination.ID] = q
		}
		if e.stopping || q.disabled || c.Destination.Disabled || now.Before(q.pausedUntil) {
			drop = append(drop, c)
			continue
		}
		if !q.pausedUntil.IsZero() {
			// The pause is over: probe with one request before opening up.
			q.pausedUntil, q.probing = time.Time{}, true
		}
		q.queue = append(q.queue, c)
		for q.active < q.limit() && q.active < len(q.queue) {
			q.active++
			e.workers.Add(1)
			go e.work(q)
		}
	}
	release := len(drop) > 0 && !e.stopping
	if release {
		// Counted with the workers, under the lock and before Stop sets
		// stopping, so that Stop waits for it.
		e.workers.Add(1)
	}
	e.mu.Unlock()
	switch {
	case release:
		go func() { defer e.workers.Done(); e.releaseClaims(drop) }()
	case len(drop) > 0:
		// Stopping: Stop no longer waits for new goroutines. The ingest
		// pipeline is closed before the engine stops, so this is never the
		// committer of a running server.
		e.releaseClaims(drop)
	}
}

// work sends q's deliveries one after another until the queue is empty.
func (e *Engine) work(q *destQueue) {
	defer e.workers.Done()
	for {
		e.mu.Lock()
		if len(q.queue) == 0 || e.stopping {
			q.active--
			if len(q.queue) == 0 {
				q.queue = nil // let the backing array go
			}
			e.mu.Unlock()
			return
		}
		if q.disabled || e.now().Before(q.pausedUntil) {
			rest := q.queue
			q.queue = nil
			q.active--
			e.mu.Unlock()
			e.releaseClaims(rest)
			return
		}
		if q.active > q.limit() {
			q.active-- // probing: the extra workers step aside
			e.mu.Unlock()
			return
		}
		c := q.queue[0]
		q.queue[0] = nil
		q.queue = q.queue[1:]
		if q.signer == nil || !q.signer.signsFor(c.Destination) {
			s, err := newSigner(c.Destination)
			if err != nil {
				q.signer = nil
			} else {
				q.signer = s
			}
		}
		s := q.signer
		e.mu.Unlock()

		r := e.attempt(c, s)
		if r.outcome != nil && r.outcome.DisableDestination != "" {
			e.mu.Lock()
			q.disabled = true
			e.mu.Unlock()
		}
		if r.outcome != nil {
			e.trackHealth(q, r.outcome)
		}
		e.outcomes <- r
	}
}

// trackHealth feeds an attempt's result to q's circuit breaker, pausing the
// destination (for every replica, through the store) when it keeps failing
// and resuming it when a probe succeeds.
func (e *Engine) trackHealth(q *destQueue, o *relay.Outcome) {
	ok := o.Status == relay.DeliverySucceeded
	// Only failures that say the endpoint is unwell count: no answer, 5xx,
	// 429 and 408. A 4xx is about the delivery, not the endpoint.
	code := o.Attempt.StatusCode
	unhealthy := !ok && (code == 0 || code >= 500 || code == 429 || code == 408)
	now := e.now()
	var pauseUntil time.Time
	var resumed bool
	e.mu.Lock()
	switch {
	case ok:
		q.failures = 0
		if q.probing || q.pauseStep > 0 {
			q.probing, q.pauseStep, resumed = false, 0, true
			for q.active < q.limit() && q.active < len(q.queue) {
				q.active++
				e.workers.Add(1)
				go e.work(q)
			}
		}
	case unhealthy:
		q.failures++
		if q.probing || (q.failures >= breakerThreshold && q.pausedUntil.IsZero()) {
			step := q.pauseStep
			if q.probing {
				step = min(step+1, len(pauseSchedule)-1)
			}
			q.pauseStep, q.probing = step, false
			q.pausedUntil, q.pauseRecorded = now.Add(pauseSchedule[step]), false
			pauseUntil = q.pausedUntil
		}
	}
	e.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch {
	case !pauseUntil.IsZero():
		e.metrics.DestinationPauses.Inc()
		e.logger.Warn("destination failing: paused", "destination_id", q.id, "until", pauseUntil,
			"last_status", code, "last_error", o.Attempt.Error)
		if err := e.store.PauseDestination(ctx, q.id, pauseUntil); err != nil {
			e.logger.Warn("recording the pause failed", "destination_id", q.id, "err", err)
		} else {
			e.mu.Lock()
			if q.pausedUntil.Equal(pauseUntil) {
				q.pauseRecorded = true
			}
			e.mu.Unlock()
		}
	case resumed:
		n, err := e.store.ResumeDestination(ctx, q.id, now)
		if err != nil {
			e.logger.Warn("recording the resume failed", "destination_id", q.id, "err", err)
		}
		e.logger.Info("destination recovered: resumed", "destination_id", q.id, "retries_made_due", n)
		e.Wake() // its waiting deliveries are due now
	}
}

// releaseClaims gives the leases of claims not attempted back in one write
// (so another poll, here or on another replica, can claim them at once)
// and frees their room.
func (e *Engine) releaseClaims(claims []*relay.Claim) {
	if len(claims) == 0 {
		return
	}
	ids := make([]string, len(claims))
	for i, c := range claims {
		ids[i] = c.Delivery.ID
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.store.ReleaseLeases(ctx, e.cfg.Owner, ids); err != nil {
		// The leases run out by themselves; only a delay is lost.
		e.logger.Warn("release leases failed", "deliveries", len(ids), "err", err)
	}
	e.release(len(claims))
}

// pollLoop claims due deliveries on every tick and wake-up.
func (e *Engine) pollLoop(ctx context.Context) {
	t := time.NewTicker(e.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-e.wake:
		}
		if _, err := e.Poll(ctx); err != nil && ctx.Err() == nil {
			e.logger.Warn("claiming due deliveries failed", "err", err)
		}
	}
}

// Poll claims due deliveries while there is room in memory and dispatches
// them. It returns how many it claimed.
func (e *Engine) Poll(ctx context.Context) (int, error) {
	total := 0
	for {
		free := e.cfg.Capacity - int(e.reserved.Load())
		limit := min(free, e.cfg.ClaimBatch)
		if limit <= 0 || !e.reserve(limit) {
			e.starved.Store(true)
			return total, nil
		}
		qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		claims, err := e.store.ClaimDue(qctx, e.cfg.Owner, e.now(), e.cfg.Lease, limit)
		cancel()
		if err != nil {
			e.release(limit)
			return total, err
		}
		e.release(limit - len(claims))
		e.dispatch(claims)
		total += len(claims)
		if len(claims) < limit {
			return total, nil
		}
	}
}

func (e *Engine) refreshLoop(ctx context.Context) {
	t := time.NewTicker(e.cfg.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := e.Refresh(rctx); err != nil && ctx.Err() == nil {
			e.logger.Warn("reloading destinations failed", "err", err)
		}
		if n, err := e.store.QueueDepth(rctx); err == nil {
			e.metrics.QueueDepth.Set(float64(n))
		}
		e.sampleBlockedKeys(rctx)
		cancel()
	}
}

// recordLoop writes outcomes in batches until the outcomes channel closes.
func (e *Engine) recordLoop() {
	batch := make([]*result, 0, 512)
	linger := time.NewTimer(recordLinger)
	defer linger.Stop()
	for {
		r, ok := <-e.outcomes
		if !ok {
			return
		}
		batch = append(batch[:0], r)
		linger.Reset(recordLinger)
		open := true
	fill:
		for open && len(batch) < cap(batch) && !r.claim.Delivery.Ordered() {
			select {
			case r, open = <-e.outcomes:
				if open {
					batch = append(batch, r)
				}
			case <-linger.C:
				break fill
			}
		}
		e.record(batch)
		if !open {
			return
		}
	}
}

// recordLinger is how long the recorder waits for more outcomes before it
// stores a batch. Every write transaction rewrites the pages it touches
// whatever their number of rows, so at a steady rate small batches cost
// several times more per outcome than full ones; outcomes are bookkeeping
// no one waits for, except an ordered key's next delivery, whose outcome
// is stored at once (the batch holding it is not held back).
const recordLinger = 5 * time.Millisecond

// record stores a batch of outcomes, retrying while the database is down:
// an outcome dropped here would only mean a redelivery, but holding it keeps
// the in-memory room taken, which is the back-pressure we want.
func (e *Engine) record(batch []*result) {
	var outcomes []*relay.Outcome
	var released []*relay.Claim
	for _, r := range batch {
		if r.release {
			released = append(released, r.claim)
		} else {
			outcomes = append(outcomes, r.outcome)
		}
	}
	if len(released) > 0 {
		e.releaseClaims(released)
	}
	if len(outcomes) == 0 {
		return
	}
	for wait := 100 * time.Millisecond; ; wait = min(wait*2, 5*time.Second) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := e.store.RecordOutcomes(ctx, outcomes, e.now())
		cancel()
		if err == nil {
			break
		}
		e.logger.Error("recording delivery outcomes failed; retrying", "outcomes", len(outcomes), "err", err)
		if e.sendCtx.Err() != nil {
			break // shutting down past its deadline: the leases will expire
		}
		time.Sleep(wait)
	}
	now := e.now()
	nextInLine := false
	for _, r := range batch {
		if r.release || r.outcome == nil {
			continue
		}
		if r.claim.Delivery.Ordered() && r.outcome.Status != relay.DeliveryRetrying {
			nextInLine = true
		}
		switch r.outcome.Status {
		case relay.DeliverySucceeded:
			e.metrics.DeliveryEndToEnd.Observe(now.Sub(r.received).Seconds())
		case relay.DeliveryDead:
			e.metrics.DeliveriesDead.Inc()
			e.logger.Warn("delivery dead", "delivery_id", r.outcome.Attempt.DeliveryID,
				"event_id", r.claim.Event.ID, "destination_id", r.claim.Destination.ID,
				"attempts", r.claim.Delivery.Attempts+1, "last_status", r.outcome.Attempt.StatusCode)
			if e.cfg.OnDead != nil {
				e.cfg.OnDead(r.claim, r.claim.Delivery.Attempts+1)
			}
		}
		if r.outcome.DisableDestination != "" {
			e.logger.Warn("destination disabled", "destination_id", r.claim.Destination.ID, "reason", r.outcome.DisableDestination)
			rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = e.Refresh(rctx)
			cancel()
		}
	}
	e.release(len(outcomes))
	if nextInLine {
		// The next delivery of an ordered key became claimable only now:
		// claim it without waiting for the poll interval.
		e.Wake()
	}
}

// jittered returns d ± Jitter·d.
func (e *Engine) jittered(d time.Duration) time.Duration {
	if d <= 0 || e.cfg.Jitter <= 0 {
		return d
	}
	f := 1 + e.cfg.Jitter*(2*rand.Float64()-1)
	return time.Duration(float64(d) * f)
}

// errShutdown marks an attempt cut short by Stop; it is not recorded.
var errShutdown = errors.New("shutting down")
