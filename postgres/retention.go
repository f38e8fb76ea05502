package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/relayhq/relay"
)

var _ relay.Pruner = (*Store)(nil)

// retentionLock is the first half of the advisory lock key held by the
// replica pruning: one at a time, so that replicas do not fight over the
// same oldest rows. The second half is the schema's hash, so Relays sharing
// a database in different schemas prune independently.
const retentionLock = 0x72657465 // "rete"

// PruneEvents deletes one batch of old events as p says, in one
// transaction under the retention advisory lock (Busy when another replica
// holds it). The events are locked as they are chosen and their deliveries
// before they are checked, so a delivery a concurrent replay makes pending
// again keeps its event; replays lock the event they add deliveries to.
func (s *Store) PruneEvents(ctx context.Context, p relay.Prune) (relay.Pruned, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = relay.RetentionBatch
	}
	var out relay.Pruned
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		out = relay.Pruned{}
		var locked bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1, hashtext(current_schema()))`, int32(retentionLock)).Scan(&locked); err != nil {
			return fmt.Errorf("postgres: prune events: lock: %w", err)
		}
		if !locked {
			out.Busy = true
			return nil
		}
		if !p.Before.IsZero() {
			cs, err := pruneCandidates(ctx, tx, `SELECT e.id, e.provider, e.account_id FROM events e
				WHERE e.received_at < $1 AND e.match <> 'unmatched' AND NOT EXISTS (SELECT 1 FROM deliveries d
					WHERE d.event_id = e.id AND d.status IN ('pending', 'retrying'))
				ORDER BY e.received_at LIMIT $2 FOR UPDATE OF e SKIP LOCKED`, p.Before.UTC(), limit)
			if err != nil {
				return err
			}
			if cs, err = deleteEvents(ctx, tx, cs, &out); err != nil {
				return err
			}
			out.Events = len(cs)
		}
		if !p.HeldBefore.IsZero() {
			cs, err := pruneCandidates(ctx, tx, `SELECT e.id, e.provider, e.account_id FROM events e
				WHERE e.received_at < $1 AND e.match = 'unmatched' AND NOT EXISTS (SELECT 1 FROM deliveries d
					WHERE d.event_id = e.id AND d.status IN ('pending', 'retrying'))
				ORDER BY e.received_at LIMIT $2 FOR UPDATE OF e SKIP LOCKED`, p.HeldBefore.UTC(), limit)
			if err != nil {
				return err
			}
			if cs, err = deleteEvents(ctx, tx, cs, &out); err != nil {
				return err
			}
			counts := map[[2]string]int{}
			for _, c := range cs {
				counts[[2]string{c.provider, c.accountID}]++
			}
			for acct, n := range counts {
				if _, err := tx.Exec(ctx, `INSERT INTO held_expiries (provider, account_id, expired, last_expired_at)
					VALUES ($1, $2, $3, $4) ON CONFLICT (provider, account_id) DO UPDATE SET
					expired = held_expiries.expired + excluded.expired, last_expired_at = excluded.last_expired_at`,
					acct[0], acct[1], n, p.Now.UTC()); err != nil {
					return fmt.Errorf("postgres: prune events: record held expiry: %w", err)
				}
			}
			out.Held = len(cs)
		}
		return nil
	})
	if err != nil {
		return relay.Pruned{}, err
	}
	return out, nil
}

// pruneCandidate is an event chosen for deletion.
type pruneCandidate struct{ id, provider, accountID string }

func pruneCandidates(ctx context.Context, tx pgx.Tx, query string, args ...any) ([]pruneCandidate, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: prune events: %w", err)
	}
	defer rows.Close()
	var out []pruneCandidate
	for rows.Next() {
		var c pruneCandidate
		if err := rows.Scan(&c.id, &c.provider, &c.accountID); err != nil {
			return nil, fmt.Errorf("postgres: prune events: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: prune events: %w", err)
	}
	return out, nil
}

// deleteEvents locks the candidates' deliveries, drops the candidates that
// one of them, once locked, shows undelivered (replayed since they were
// chosen), deletes the rest with their deliveries and attempts, adds the
// counts to out and returns the candidates deleted.
func deleteEvents(ctx context.Context, tx pgx.Tx, cs []pruneCandidate, out *relay.Pruned) ([]pruneCandidate, error) {
	if len(cs) == 0 {
		return nil, nil
	}
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.id
	}
	// Locked, every delivery shows its latest status, and none turns
	// pending again before the transaction ends.
	rows, err := tx.Query(ctx, `SELECT event_id, status FROM deliveries WHERE event_id = ANY($1) FOR UPDATE`, ids)
	if err != nil {
		return nil, fmt.Errorf("postgres: prune events: lock deliveries: %w", err)
	}
	busy := map[string]bool{}
	for rows.Next() {
		var id, status string
		if err := rows.Scan(&id, &status); err != nil {
			rows.Close()
			return nil, fmt.Errorf("postgres: prune events: lock deliveries: %w", err)
		}
		if status == relay.DeliveryPending || status == relay.DeliveryRetrying {
			busy[id] = true
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: prune events: lock deliveries: %w", err)
	}
	if len(busy) > 0 {
		kept := cs[:0]
		ids = ids[:0]
		for _, c := range cs {
			if !busy[c.id] {
				kept = append(kept, c)
				ids = append(ids, c.id)
			}
		}
		cs = kept
	}
	tag, err := tx.Exec(ctx, `DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id = ANY($1))`, ids)
	if err != nil {
		return nil, fmt.Errorf("postgres: prune events: attempts: %w", err)
	}
	out.Attempts += int(tag.RowsAffected())
	if tag, err = tx.Exec(ctx, `DELETE FROM deliveries WHERE event_id = ANY($1)`, ids); err != nil {
		return nil, fmt.Errorf("postgres: prune events: deliveries: %w", err)
	}
	out.Deliveries += int(tag.RowsAffected())
	if _, err := tx.Exec(ctx, `DELETE FROM events WHERE id = ANY($1)`, ids); err != nil {
		return nil, fmt.Errorf("postgres: prune events: %w", err)
	}
	return cs, nil
}

// HeldExpiries returns the accounts whose held events expired.
func (s *Store) HeldExpiries(ctx context.Context) ([]relay.HeldExpiry, error) {
	rows, err := s.pool.Query(ctx, `SELECT provider, account_id, expired, last_expired_at
		FROM held_expiries ORDER BY provider, account_id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: held expiries: %w", err)
	}
	defer rows.Close()
	out := []relay.HeldExpiry{}
	for rows.Next() {
		var h relay.HeldExpiry
		if err := rows.Scan(&h.Provider, &h.AccountID, &h.Expired, &h.LastExpiredAt); err != nil {
			return nil, fmt.Errorf("postgres: held expiries: %w", err)
		}
		h.LastExpiredAt = h.LastExpiredAt.UTC()
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: held expiries: %w", err)
	}
	return out, nil
}

// Compact does nothing: PostgreSQL's autovacuum makes the space of deleted
// rows reusable by later inserts.
func (s *Store) Compact(context.Context) error { return nil }

// Size returns pg_database_size of the current database.
func (s *Store) Size(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: size: %w", err)
	}
	return n, nil
}
