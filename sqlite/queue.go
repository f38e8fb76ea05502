package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/relayhq/relay"
)

// ClaimDue leases due deliveries to owner. The single writer connection
// serialises claimers, so no two ever see the same row unleased.
func (s *Store) ClaimDue(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*relay.Claim, error) {
	if limit <= 0 {
		return nil, nil
	}
	st, err := s.stmts(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim: %w", err)
	}
	defer tx.Rollback()
	dests, err := claimableDestinations(ctx, tx.StmtContext(ctx, st.claimDests), now)
	if err != nil {
		return nil, err
	}
	claim := tx.StmtContext(ctx, st.claim)
	var deliveries []*relay.Delivery
	_, err = relay.ClaimFairly(dests.ids, limit, func(dst string, n int) (int, error) {
		until := ms(now.Add(lease))
		rows, err := claim.QueryContext(ctx, owner, until, until, dst, ms(now), dests.block[dst], n)
		if err != nil {
			return 0, fmt.Errorf("sqlite: claim: %w", err)
		}
		ds, err := scanDeliveries(rows)
		if err != nil {
			return 0, fmt.Errorf("sqlite: claim: %w", err)
		}
		deliveries = append(deliveries, ds...)
		return len(ds), nil
	})
	if err != nil {
		return nil, err
	}
	if len(deliveries) == 0 {
		return nil, tx.Commit()
	}
	claims, err := s.loadClaims(ctx, tx, tx.StmtContext(ctx, st.claimEvents), deliveries)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlite: claim: commit: %w", err)
	}
	return claims, nil
}

// claimable is the destinations that may be sent to now, and which of
// them hold an ordered key back behind a dead delivery (on_dead block).
type claimable struct {
	ids   []string
	block map[string]bool
}

// claimableDestinations lists the destinations that may be sent to now.
func claimableDestinations(ctx context.Context, q *sql.Stmt, now time.Time) (claimable, error) {
	c := claimable{block: map[string]bool{}}
	rows, err := q.QueryContext(ctx, ms(now))
	if err != nil {
		return c, fmt.Errorf("sqlite: claim: destinations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var block bool
		if err := rows.Scan(&id, &block); err != nil {
			return c, fmt.Errorf("sqlite: claim: destinations: %w", err)
		}
		c.ids = append(c.ids, id)
		c.block[id] = block
	}
	return c, rows.Err()
}

// deliveryColumnsBare is deliveryColumns without the table alias, for RETURNING.
const deliveryColumnsBare = `id, event_id, destination_id, status, source, attempts, step, next_attempt_at,
	last_status, last_error, created_at, updated_at, order_key`

func (s *Store) loadClaims(ctx context.Context, tx *sql.Tx, q *sql.Stmt, deliveries []*relay.Delivery) ([]*relay.Claim, error) {
	eventIDs := make([]string, 0, len(deliveries))
	destIDs := map[string]bool{}
	for _, d := range deliveries {
		eventIDs = append(eventIDs, d.EventID)
		destIDs[d.DestinationID] = true
	}
	events := make(map[string]*relay.Event, len(eventIDs))
	ids, err := json.Marshal(eventIDs)
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim: events: %w", err)
	}
	rows, err := q.QueryContext(ctx, string(ids))
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim: events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: claim: events: %w", err)
		}
		events[e.ID] = e
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: claim: events: %w", err)
	}
	dests := make(map[string]*relay.Destination, len(destIDs))
	for id := range destIDs {
		d, err := getDestination(ctx, tx, s.sealer, id, true)
		if err != nil {
			return nil, fmt.Errorf("sqlite: claim: destination %s: %w", id, err)
		}
		dests[id] = d
	}
	claims := make([]*relay.Claim, 0, len(deliveries))
	for _, d := range deliveries {
		e := events[d.EventID]
		if e == nil {
			return nil, fmt.Errorf("sqlite: claim: delivery %s: event %s missing", d.ID, d.EventID)
		}
		claims = append(claims, &relay.Claim{Delivery: d, Event: e, Destination: dests[d.DestinationID]})
	}
	return claims, nil
}

