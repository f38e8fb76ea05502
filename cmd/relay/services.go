package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/backfill"
	"github.com/relayhq/relay/config"
	"github.com/relayhq/relay/connect"
	"github.com/relayhq/relay/delivery"
	"github.com/relayhq/relay/metrics"
	"github.com/relayhq/relay/ops"
	"github.com/relayhq/relay/postgres"
	"github.com/relayhq/relay/resolve"
	"github.com/relayhq/relay/retention"
	"github.com/relayhq/relay/riverjobs"
	"github.com/relayhq/relay/sqlite"
	"github.com/relayhq/relay/vault"
)

// Store is everything serve needs of the database: Relay's store and what
// each service takes of it. Both backends implement all of it, as the
// assertions below check at compile time.
type Store interface {
	relay.Store
	connect.Store
	backfill.Store
	resolve.Store
	ops.Store
	relay.Pruner
}

var (
	_ Store = (*sqlite.Store)(nil)
	_ Store = (*postgres.Store)(nil)
)

// services are the long-lived services serve runs, each built by
// newServices with its dependencies.
type services struct {
	metrics   *metrics.Metrics
	engine    *delivery.Engine
	emitter   *ops.Emitter
	conns     *connect.Service
	backfills *backfill.Service
	resolver  *resolve.Service
	retention *retention.Service
}

// newServices builds the delivery engine, operational events, connections,
// backfills and identity repair on store, queuing their durable work on
// jobs.
//
// Two pairs need each other: the engine announces dead deliveries through
// the emitter, which routes through the engine; connections tell backfills
// of connects and teardowns, and backfills take their tokens from
// connections. Each is built with a function that reaches the other, which
// is built next; neither function runs before the services are started.
func newServices(cfg *config.Config, store Store, ring *vault.Keyring, jobs *riverjobs.Queue, connectors []relay.Connector,
	chains map[string][]relay.Resolver, owner string, now func() time.Time, logger *slog.Logger) *services {
	s := &services{metrics: metrics.New()}
	s.engine = delivery.New(store, nil, s.metrics, logger.With("component", "delivery"), now, delivery.Config{
		Owner: owner, Schedule: durations(cfg.Delivery.RetrySchedule), Jitter: cfg.Delivery.Jitter,
		Lease: time.Duration(cfg.Delivery.Lease), PollInterval: time.Duration(cfg.Delivery.PollInterval),
		OnDead: func(c *relay.Claim, attempts int) { announceDead(s.emitter, c, attempts) },
	})
	s.emitter = ops.New(store, s.engine.Route, s.engine.Wake, s.metrics, logger.With("component", "ops"), now)
	s.conns = connect.New(store, ring, connectors, s.engine.Wake, logger.With("component", "connect"), now, connect.Config{
		PublicURL: cfg.BaseURL(), AllowedReturnOrigins: cfg.Connect.AllowedReturnOrigins,
		Hooks:           s.connectHooks(cfg.Backfill.OnConnect, now),
		EnqueueTeardown: jobs.EnqueueTeardown, EnqueueLifecycle: jobs.EnqueueLifecycle,
	})
	listers, listerNames := backfillListers(connectors)
	bc := cfg.Backfill
	s.backfills = backfill.New(store, s.conns, listers, listerNames, s.engine.Route, s.engine.Wake, s.metrics,
		logger.With("component", "backfill"), now, backfill.Config{
			DepthDays: bc.DepthDays, EntityTypes: bc.EntityTypes, MaxUndelivered: bc.MaxUndelivered,
			Concurrency: bc.Concurrency, MaxAttempts: bc.MaxAttempts,
			// A job's time slice stays well inside the jobs' timeout.
			Slice: min(10*time.Second, time.Duration(cfg.Jobs.RescueAfter)/3),
			Queue: jobs,
			// Imported deliveries are handed to this replica's engine as
			// live ones are, when it has room.
			Reserve: s.engine.Reserve, Owner: owner, Lease: time.Duration(cfg.Delivery.Lease),
		})
	s.resolver = resolve.New(store, s.conns.Paired, s.emitter, s.metrics, logger.With("component", "resolve"), now,
		resolve.Config{Chains: chains, SweepInterval: time.Duration(cfg.Resolve.SweepInterval), Queue: jobs})
	s.retention = retention.New(store, s.metrics, logger.With("component", "retention"), now, retention.Config{
		MaxAge: time.Duration(cfg.Retention.MaxAge), HeldMaxAge: time.Duration(cfg.Retention.HeldMaxAge),
		Interval: time.Duration(cfg.Retention.Interval),
	})
	return s
}

