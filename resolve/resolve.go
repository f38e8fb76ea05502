// Package resolve repairs identity: when events name a provider account
// that no connection knows, a resolver chain configured for the provider
// looks the account up (its customer record at the provider, an identity
// provider's account search, the team's own app) and, when it finds exactly
// one org, pairs the account to it atomically and releases its held events.
//
// Resolution runs as a durable job (one per account while queued, so
// replicas and repeated events do not double it), never in the webhook
// request path: ingest only calls Notify. Accounts still held are queued
// again by a sweep every SweepInterval (each account backing off, up to an
// hour) and whenever another of their events arrives.
package resolve

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/metrics"
	"github.com/relayhq/relay/ops"
)

// Store is what the service needs of storage.
type Store interface {
	relay.ResolutionStore
	GetOrg(ctx context.Context, id string) (*relay.Org, error)
	GetEvent(ctx context.Context, id, orgID string) (*relay.Event, error)
}

// Queue queues an account's resolution job, once while it is queued.
type Queue interface {
	// EnqueueResolve queues the account's resolution; eventID is its
	// latest held event, for resolvers that read it.
	EnqueueResolve(ctx context.Context, provider, accountID, eventID string) error
}

// Emitter emits operational events (ops.Emitter).
type Emitter interface {
	Emit(ctx context.Context, typ, key, orgID, connectionID string, data any) error
}

// Config holds the service's settings.
type Config struct {
	// Chains are the resolver chains by provider, tried in order.
	Chains map[string][]relay.Resolver
	// SweepInterval is how often accounts still held are queued again
	// (default 1 minute).
	SweepInterval time.Duration
	// StepTimeout bounds each resolver (default 30 s).
	StepTimeout time.Duration
	// Queue runs resolutions as durable jobs; nil: nothing is queued.
	Queue Queue
}

// Service runs resolutions. Build it with New; Run owns its goroutine.
type Service struct {
	store   Store
	paired  func(ctx context.Context, c *relay.Connection)
	emit    Emitter
	metrics *metrics.Metrics
	logger  *slog.Logger
	now     func() time.Time
	cfg     Config
	queue   Queue

	notify chan relay.HeldAccount
	mu     sync.Mutex
	recent map[relay.HeldAccount]time.Time // accounts queued lately by Notify
}

// New returns the service. paired is called after an account was paired
// (the connections service invalidates its cache and releases the held
// events).
func New(store Store, paired func(ctx context.Context, c *relay.Connection), emit Emitter, m *metrics.Metrics,
	logger *slog.Logger, now func() time.Time, cfg Config) *Service {
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = time.Minute
	}
	if cfg.StepTimeout <= 0 {
		cfg.StepTimeout = 30 * time.Second
	}
	return &Service{store: store, paired: paired, emit: emit, metrics: m, logger: logger, now: now, cfg: cfg, queue: cfg.Queue,
		notify: make(chan relay.HeldAccount, 1024), recent: map[relay.HeldAccount]time.Time{}}
}

// Providers returns the providers that have a chain, sorted.
func (s *Service) Providers() []string { return slices.Sorted(maps.Keys(s.cfg.Chains)) }

// Notify tells the service that an event of an unknown account was stored
// (held). It never blocks: the account is queued by Run; when Run is
// behind, the sweep catches up.
func (s *Service) Notify(e *relay.Event) {
	if e.Match != relay.MatchUnmatched || len(s.cfg.Chains[e.Provider]) == 0 {
		return
	}
	select {
	case s.notify <- relay.HeldAccount{Provider: e.Provider, AccountID: e.AccountID, LatestEventID: e.ID}:
	default:
	}
}

// Run queues the accounts Notify named and sweeps the held accounts every
// SweepInterval (and once at start), until ctx ends.
func (s *Service) Run(ctx context.Context) {
	if len(s.cfg.Chains) == 0 || s.queue == nil {
		return
	}
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	s.sweep(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.sweep(ctx)
		case a := <-s.notify:
			s.enqueueNotified(ctx, a)
		}
	}
}

