package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/relayhq/relay"
)

var _ relay.ReplicaStore = (*Store)(nil)

// Heartbeat records that owner is alive at now.
func (s *Store) Heartbeat(ctx context.Context, owner string, now time.Time) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO replicas (id, started_at, heartbeat_at) VALUES ($1, $2, $2)
		ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`, owner, now.UTC()); err != nil {
		return fmt.Errorf("postgres: heartbeat: %w", err)
	}
	return nil
}

// ReleaseStaleLeases forgets the replicas whose heartbeat is older than
// staleBefore and releases their leases. Several replicas may sweep at once:
// the DELETE hands each stale replica to exactly one of them.
func (s *Store) ReleaseStaleLeases(ctx context.Context, staleBefore time.Time) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `DELETE FROM replicas WHERE heartbeat_at < $1 RETURNING id`, staleBefore.UTC())
		if err != nil {
			return err
		}
		dead, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(dead) == 0 {
			return err
		}
		// Only undelivered rows can hold a lease (an outcome clears it), so
		// the status condition lets the small deliveries_due index serve.
		tag, err := tx.Exec(ctx, `UPDATE deliveries SET lease_owner = '', lease_until = 'epoch', next_attempt_at = 'epoch'
			WHERE status IN ('pending', 'retrying') AND lease_owner = ANY($1)`, dead)
		n = int(tag.RowsAffected())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: release stale leases: %w", err)
	}
	return n, nil
}

// RemoveReplica forgets owner.
func (s *Store) RemoveReplica(ctx context.Context, owner string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM replicas WHERE id = $1`, owner); err != nil {
		return fmt.Errorf("postgres: remove replica: %w", err)
	}
	return nil
}
