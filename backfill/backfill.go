// Package backfill imports a connection's provider history as events that
// flow through the same pipeline as live webhooks.
//
// A backfill is fixed when it is created: its window starts at Since (now
// minus the depth) and ends at its creation, and it has one task per
// (resource, entity type). Tasks run as durable jobs (package riverjobs
// calls RunBackfill and RunTask): each fetched page is committed together
// with the task's next cursor, so a killed process resumes at the last
// committed page, and a page fetched twice is committed once. Delivery ids
// are derived from the object and its updated-at, so a re-run stores
// nothing twice.
//
// Provider calls go through the adapters' shared client (timeouts, retries
// on timeouts/5xx/429); on top of it a task waits out rate limits by
// snoozing its job (never sleeping in a worker), refreshes a rejected token
// once, and pauses while too many of its connection's deliveries wait to be
// sent, so live events keep flowing.
package backfill

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/metrics"
)

// Store is what the service needs from storage.
type Store interface {
	relay.BackfillStore
	GetConnection(ctx context.Context, id, orgID string) (*relay.Connection, error)
	ListResources(ctx context.Context, connectionID string) ([]*relay.Resource, error)
}

// Tokens hands out connections' access tokens (package connect).
type Tokens interface {
	// Token returns a usable token, refreshed when it is about to expire.
	Token(ctx context.Context, connectionID, orgID string) (*relay.Token, error)
	// Refresh replaces a token the provider rejected.
	Refresh(ctx context.Context, connectionID, rejected string) (*relay.Token, error)
}

// Queue runs the jobs durably (package riverjobs). Enqueueing a job that is
// already queued or running adds nothing.
type Queue interface {
	EnqueueBackfill(ctx context.Context, backfillID string) error
	EnqueueBackfillTask(ctx context.Context, taskID string) error
}

// Config tunes the service; zero fields take the defaults shown.
type Config struct {
	DepthDays      int      // default depth: 30
	EntityTypes    []string // default entity types: nil = all of the provider's
	MaxUndelivered int      // backpressure bound per connection: 1000
	Concurrency    int      // tasks of one backfill running at once: 2
	MaxAttempts    int      // failed fetches of one page before its task fails: 5
	// Slice is how long one job run fetches pages before it yields its
	// worker (and is queued again at once): 10 s.
	Slice time.Duration
	// BackpressureWait is how long a task waits before looking again when
	// its connection has too many undelivered deliveries: 2 s.
	BackpressureWait time.Duration
	// Queue runs backfills and their tasks as durable jobs; required
	// (starting, resuming and running backfills queue jobs).
	Queue Queue

	// Reserve, when set, takes room in the delivery engine for a commit's
	// deliveries (the delivery engine's Reserve): they are then written
	// leased to Owner for Lease and handed over after the commit, as live
	// ingest does, so delivery starts without a poll and a second write to
	// claim them. When it is nil or finds no room, deliveries are written
	// unleased and the poller is woken.
	Reserve func(n int, destinationIDs []string) relay.Reservation
	Owner   string        // this replica's lease owner id, with Reserve
	Lease   time.Duration // lease on dispatched deliveries: default 1 min
}

// Service starts, runs and cancels backfills.
type Service struct {
	store   Store
	tokens  Tokens
	listers map[string]relay.BackfillLister
	route   func(*relay.Event) []*relay.Destination
	wake    func()
	metrics *metrics.Metrics
	logger  *slog.Logger
	now     func() time.Time
	cfg     Config

	queue   Queue
	commits *committer

	mu       sync.Mutex
	limits   map[string]*connLimit // by connection id: the provider's rate limit as last seen
	backlogs map[string]backlog    // by connection id: see undelivered
}