// enqueueNotified queues an account named by Notify, at most once a
// second per account: a burst of its events is one job.
func (s *Service) enqueueNotified(ctx context.Context, a relay.HeldAccount) {
	now := s.now()
	k := relay.HeldAccount{Provider: a.Provider, AccountID: a.AccountID}
	s.mu.Lock()
	if at, ok := s.recent[k]; ok && now.Sub(at) < time.Second {
		s.mu.Unlock()
		return
	}
	if len(s.recent) > 10_000 {
		s.recent = map[relay.HeldAccount]time.Time{}
	}
	s.recent[k] = now
	s.mu.Unlock()
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.queue.EnqueueResolve(qctx, a.Provider, a.AccountID, a.LatestEventID); err != nil {
		s.logger.Warn("resolve: queueing a resolution failed; the sweep retries", "provider", a.Provider, "err", err)
	}
}

// sweep queues every held account of the providers with a chain.
func (s *Service) sweep(ctx context.Context) {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	held, err := s.store.HeldAccounts(sctx, s.Providers(), 1000)
	if err != nil {
		s.logger.Warn("resolve: listing held accounts failed", "err", err)
		return
	}
	for _, a := range held {
		if sctx.Err() != nil {
			return
		}
		if !s.due(sctx, a) {
			continue
		}
		if err := s.queue.EnqueueResolve(sctx, a.Provider, a.AccountID, a.LatestEventID); err != nil {
			s.logger.Warn("resolve: queueing a resolution failed", "provider", a.Provider, "err", err)
			return
		}
	}
}

// maxSweepWait caps the wait between sweeps' resolutions of one account.
const maxSweepWait = time.Hour

// due reports whether the sweep should resolve a held account again: an
// account tried n times waits SweepInterval·2^(n-1), up to an hour, since
// its last outcome, so thousands of accounts nobody can resolve do not ask
// the providers every minute. A new event of the account does not wait
// (Notify). A failed resolution is retried by its job's own backoff.
func (s *Service) due(ctx context.Context, a relay.HeldAccount) bool {
	r, err := s.store.GetResolution(ctx, a.Provider, a.AccountID)
	switch {
	case ctx.Err() != nil:
		return false // stopping: the next sweep looks again
	case err != nil || r.Outcome == relay.ResolveFailed:
		return true // never tried, or unknown: resolving is the safe side
	}
	wait := min(s.cfg.SweepInterval<<min(max(r.Attempts-1, 0), 12), maxSweepWait)
	return s.now().Sub(r.UpdatedAt) >= wait
}

// Resolve is the job: it runs the provider's chain for the account and
// records the outcome. It returns an error, for the job to be retried with
// backoff, only when a resolver failed or the store did; every other
// outcome is final for this run (an unresolved account is queued again by
// the sweep and by its next event).
//
// eventID, when not "", is a held event of the account whose payload
// resolvers may read.
func (s *Service) Resolve(ctx context.Context, provider, accountID, eventID string) error {
	log := s.logger.With("provider", provider, "account_id", accountID)
	chain := s.cfg.Chains[provider]
	if len(chain) == 0 {
		log.Warn("resolve: no resolver chain for the provider; nothing to do")
		return nil
	}
	q := &relay.ResolveQuery{Provider: provider, AccountID: accountID, Attributes: map[string]string{}}
	if eventID != "" {
		if e, err := s.store.GetEvent(ctx, eventID, ""); err == nil && e.Provider == provider && e.AccountID == accountID {
			q.Payload = e.Payload
		}
	}

	r := &relay.Resolution{Provider: provider, AccountID: accountID, Outcome: relay.ResolveUnresolved}
	var orgs []string
	for _, step := range chain {
		sctx, cancel := context.WithTimeout(ctx, s.cfg.StepTimeout)
		res, err := step.Resolve(sctx, q)
		cancel()
		if err != nil {
			r.Outcome, r.Resolver, r.LastError = relay.ResolveFailed, step.Name(), relay.ErrorMessage(err)
			s.record(ctx, r)
			log.Warn("resolve: resolver failed; retrying later", "resolver", step.Name(), "err", relay.ErrorMessage(err))
			return fmt.Errorf("resolve %s account: %s: %w", provider, step.Name(), err)
		}
		for k, v := range res.Attributes {
			if v != "" {
				q.Attributes[k] = v
			}
		}
		if len(res.OrgIDs) > 0 {
			r.Resolver = step.Name()
			orgs = unique(res.OrgIDs)
			break
		}
	}

	switch {
	case len(orgs) == 0:
		r.Outcome = relay.ResolveUnresolved
	case len(orgs) > 1:
		r.Outcome, r.Candidates = relay.ResolveAmbiguous, orgs
	default:
		if err := s.pair(ctx, r, orgs[0], q); err != nil {
			return err
		}
	}
	prev, _ := s.store.GetResolution(ctx, provider, accountID)
	if err := s.record(ctx, r); err != nil {
		return err
	}
	log.Info("account resolved", "outcome", r.Outcome, "resolver", r.Resolver, "org_id", r.OrgID, "candidates", len(r.Candidates))
	return s.announce(ctx, r, prev)
}

