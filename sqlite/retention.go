package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"

	"github.com/relayhq/relay"
)

var _ relay.Pruner = (*Store)(nil)

// PruneEvents deletes one batch of old events as p says, in one writer
// transaction. The writer is SQLite's only one, so the batch's selection
// and deletion see no concurrent change: an event whose delivery a replay
// made pending again is simply not selected.
func (s *Store) PruneEvents(ctx context.Context, p relay.Prune) (relay.Pruned, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = relay.RetentionBatch
	}
	var out relay.Pruned
	err := s.inTx(ctx, "prune events", func(tx *sql.Tx) error {
		if !p.Before.IsZero() {
			ids, err := pruneCandidates(ctx, tx, `SELECT e.id, e.provider, e.account_id FROM events e
				WHERE e.received_at < ? AND e.match <> 'unmatched' AND NOT EXISTS (SELECT 1 FROM deliveries d
					WHERE d.event_id = e.id AND d.status IN ('pending', 'retrying'))
				ORDER BY e.received_at LIMIT ?`, ms(p.Before), limit)
			if err != nil {
				return err
			}
			if err := deleteEvents(ctx, tx, ids, &out); err != nil {
				return err
			}
			out.Events = len(ids)
		}
		if !p.HeldBefore.IsZero() {
			held, err := pruneCandidates(ctx, tx, `SELECT e.id, e.provider, e.account_id FROM events e
				WHERE e.received_at < ? AND e.match = 'unmatched' AND NOT EXISTS (SELECT 1 FROM deliveries d
					WHERE d.event_id = e.id AND d.status IN ('pending', 'retrying'))
				ORDER BY e.received_at LIMIT ?`, ms(p.HeldBefore), limit)
			if err != nil {
				return err
			}
			if err := deleteEvents(ctx, tx, held, &out); err != nil {
				return err
			}
			for acct, n := range countByAccount(held) {
				if _, err := tx.ExecContext(ctx, `INSERT INTO held_expiries (provider, account_id, expired, last_expired_at)
					VALUES (?, ?, ?, ?) ON CONFLICT (provider, account_id) DO UPDATE SET
					expired = expired + excluded.expired, last_expired_at = excluded.last_expired_at`,
					acct[0], acct[1], n, ms(p.Now)); err != nil {
					return fmt.Errorf("sqlite: prune events: record held expiry: %w", err)
				}
			}
			out.Held = len(held)
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

func pruneCandidates(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]pruneCandidate, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: prune events: %w", err)
	}
	defer rows.Close()
	var out []pruneCandidate
	for rows.Next() {
		var c pruneCandidate
		if err := rows.Scan(&c.id, &c.provider, &c.accountID); err != nil {
			return nil, fmt.Errorf("sqlite: prune events: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: prune events: %w", err)
	}
	return out, nil
}

// countByAccount counts candidates per (provider, account id).
func countByAccount(cs []pruneCandidate) map[[2]string]int {
	out := map[[2]string]int{}
	for _, c := range cs {
		out[[2]string{c.provider, c.accountID}]++
	}
	return out
}

// deleteEvents deletes the events with their deliveries and attempts, and
// adds the deliveries' and attempts' counts to out.
func deleteEvents(ctx context.Context, tx *sql.Tx, cs []pruneCandidate, out *relay.Pruned) error {
	if len(cs) == 0 {
		return nil
	}
	ids := make([]any, len(cs))
	for i, c := range cs {
		ids[i] = c.id
	}
	in := "(" + placeholders(len(ids)) + ")"
	res, err := tx.ExecContext(ctx, `DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id IN `+in+`)`, ids...)
	if err != nil {
		return fmt.Errorf("sqlite: prune events: attempts: %w", err)
	}
	n, _ := res.RowsAffected()
	out.Attempts += int(n)
	if res, err = tx.ExecContext(ctx, `DELETE FROM deliveries WHERE event_id IN `+in, ids...); err != nil {
		return fmt.Errorf("sqlite: prune events: deliveries: %w", err)
	}
	n, _ = res.RowsAffected()
	out.Deliveries += int(n)
	if _, err := tx.ExecContext(ctx, `DELETE FROM events WHERE id IN `+in, ids...); err != nil {
		return fmt.Errorf("sqlite: prune events: %w", err)
	}
	return nil
}

// HeldExpiries returns the accounts whose held events expired.
func (s *Store) HeldExpiries(ctx context.Context) ([]relay.HeldExpiry, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT provider, account_id, expired, last_expired_at
		FROM held_expiries ORDER BY provider, account_id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: held expiries: %w", err)
	}
	defer rows.Close()
	out := []relay.HeldExpiry{}
	for rows.Next() {
		var h relay.HeldExpiry
		var at int64
		if err := rows.Scan(&h.Provider, &h.AccountID, &h.Expired, &at); err != nil {
			return nil, fmt.Errorf("sqlite: held expiries: %w", err)
		}
		h.LastExpiredAt = fromMS(at)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: held expiries: %w", err)
	}
	return out, nil
}

// vacuumStep is how many free pages one incremental vacuum step gives back
// (16 MB of 4 KB pages): each step holds the writer, so ingest waits at
// most for one step.
const vacuumStep = 4096

// Compact returns the pages pruning freed to the file system, in steps
// that each hold the writer briefly, then checkpoints the WAL and
// truncates it: the deletions went through the WAL, which would otherwise
// keep the size they took.
func (s *Store) Compact(ctx context.Context) error {
	prev := -1
	for {
		var free int
		if err := s.writer.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free); err != nil {
			return fmt.Errorf("sqlite: compact: %w", err)
		}
		if free == 0 || free == prev {
			break // nothing to give back, or the file does not vacuum incrementally
		}
		prev = free
		if _, err := s.writer.ExecContext(ctx, fmt.Sprintf(`PRAGMA incremental_vacuum(%d)`, min(free, vacuumStep))); err != nil {
			return fmt.Errorf("sqlite: compact: %w", err)
		}
	}
	if _, err := s.checkpointer.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return fmt.Errorf("sqlite: compact: checkpoint: %w", err)
	}
	return nil
}