// connectHooks are what connection changes do to backfills and operational
// events: a teardown cancels the connection's backfills, a revocation is
// announced, and with onConnect a new connection starts a backfill.
func (s *services) connectHooks(onConnect bool, now func() time.Time) connect.Hooks {
	h := connect.Hooks{
		TearingDown: func(ctx context.Context, connectionID string) error {
			return s.backfills.CancelConnection(ctx, connectionID)
		},
		Revoked: func(ctx context.Context, c *relay.Connection, reason string) {
			s.emitter.EmitLater(ops.ConnectionRevoked, c.ID+":"+now().Format(time.RFC3339Nano), c.OrgID, c.ID,
				map[string]any{"connection_id": c.ID, "provider": c.Provider, "account_id": c.ExternalID, "reason": reason})
		},
	}
	if onConnect {
		h.Connected = func(ctx context.Context, c *relay.Connection, created bool) { s.backfills.Connected(ctx, c, created) }
	}
	return h
}

// announceDead emits relay.delivery.exhausted for a delivery that went
// dead, except for an operational event's: it is not announced again.
func announceDead(emitter *ops.Emitter, c *relay.Claim, attempts int) {
	if c.Event.Provider == ops.Provider {
		return
	}
	emitter.EmitLater(ops.DeliveryExhausted, fmt.Sprintf("%s:%d", c.Delivery.ID, attempts), c.Event.OrgID, c.Event.ConnectionID,
		map[string]any{"delivery_id": c.Delivery.ID, "event_id": c.Event.ID, "destination_id": c.Destination.ID,
			"provider": c.Event.Provider, "event_type": c.Event.EventType, "attempts": attempts})
}

// start works the durable jobs with the services' handlers and runs
// identity repair's, the emitter's and retention's loops. stop stops the jobs (waiting
// for running ones a while), then ends the loops and waits for them; when
// start fails, it has stopped the jobs itself.
func (s *services) start(ctx context.Context, jobs *riverjobs.Queue, logger *slog.Logger) (stop func(), err error) {
	err = jobs.Start(ctx, riverjobs.Handlers{
		Teardown: s.conns.RunTeardown, Backfill: s.backfills.RunBackfill, BackfillTask: s.backfills.RunTask,
		Resolve: s.resolver.Resolve, Lifecycle: s.conns.RunLifecycle,
	})
	if err != nil {
		stopJobs(jobs, logger)
		return nil, fmt.Errorf("start jobs: %w", err)
	}
	rctx, cancel := context.WithCancel(ctx)
	var bg sync.WaitGroup
	bg.Add(3)
	go func() { defer bg.Done(); s.resolver.Run(rctx) }()
	go func() { defer bg.Done(); s.emitter.Run(rctx) }()
	go func() { defer bg.Done(); s.retention.Run(rctx) }()
	return func() { stopJobs(jobs, logger); cancel(); bg.Wait() }, nil
}

// resume picks up work an earlier process left: teardowns and backfills
// (a failure is logged), and warns of webhooks still
// signed with a provider's shared secret.
func (s *services) resume(ctx context.Context, logger *slog.Logger) {
	if err := s.conns.ResumeTeardowns(ctx); err != nil {
		logger.Warn("resuming teardowns failed", "err", err)
	}
	if err := s.backfills.Resume(ctx); err != nil {
		logger.Warn("resuming backfills failed", "err", err)
	}
	warnSharedSecretWebhooks(ctx, s.conns, logger)
}