// pair pairs the account to orgID, setting r's outcome: paired,
// already_paired (a live connection exists, whoever made it), or
// org_not_found.
func (s *Service) pair(ctx context.Context, r *relay.Resolution, orgID string, q *relay.ResolveQuery) error {
	r.OrgID = orgID
	if _, err := s.store.GetOrg(ctx, orgID); relay.ErrorCode(err) == relay.ENOTFOUND {
		r.Outcome = relay.ResolveOrgNotFound
		return nil
	} else if err != nil {
		return err
	}
	c := &relay.Connection{OrgID: orgID, Provider: r.Provider, ExternalID: r.AccountID, AccountName: q.Attributes["email"],
		StatusReason: "paired by " + r.Resolver, Metadata: map[string]string{"paired_by": r.Resolver}, UpdatedAt: s.now()}
	got, err := s.store.PairConnection(ctx, c)
	switch {
	case relay.ErrorCode(err) == relay.ECONFLICT && got != nil:
		r.Outcome, r.ConnectionID, r.OrgID = relay.ResolveAlreadyPaired, got.ID, got.OrgID
		return nil
	case err != nil:
		return err
	}
	r.Outcome, r.ConnectionID = relay.ResolvePaired, got.ID
	s.paired(ctx, got)
	return nil
}

// record stores the outcome and counts it.
func (s *Service) record(ctx context.Context, r *relay.Resolution) error {
	r.UpdatedAt = s.now()
	s.metrics.Resolutions.WithLabelValues(r.Provider, r.Outcome).Inc()
	if err := s.store.PutResolution(ctx, r); err != nil {
		s.logger.Warn("resolve: recording the outcome failed", "provider", r.Provider, "err", err)
		return err
	}
	return nil
}

// announce emits the outcome's operational event. Pairing is announced
// once per connection; the others once per change of outcome or of
// candidates, so a held account retried every minute does not alert every
// minute.
func (s *Service) announce(ctx context.Context, r, prev *relay.Resolution) error {
	data := map[string]any{"provider": r.Provider, "account_id": r.AccountID, "outcome": r.Outcome, "resolver": r.Resolver}
	var typ, key string
	switch r.Outcome {
	case relay.ResolvePaired:
		typ, key = ops.ConnectionPaired, r.ConnectionID
		data["org_id"], data["connection_id"] = r.OrgID, r.ConnectionID
	case relay.ResolveAlreadyPaired:
		typ, key = ops.PairingAlreadyPaired, r.ConnectionID
		data["org_id"], data["connection_id"] = r.OrgID, r.ConnectionID
	case relay.ResolveAmbiguous:
		typ, key = ops.PairingAmbiguous, fmt.Sprintf("%s:%s:%d", r.Provider, r.AccountID, r.Attempts)
		data["candidates"] = r.Candidates
		if prev != nil && prev.Outcome == r.Outcome && slices.Equal(prev.Candidates, r.Candidates) {
			return nil
		}
	case relay.ResolveOrgNotFound:
		typ, key = ops.PairingOrgNotFound, fmt.Sprintf("%s:%s:%d", r.Provider, r.AccountID, r.Attempts)
		data["org_id"] = r.OrgID
		if prev != nil && prev.Outcome == r.Outcome && prev.OrgID == r.OrgID {
			return nil
		}
	default:
		return nil
	}
	orgID := ""
	if r.Outcome == relay.ResolvePaired || r.Outcome == relay.ResolveAlreadyPaired {
		orgID = r.OrgID
	}
	if err := s.emit.Emit(ctx, typ, key, orgID, r.ConnectionID, data); err != nil {
		return fmt.Errorf("resolve: announce %s: %w", r.Outcome, err)
	}
	return nil
}

func unique(ids []string) []string {
	var out []string
	for _, id := range ids {
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}