// recordOutcomesTx applies a batch of attempt outcomes in tx.
func recordOutcomesTx(ctx context.Context, tx *sql.Tx, st *writerStmts, outcomes []*relay.Outcome, now time.Time) error {
	upd := tx.StmtContext(ctx, st.updOutcome)
	ins := tx.StmtContext(ctx, st.insAttempt)
	stale := tx.StmtContext(ctx, st.updStale)
	for _, o := range outcomes {
		a := &o.Attempt
		res, err := upd.ExecContext(ctx, o.Status, o.Step, ms(o.NextAttemptAt), a.StatusCode, a.Error, ms(now), a.DeliveryID,
			o.Owner, o.Owner, ms(o.LeaseUntil), ms(o.LeaseUntil))
		if err != nil {
			return fmt.Errorf("sqlite: record outcome: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			// Not ours any more: count the attempt, keep the current state.
			if res, err = stale.ExecContext(ctx, ms(now), a.DeliveryID); err != nil {
				return fmt.Errorf("sqlite: record outcome: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				continue // deleted meanwhile: nothing to record against
			}
		}
		if _, err := ins.ExecContext(ctx, ms(a.StartedAt), a.StatusCode,
			time.Duration(a.Latency).Microseconds(), a.Error, a.ResponseBody, a.DeliveryID); err != nil {
			return fmt.Errorf("sqlite: record attempt: %w", err)
		}
		if o.DisableDestination != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE destinations SET disabled = 1, disabled_reason = ?, updated_at = ?
				WHERE id = (SELECT destination_id FROM deliveries WHERE id = ?)`, o.DisableDestination, ms(now), a.DeliveryID); err != nil {
				return fmt.Errorf("sqlite: disable destination: %w", err)
			}
		}
	}
	return nil
}

// ReleaseLeases clears owner's lease on the given deliveries.
func (s *Store) ReleaseLeases(ctx context.Context, owner string, deliveryIDs []string) error {
	for len(deliveryIDs) > 0 {
		n := min(len(deliveryIDs), 500)
		args := append([]any{owner}, anys(deliveryIDs[:n])...)
		// Due again at once, at the front of the queue: it was due when claimed.
		if _, err := s.writer.ExecContext(ctx, `UPDATE deliveries SET lease_owner = '', lease_until = 0, next_attempt_at = 0
			WHERE lease_owner = ? AND id IN (`+placeholders(n)+`)`, args...); err != nil {
			return fmt.Errorf("sqlite: release leases: %w", err)
		}
		deliveryIDs = deliveryIDs[n:]
	}
	return nil
}

const replaySet = `status = 'pending', source = 'replay', step = 0, next_attempt_at = ?,
	lease_owner = '', lease_until = 0, updated_at = ?`

// ReplayEvent makes the event's deliveries due again with source replay.
func (s *Store) ReplayEvent(ctx context.Context, eventID, orgID string, newDestinations []string, now time.Time) ([]*relay.Delivery, error) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: replay event: %w", err)
	}
	defer tx.Rollback()
	e, err := scanEvent(tx.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM events e WHERE e.id = ?`, eventID))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && orgID != "" && e.OrgID != orgID) {
		return nil, relay.Errorf(relay.ENOTFOUND, "event %s not found", eventID)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: replay event: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET `+replaySet+` WHERE event_id = ?`, ms(now), ms(now), eventID); err != nil {
		return nil, fmt.Errorf("sqlite: replay event: %w", err)
	}
	for _, dst := range newDestinations {
		// The new delivery takes its place in the destination's line.
		// A destination deleted meanwhile would never be sent to: skip it.
		d, err := getDestination(ctx, tx, s.sealer, dst, false)
		if relay.ErrorCode(err) == relay.ENOTFOUND {
			continue
		} else if err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO deliveries
			(id, event_id, destination_id, status, source, next_attempt_at, created_at, updated_at, order_key)
			VALUES (?, ?, ?, 'pending', 'replay', ?, ?, ?, ?) ON CONFLICT (event_id, destination_id) DO NOTHING`,
			relay.NewID("dlv", now), eventID, dst, ms(now), ms(now), ms(now), d.OrderKey(e)); err != nil {
			return nil, fmt.Errorf("sqlite: replay event: %w", err)
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries d WHERE d.event_id = ? ORDER BY d.id`, eventID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: replay event: %w", err)
	}
	out, err := scanDeliveries(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: replay event: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlite: replay event: commit: %w", err)
	}
	return out, nil
}

// ReplayDelivery makes one delivery due again with source replay.
func (s *Store) ReplayDelivery(ctx context.Context, deliveryID, orgID string, now time.Time) (*relay.Delivery, error) {
	q := `UPDATE deliveries SET ` + replaySet + ` WHERE id = ?`
	args := []any{ms(now), ms(now), deliveryID}
	if orgID != "" {
		q += ` AND EXISTS (SELECT 1 FROM events e WHERE e.id = deliveries.event_id AND e.org_id = ?)`
		args = append(args, orgID)
	}
	d, err := scanDelivery(s.writer.QueryRowContext(ctx, q+` RETURNING `+deliveryColumnsBare, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "delivery %s not found", deliveryID)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: replay delivery: %w", err)
	}
	return d, nil
}

// ReplayDead makes the destination's dead deliveries created in [since, until)
// due again with source replay.
func (s *Store) ReplayDead(ctx context.Context, destinationID string, since, until, now time.Time) (int, error) {
	q := `UPDATE deliveries SET ` + replaySet + ` WHERE destination_id = ? AND status = 'dead' AND created_at >= ?`
	args := []any{ms(now), ms(now), destinationID, ms(since)}
	if !until.IsZero() {
		q += ` AND created_at < ?`
		args = append(args, ms(until))
	}
	res, err := s.writer.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("sqlite: replay dead: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// QueueDepth counts undelivered deliveries (pending or retrying).
func (s *Store) QueueDepth(ctx context.Context) (int, error) {
	var n int
	if err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM deliveries INDEXED BY deliveries_due
		WHERE status IN ('pending', 'retrying')`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: queue depth: %w", err)
	}
	return n, nil
}