// New returns the service. route chooses an event's destinations (the
// delivery engine's), wake tells the delivery engine work is due; m may be
// nil (no metrics).
func New(store Store, tokens Tokens, listers []relay.BackfillLister, names []string, route func(*relay.Event) []*relay.Destination,
	wake func(), m *metrics.Metrics, logger *slog.Logger, now func() time.Time, cfg Config) *Service {
	if cfg.DepthDays <= 0 {
		cfg.DepthDays = 30
	}
	if cfg.MaxUndelivered <= 0 {
		cfg.MaxUndelivered = 1000
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 2
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.Slice <= 0 {
		cfg.Slice = 10 * time.Second
	}
	if cfg.BackpressureWait <= 0 {
		cfg.BackpressureWait = 2 * time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = time.Minute
	}
	s := &Service{store: store, tokens: tokens, listers: map[string]relay.BackfillLister{}, route: route, wake: wake,
		backlogs: map[string]backlog{},
		metrics:  m, logger: logger, now: now, cfg: cfg, limits: map[string]*connLimit{}, queue: cfg.Queue,
		commits: &committer{store: store, reserve: cfg.Reserve, owner: cfg.Owner, lease: cfg.Lease, now: now}}
	for i, l := range listers {
		s.listers[names[i]] = l
	}
	return s
}

// EntityTypes returns the entity types a provider can import, sorted; nil
// when it has no backfill.
func (s *Service) EntityTypes(provider string) []string {
	l, ok := s.listers[provider]
	if !ok {
		return nil
	}
	return slices.Sorted(maps.Keys(l.BackfillEntities()))
}

// Start creates a backfill of the connection for the last depthDays (0: the
// configured default) of entityTypes (nil: the configured default, else all)
// and queues it. While a backfill with the same parameters is active, it
// returns that one with created false. Errors: ENOTFOUND for a connection
// not visible to orgID, EINVALID for a bad depth or an unknown entity type
// (the message lists the valid ones) or a provider without backfill,
// ECONFLICT for a connection that is not active.
func (s *Service) Start(ctx context.Context, connectionID, orgID string, depthDays int, entityTypes []string) (*relay.Backfill, bool, error) {
	c, err := s.store.GetConnection(ctx, connectionID, orgID)
	if err != nil {
		return nil, false, err
	}
	l, ok := s.listers[c.Provider]
	if !ok {
		return nil, false, relay.Errorf(relay.EINVALID, "provider %s has no backfill", c.Provider)
	}
	if c.Status != relay.ConnectionActive {
		return nil, false, relay.Errorf(relay.ECONFLICT, "connection %s is %s", c.ID, c.Status)
	}
	if depthDays == 0 {
		depthDays = s.cfg.DepthDays
	}
	if depthDays < 1 || depthDays > 365 {
		return nil, false, relay.Errorf(relay.EINVALID, "depth_days must be between 1 and 365")
	}
	kinds := l.BackfillEntities()
	valid := s.EntityTypes(c.Provider)
	if len(entityTypes) == 0 {
		for _, t := range s.cfg.EntityTypes {
			if _, ok := kinds[t]; ok {
				entityTypes = append(entityTypes, t)
			}
		}
		if len(entityTypes) == 0 {
			entityTypes = valid
		}
	}
	types := []string{}
	for _, t := range entityTypes {
		if _, ok := kinds[t]; !ok {
			return nil, false, relay.Errorf(relay.EINVALID, "unknown entity type %q for %s; valid: %s", t, c.Provider, strings.Join(valid, ", "))
		}
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	slices.Sort(types)
	resources, err := s.store.ListResources(ctx, c.ID)
	if err != nil {
		return nil, false, err
	}
	now := s.now()
	b := &relay.Backfill{ID: relay.NewID("bf", now), ConnectionID: c.ID, OrgID: c.OrgID, Provider: c.Provider,
		DepthDays: depthDays, EntityTypes: types, Since: now.AddDate(0, 0, -depthDays), Status: relay.BackfillPending,
		CreatedAt: now}
	var tasks []*relay.BackfillTask
	for _, r := range resources {
		for _, t := range types {
			if kinds[t] == r.Kind {
				tasks = append(tasks, &relay.BackfillTask{ID: relay.NewID("bft", now), ResourceID: r.ExternalID,
					ResourceName: r.Name, EntityType: t, Status: relay.TaskPending})
			}
		}
	}
	got, created, err := s.store.CreateBackfill(ctx, b, tasks)
	if err != nil {
		return nil, false, err
	}
	if created {
		s.logger.Info("backfill created", "backfill_id", got.ID, "connection_id", c.ID, "provider", c.Provider,
			"depth_days", depthDays, "entity_types", types, "tasks", len(tasks))
		if err := s.queue.EnqueueBackfill(ctx, got.ID); err != nil {
			// The row is stored: Resume queues it at the next start.
			s.logger.Warn("backfill: queueing failed", "backfill_id", got.ID, "err", err)
		}
	}
	return got, created, nil
}

// Get returns a backfill with its tasks (ENOTFOUND when not visible to orgID
// or not of the connection).
func (s *Service) Get(ctx context.Context, connectionID, backfillID, orgID string) (*relay.Backfill, error) {
	b, err := s.store.GetBackfill(ctx, backfillID, orgID)
	if err != nil {
		return nil, err
	}
	if b.ConnectionID != connectionID {
		return nil, relay.Errorf(relay.ENOTFOUND, "backfill %s not found", backfillID)
	}
	return b, nil
}

// List returns the connection's backfills, newest first.
func (s *Service) List(ctx context.Context, connectionID, orgID string) ([]*relay.Backfill, error) {
	if _, err := s.store.GetConnection(ctx, connectionID, orgID); err != nil {
		return nil, err
	}
	return s.store.ListBackfills(ctx, connectionID, orgID)
}

// Cancel cancels a backfill: no task commits a page after it, and running
// tasks stop before fetching their next one. Cancelling a finished backfill
// changes nothing. It returns the backfill as it now is.
func (s *Service) Cancel(ctx context.Context, connectionID, backfillID, orgID string) (*relay.Backfill, error) {
	if _, err := s.Get(ctx, connectionID, backfillID, orgID); err != nil {
		return nil, err
	}
	n, err := s.store.CancelBackfills(ctx, connectionID, backfillID, "cancelled", s.now())
	if err != nil {
		return nil, err
	}
	if n > 0 {
		s.logger.Info("backfill cancelled", "backfill_id", backfillID, "connection_id", connectionID)
	}
	return s.Get(ctx, connectionID, backfillID, orgID)
}

// CancelConnection cancels every active backfill of a connection (its
// teardown). It is idempotent.
func (s *Service) CancelConnection(ctx context.Context, connectionID string) error {
	n, err := s.store.CancelBackfills(ctx, connectionID, "", "connection deleted", s.now())
	if err != nil {
		return err
	}
	if n > 0 {
		s.logger.Info("backfills cancelled by teardown", "connection_id", connectionID, "backfills", n)
	}
	return nil
}

// Connected starts the on-connect backfill of a new connection (with the
// configured defaults). Failures are logged: the connection stands.
func (s *Service) Connected(ctx context.Context, c *relay.Connection, created bool) {
	if !created {
		return
	}
	if _, ok := s.listers[c.Provider]; !ok {
		return
	}
	if _, _, err := s.Start(ctx, c.ID, "", 0, nil); err != nil {
		s.logger.Warn("backfill: on-connect backfill not started", "connection_id", c.ID, "err", err)
	}
}

// Resume queues every active backfill again (at start-up: a job lost with
// a database restored from a backup, or a queueing that failed). Jobs still
// queued are not doubled.
func (s *Service) Resume(ctx context.Context) error {
	ids, err := s.store.ActiveBackfills(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.queue.EnqueueBackfill(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// RunBackfill is the orchestrator job: it marks the backfill running and
// queues its first unfinished tasks, at most Concurrency of them; each task
// that finishes queues the next (see next). It is idempotent.
func (s *Service) RunBackfill(ctx context.Context, backfillID string) error {
	if err := s.store.StartBackfill(ctx, backfillID, s.now()); err != nil {
		return err
	}
	return s.next(ctx, backfillID)
}

// next queues the first Concurrency unfinished tasks of an active backfill;
// those already queued or running are not queued twice.
func (s *Service) next(ctx context.Context, backfillID string) error {
	b, err := s.store.GetBackfill(ctx, backfillID, "")
	if err != nil {
		return err
	}
	if !b.Active() {
		return nil
	}
	n := 0
	for _, t := range b.Tasks {
		if t.Finished() {
			continue
		}
		if err := s.queue.EnqueueBackfillTask(ctx, t.ID); err != nil {
			return err
		}
		if n++; n == s.cfg.Concurrency {
			break
		}
	}
	return nil
}

// finish ends a task (recording msg as its last error) and queues the
// backfill's next one.
func (s *Service) finish(ctx context.Context, t *relay.BackfillTask, status, msg string) error {
	err := s.store.UpdateBackfillTask(ctx, t.ID, status, msg, false, s.now())
	if err != nil && relay.ErrorCode(err) != relay.ECONFLICT {
		return err
	}
	return s.next(ctx, t.BackfillID)
}

// errString is an error's safe message for the task record: the provider,
// the call and the status, never a token or a payload.
func errString(err error) string {
	return relay.ErrorMessage(err)
}