// Size returns the size of the database file and its WAL.
func (s *Store) Size(context.Context) (int64, error) {
	var total int64
	for _, name := range []string{s.path, s.path + "-wal"} {
		fi, err := os.Stat(name)
		if os.IsNotExist(err) {
			continue
		} else if err != nil {
			return 0, fmt.Errorf("sqlite: size: %w", err)
		}
		total += fi.Size()
	}
	return total, nil
}

// useIncrementalVacuum makes the file give pages back with incremental
// vacuum. The setting only takes effect through a VACUUM once the file has
// a header (WAL mode writes one at open), so the file is rewritten, once:
// instantly for a new file, but for an existing one it takes time in
// proportion to its size (every page is copied through the WAL) and needs
// free disk for a second copy while it runs, so it happens at migration,
// before the server takes traffic.
func (s *Store) useIncrementalVacuum(ctx context.Context) error {
	var mode int
	if err := s.writer.QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&mode); err != nil {
		return fmt.Errorf("sqlite: auto_vacuum: %w", err)
	}
	const incremental = 2
	if mode == incremental {
		return nil
	}
	if _, err := s.writer.ExecContext(ctx, `PRAGMA auto_vacuum = INCREMENTAL`); err != nil {
		return fmt.Errorf("sqlite: auto_vacuum: %w", err)
	}
	if _, err := s.writer.ExecContext(ctx, `VACUUM`); err != nil {
		return fmt.Errorf("sqlite: auto_vacuum: vacuum: %w", err)
	}
	if _, err := s.checkpointer.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return fmt.Errorf("sqlite: auto_vacuum: checkpoint: %w", err)
	}
	return nil
}