// BlockedKeys lists the destination's keys held back by a failing head.
// Window functions number each key's undelivered deliveries in arrival
// order over the deliveries_order index: the first is the head, the count
// less one is what waits behind it.
func (s *Store) BlockedKeys(ctx context.Context, destinationID string, limit int) ([]*relay.BlockedKey, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+deliveryColumnsBare+`, n FROM (
			SELECT d.*, row_number() OVER (PARTITION BY d.order_key ORDER BY d.event_id) AS rn,
				count(*) OVER (PARTITION BY d.order_key) AS n
			FROM deliveries d INDEXED BY deliveries_order
			WHERE d.destination_id = ?1 AND d.order_key <> '' AND d.status <> 'succeeded'
			  AND (d.status <> 'dead' OR (SELECT on_dead = 'block' FROM destinations WHERE id = ?1)))
		WHERE rn = 1 AND status IN ('retrying', 'dead')
		ORDER BY created_at, id LIMIT ?2`, destinationID, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: blocked keys: %w", err)
	}
	defer rows.Close()
	out := []*relay.BlockedKey{}
	for rows.Next() {
		var d relay.Delivery
		var next, created, updated int64
		var n int
		if err := rows.Scan(&d.ID, &d.EventID, &d.DestinationID, &d.Status, &d.Source, &d.Attempts, &d.Step, &next,
			&d.LastStatus, &d.LastError, &created, &updated, &d.OrderKey, &n); err != nil {
			return nil, fmt.Errorf("sqlite: blocked keys: %w", err)
		}
		d.NextAttemptAt, d.CreatedAt, d.UpdatedAt = fromMS(next), fromMS(created), fromMS(updated)
		out = append(out, &relay.BlockedKey{Key: d.OrderKey, Head: &d, Attempts: d.Attempts, Waiting: n - 1, Since: d.CreatedAt})
	}
	return out, rows.Err()
}
