// Package retention deletes what Relay no longer needs to keep: events past
// retention.max_age whose deliveries are all finished, and held events
// nobody released within retention.held_max_age. It works in bounded
// batches (one short transaction each) so that ingest, which on SQLite
// shares the single writer, never waits long behind it, and gives the
// freed space back to the database afterwards.
package retention

import (
	"context"
	"log/slog"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/metrics"
)

// Config is what retention keeps and how often it looks.
type Config struct {
	MaxAge     time.Duration // 0 keeps events forever
	HeldMaxAge time.Duration // 0 keeps held events forever
	Interval   time.Duration // between passes; at least a second
	Batch      int           // events per transaction; 0 means relay.RetentionBatch
}

// batchTimeout bounds one batch or one compaction: a stuck database is
// logged and tried again at the next pass rather than blocking forever.
const batchTimeout = time.Minute

// Service runs retention passes. Build it with New and run it with Run.
type Service struct {
	store   relay.Pruner
	metrics *metrics.Metrics
	logger  *slog.Logger
	now     func() time.Time
	cfg     Config
}

// New returns a retention service over store.
func New(store relay.Pruner, m *metrics.Metrics, logger *slog.Logger, now func() time.Time, cfg Config) *Service {
	if cfg.Interval < time.Second {
		cfg.Interval = time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = relay.RetentionBatch
	}
	return &Service{store: store, metrics: m, logger: logger, now: now, cfg: cfg}
}

// Run runs a pass at once and then every Interval until ctx ends. Errors
// are logged and the next pass tries again. With neither age set it only
// samples the database size.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := s.Pass(ctx); err != nil && ctx.Err() == nil {
			s.logger.Warn("retention pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Pass deletes, batch after batch, everything past its age as of now, then
// compacts the database when something was deleted and samples its size.
// It stops early, without error, when another replica is pruning. It
// returns the totals deleted and the first error (a store's wrapped
// database error, or ctx's).
func (s *Service) Pass(ctx context.Context) (relay.Pruned, error) {
	now := s.now()
	p := relay.Prune{Limit: s.cfg.Batch, Now: now}
	if s.cfg.MaxAge > 0 {
		p.Before = now.Add(-s.cfg.MaxAge)
	}
	if s.cfg.HeldMaxAge > 0 {
		p.HeldBefore = now.Add(-s.cfg.HeldMaxAge)
	}
	var total relay.Pruned
	if !p.Before.IsZero() || !p.HeldBefore.IsZero() {
		for {
			if err := ctx.Err(); err != nil {
				return total, err
			}
			bctx, cancel := context.WithTimeout(ctx, batchTimeout)
			got, err := s.store.PruneEvents(bctx, p)
			cancel()
			if err != nil {
				return total, err
			}
			s.count(got)
			total.Events += got.Events
			total.Deliveries += got.Deliveries
			total.Attempts += got.Attempts
			total.Held += got.Held
			total.Busy = got.Busy
			if !got.More(p.Limit) {
				break
			}
		}
		if total.Held > 0 {
			// Held events of an unknown account were never delivered to
			// anyone: say so louder than routine deletion.
			s.logger.Warn("held events expired unreleased", "count", total.Held, "held_max_age", s.cfg.HeldMaxAge.String())
		}
		if total.Events+total.Held > 0 {
			s.logger.Info("retention deleted old events", "events", total.Events, "deliveries", total.Deliveries,
				"attempts", total.Attempts, "held", total.Held)
			cctx, cancel := context.WithTimeout(ctx, batchTimeout)
			err := s.store.Compact(cctx)
			cancel()
			if err != nil {
				return total, err
			}
		}
	}
	sctx, cancel := context.WithTimeout(ctx, batchTimeout)
	defer cancel()
	size, err := s.store.Size(sctx)
	if err != nil {
		return total, err
	}
	s.metrics.DatabaseSize.Set(float64(size))
	if !total.Busy {
		// A pass with nothing to delete (or with retention off) succeeded
		// too: the gauge says retention is not stuck, whatever it keeps.
		s.metrics.RetentionLastSuccess.Set(float64(s.now().Unix()))
	}
	return total, nil
}

// count adds one batch to the deletion counters.
func (s *Service) count(p relay.Pruned) {
	for kind, n := range map[string]int{metrics.DeletedEvents: p.Events, metrics.DeletedDeliveries: p.Deliveries,
		metrics.DeletedAttempts: p.Attempts, metrics.DeletedHeld: p.Held} {
		if n > 0 {
			s.metrics.RetentionDeleted.WithLabelValues(kind).Add(float64(n))
		}
	}
}
