package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/relayhq/relay"
)

const deliveryColumnsBare = `id, event_id, destination_id, status, source, attempts, step, next_attempt_at,
	last_status, last_error, created_at, updated_at, order_key`

// ClaimDue leases due deliveries to owner. SKIP LOCKED lets replicas claim
// side by side: each skips the rows another is claiming at that moment.
func (s *Store) ClaimDue(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*relay.Claim, error) {
	if limit <= 0 {
		return nil, nil
	}
	var claims []*relay.Claim
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Every statement here finds its rows through an index. Their
		// prepared plans outlive the connection's first use, and one made
		// while events was nearly empty (every fresh database) would
		// otherwise scan the whole table for each claim; see RecordOutcomes.
		if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, on_dead = 'block' FROM destinations
			WHERE NOT disabled AND deleted_at IS NULL AND paused_until <= $1 ORDER BY id`, now.UTC())
		if err != nil {
			return err
		}
		var dests []string
		block := map[string]bool{}
		var id string
		var blocks bool
		if _, err := pgx.ForEachRow(rows, []any{&id, &blocks}, func() error {
			dests = append(dests, id)
			block[id] = blocks
			return nil
		}); err != nil {
			return err
		}
		var deliveries []*relay.Delivery
		_, err = relay.ClaimFairly(dests, limit, func(dst string, n int) (int, error) {
			// A claim moves next_attempt_at to the lease's end (a visibility
			// timeout): see the sqlite store.
			// RETURNING has no order of its own: the claimed rows are put
			// back in queue order (their old due time) by the outer SELECT.
			//
			// An ordered delivery is claimable only at the head of its
			// line (see the sqlite store). Across replicas this holds
			// because the head stays pending or retrying while it is in
			// flight, and becomes succeeded or dead only in a committed
			// outcome: no snapshot ever shows a key without its head
			// unless the head is done. SKIP LOCKED only skips a head
			// another replica is claiming; its followers fail the check.
			rows, err := tx.Query(ctx, `WITH due AS (
					SELECT q.id, q.next_attempt_at AS was_due FROM deliveries q
					WHERE q.destination_id = $3 AND q.status IN ('pending', 'retrying')
					  AND q.next_attempt_at <= $4
					  AND (q.order_key = '' OR NOT EXISTS (
						SELECT 1 FROM deliveries p
						WHERE p.destination_id = $3 AND p.order_key = q.order_key
						  AND p.event_id COLLATE "C" < q.event_id COLLATE "C"
						  AND p.order_key <> '' AND p.status <> 'succeeded' AND (p.status <> 'dead' OR $6)))
					ORDER BY q.next_attempt_at LIMIT $5
					FOR UPDATE OF q SKIP LOCKED),
				upd AS (
					UPDATE deliveries d SET lease_owner = $1, lease_until = $2, next_attempt_at = $2
					FROM due WHERE d.id = due.id
					RETURNING d.*, due.was_due)
				SELECT `+deliveryColumnsBare+` FROM upd ORDER BY was_due, id`, owner, now.Add(lease).UTC(), dst, now.UTC(), n, block[dst])
			if err != nil {
				return 0, err
			}
			ds, err := scanDeliveries(rows)
			deliveries = append(deliveries, ds...)
			return len(ds), err
		})
		if err != nil || len(deliveries) == 0 {
			return err
		}
		claims, err = loadClaims(ctx, tx, s.sealer, deliveries)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: claim: %w", err)
	}
	return claims, nil
}

func loadClaims(ctx context.Context, tx pgx.Tx, sealer relay.Sealer, deliveries []*relay.Delivery) ([]*relay.Claim, error) {
	eventIDs := make([]string, 0, len(deliveries))
	destSet := map[string]bool{}
	var destIDs []string
	for _, d := range deliveries {
		eventIDs = append(eventIDs, d.EventID)
		if !destSet[d.DestinationID] {
			destSet[d.DestinationID] = true
			destIDs = append(destIDs, d.DestinationID)
		}
	}
	events := make(map[string]*relay.Event, len(eventIDs))
	rows, err := tx.Query(ctx, `SELECT `+claimEventColumns+` FROM events e WHERE e.id = ANY($1)`, eventIDs)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		events[e.ID] = e
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	dests := make(map[string]*relay.Destination, len(destIDs))
	rows, err = tx.Query(ctx, `SELECT `+destinationSelect+` FROM destinations WHERE id = ANY($1)`, destIDs)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		d, err := scanDestination(rows, sealer)
		if err != nil {
			rows.Close()
			return nil, err
		}
		dests[d.ID] = d
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	claims := make([]*relay.Claim, 0, len(deliveries))
	for _, d := range deliveries {
		e, dst := events[d.EventID], dests[d.DestinationID]
		if e == nil || dst == nil {
			return nil, fmt.Errorf("delivery %s: event or destination missing", d.ID)
		}
		claims = append(claims, &relay.Claim{Delivery: d, Event: e, Destination: dst})
	}
	return claims, nil
}

// RecordOutcomes applies a batch of outcomes in one round trip: one
// statement updates every delivery and inserts its attempt, in a
// transaction that does not wait for its WAL to reach disk.
//
// Not waiting is safe because an outcome is only a note that a send
// happened: if the server loses power before the WAL writer flushes it
// (within wal_writer_delay), the delivery is still leased, its lease runs
// out and it is sent again — at-least-once, which receivers handle anyway.
// An acknowledged webhook is a different matter and InsertEvents keeps the
// synchronous commit. Ordered delivery keeps its guarantee too: the next
// delivery of a key is only ever leased by ClaimDue, whose synchronous
// commit flushes the WAL up to and including the head's outcome.
func (s *Store) RecordOutcomes(ctx context.Context, outcomes []*relay.Outcome, now time.Time) error {
	if len(outcomes) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	// Both settings last until the batch's transaction ends. The statement
	// below is prepared once per connection, and a generic plan made while
	// deliveries was nearly empty (every fresh database) would otherwise go
	// on scanning the whole table for each batch: finding rows by primary
	// key is right at any size.
	b.Queue(`SELECT set_config('synchronous_commit', 'off', true), set_config('enable_seqscan', 'off', true)`)
	for _, round := range outcomeRounds(outcomes) {
		queueOutcomes(b, round, now)
	}
	for _, o := range outcomes {
		if o.DisableDestination != "" {
			b.Queue(`UPDATE destinations SET disabled = true, disabled_reason = $1, updated_at = $2
				WHERE id = (SELECT destination_id FROM deliveries WHERE id = $3)`, o.DisableDestination, now.UTC(), o.Attempt.DeliveryID)
		}
	}
	// A batch is one implicit transaction: every outcome or none.
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("postgres: record outcomes: %w", err)
	}
	return nil
}

// outcomeRounds splits outcomes so that no delivery appears twice in a
// round, keeping their order: UPDATE … FROM applies only one source row to
// each target row, and two attempts of one delivery must both count.
func outcomeRounds(outcomes []*relay.Outcome) [][]*relay.Outcome {
	var rounds [][]*relay.Outcome
	seen := make(map[string]int, len(outcomes)) // delivery → rounds it is in
	for _, o := range outcomes {
		r := seen[o.Attempt.DeliveryID]
		seen[o.Attempt.DeliveryID] = r + 1
		if r == len(rounds) {
			rounds = append(rounds, nil)
		}
		rounds[r] = append(rounds[r], o)
	}
	return rounds
}

// queueOutcomes queues one statement applying outcomes, each to a distinct
// delivery.
func queueOutcomes(b *pgx.Batch, outcomes []*relay.Outcome, now time.Time) {
	n := len(outcomes)
	ids, statuses, errs, owners, bodies := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	steps, codes := make([]int32, n), make([]int32, n)
	next, started, leases := make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
	latencies := make([]int64, n)
	for i, o := range outcomes {
		a := &o.Attempt
		ids[i], statuses[i], errs[i], owners[i], bodies[i] = a.DeliveryID, o.Status, a.Error, o.Owner, a.ResponseBody
		steps[i], codes[i] = int32(o.Step), int32(a.StatusCode)
		next[i], started[i], leases[i] = ts(o.NextAttemptAt), a.StartedAt.UTC(), ts(o.LeaseUntil)
		latencies[i] = time.Duration(a.Latency).Microseconds()
	}
	// The state changes only while the row is still leased to the outcome's
	// owner, under the same lease when the outcome names it (see
	// relay.Outcome); the attempt counts either way. Testing the
	// lease in SET rather than WHERE tests the row as updated last, when a
	// concurrent claim or replay changed it meanwhile. The attempt is
	// numbered from the row just updated, so two replicas that both
	// attempted a delivery never share a number. The id = ANY($1) lets
	// the planner find the rows through the primary key.
	const owned = `(o.owner = '' OR (d.lease_owner = o.owner AND (o.lease_until = 'epoch' OR d.lease_until = o.lease_until)))`
	b.Queue(`WITH o AS (
			SELECT * FROM unnest($1::text[], $2::text[], $3::integer[], $4::timestamptz[], $5::integer[], $6::text[],
				$7::text[], $8::timestamptz[], $9::bigint[], $10::text[], $12::timestamptz[])
				AS o(id, status, step, next_attempt_at, status_code, error, owner, started_at, latency_us, response_body, lease_until)),
		upd AS (
			UPDATE deliveries d SET
				status = CASE WHEN `+owned+` THEN o.status ELSE d.status END,
				step = CASE WHEN `+owned+` THEN o.step ELSE d.step END,
				next_attempt_at = CASE WHEN `+owned+` THEN o.next_attempt_at ELSE d.next_attempt_at END,
				last_status = CASE WHEN `+owned+` THEN o.status_code ELSE d.last_status END,
				last_error = CASE WHEN `+owned+` THEN o.error ELSE d.last_error END,
				lease_owner = CASE WHEN `+owned+` THEN '' ELSE d.lease_owner END,
				lease_until = CASE WHEN `+owned+` THEN 'epoch' ELSE d.lease_until END,
				attempts = d.attempts + 1, updated_at = $11
			FROM o WHERE d.id = o.id AND d.id = ANY($1)
			RETURNING d.id, d.attempts)
		INSERT INTO attempts (delivery_id, n, started_at, status_code, latency_us, error, response_body)
		SELECT upd.id, upd.attempts, o.started_at, o.status_code, o.latency_us, o.error, o.response_body
		FROM upd JOIN o ON o.id = upd.id`,
		ids, statuses, steps, next, codes, errs, owners, started, latencies, bodies, now.UTC(), leases)
}

// ReleaseLeases clears owner's lease on the given deliveries.
func (s *Store) ReleaseLeases(ctx context.Context, owner string, deliveryIDs []string) error {
	if len(deliveryIDs) == 0 {
		return nil
	}
	// Due again at once, at the front of the queue: it was due when claimed.
	if _, err := s.pool.Exec(ctx, `UPDATE deliveries SET lease_owner = '', lease_until = 'epoch', next_attempt_at = 'epoch'
		WHERE lease_owner = $1 AND id = ANY($2)`, owner, deliveryIDs); err != nil {
		return fmt.Errorf("postgres: release leases: %w", err)
	}
	return nil
}

const replaySet = `status = 'pending', source = 'replay', step = 0, next_attempt_at = $1,
	lease_owner = '', lease_until = 'epoch', updated_at = $1`

// ReplayEvent makes the event's deliveries due again with source replay.
func (s *Store) ReplayEvent(ctx context.Context, eventID, orgID string, newDestinations []string, now time.Time) ([]*relay.Delivery, error) {
	var out []*relay.Delivery
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// FOR SHARE: retention, which locks the events it deletes, cannot
		// delete this one while new deliveries are being added to it.
		e, err := scanEvent(tx.QueryRow(ctx, `SELECT `+eventColumns+` FROM events e WHERE e.id = $1 FOR SHARE`, eventID))
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && orgID != "" && e.OrgID != orgID) {
			return relay.Errorf(relay.ENOTFOUND, "event %s not found", eventID)
		} else if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE deliveries SET `+replaySet+` WHERE event_id = $2`, now.UTC(), eventID); err != nil {
			return err
		}
		for _, dst := range newDestinations {
			// The new delivery takes its place in the destination's line.
			d, err := scanDestination(tx.QueryRow(ctx, `SELECT `+destinationSelect+` FROM destinations
				WHERE id = $1 AND deleted_at IS NULL`, dst), s.sealer)
			if errors.Is(err, pgx.ErrNoRows) {
				continue // deleted meanwhile: it would never be sent to
			} else if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO deliveries
				(id, event_id, destination_id, status, source, next_attempt_at, created_at, updated_at, order_key)
				VALUES ($1, $2, $3, 'pending', 'replay', $4, $4, $4, $5) ON CONFLICT (event_id, destination_id) DO NOTHING`,
				relay.NewID("dlv", now), eventID, dst, now.UTC(), d.OrderKey(e)); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries d WHERE d.event_id = $1 ORDER BY d.id`, eventID)
		if err != nil {
			return err
		}
		out, err = scanDeliveries(rows)
		return err
	})
	if err != nil {
		if relay.ErrorCode(err) == relay.ENOTFOUND {
			return nil, err
		}
		return nil, fmt.Errorf("postgres: replay event: %w", err)
	}
	return out, nil
}

// ReplayDelivery makes one delivery due again with source replay.
func (s *Store) ReplayDelivery(ctx context.Context, deliveryID, orgID string, now time.Time) (*relay.Delivery, error) {
	q := `UPDATE deliveries SET ` + replaySet + ` WHERE id = $2`
	args := []any{now.UTC(), deliveryID}
	if orgID != "" {
		q += ` AND EXISTS (SELECT 1 FROM events e WHERE e.id = deliveries.event_id AND e.org_id = $3)`
		args = append(args, orgID)
	}
	d, err := scanDelivery(s.pool.QueryRow(ctx, q+` RETURNING `+deliveryColumnsBare, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "delivery %s not found", deliveryID)
	} else if err != nil {
		return nil, fmt.Errorf("postgres: replay delivery: %w", err)
	}
	return d, nil
}

// ReplayDead makes the destination's dead deliveries created in [since,
// until) due again with source replay; a zero until means no upper bound.
func (s *Store) ReplayDead(ctx context.Context, destinationID string, since, until, now time.Time) (int, error) {
	q := `UPDATE deliveries SET ` + replaySet + ` WHERE destination_id = $2 AND status = 'dead' AND created_at >= $3`
	args := []any{now.UTC(), destinationID, ts(since)}
	if !until.IsZero() {
		q += ` AND created_at < $4`
		args = append(args, until.UTC())
	}
	tag, err := s.pool.Exec(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("postgres: replay dead: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// QueueDepth counts undelivered deliveries.
func (s *Store) QueueDepth(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE status IN ('pending', 'retrying')`).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: queue depth: %w", err)
	}
	return n, nil
}

// BlockedKeys lists the destination's keys held back by a failing head.
// Window functions number each key's undelivered deliveries in arrival
// order over the deliveries_order index: the first is the head, the count
// less one is what waits behind it.
func (s *Store) BlockedKeys(ctx context.Context, destinationID string, limit int) ([]*relay.BlockedKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryColumnsBare+`, n FROM (
			SELECT d.*, row_number() OVER (PARTITION BY d.order_key ORDER BY d.event_id COLLATE "C") AS rn,
				count(*) OVER (PARTITION BY d.order_key) AS n
			FROM deliveries d
			WHERE d.destination_id = $1 AND d.order_key <> '' AND d.status <> 'succeeded'
			  AND (d.status <> 'dead' OR coalesce((SELECT on_dead = 'block' FROM destinations WHERE id = $1), false))) k
		WHERE rn = 1 AND status IN ('retrying', 'dead')
		ORDER BY created_at, id LIMIT $2`, destinationID, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: blocked keys: %w", err)
	}
	defer rows.Close()
	out := []*relay.BlockedKey{}
	for rows.Next() {
		var d relay.Delivery
		var next, created, updated time.Time
		var n int
		if err := rows.Scan(&d.ID, &d.EventID, &d.DestinationID, &d.Status, &d.Source, &d.Attempts, &d.Step, &next,
			&d.LastStatus, &d.LastError, &created, &updated, &d.OrderKey, &n); err != nil {
			return nil, fmt.Errorf("postgres: blocked keys: %w", err)
		}
		d.NextAttemptAt, d.CreatedAt, d.UpdatedAt = fromTS(next), created.UTC(), updated.UTC()
		out = append(out, &relay.BlockedKey{Key: d.OrderKey, Head: &d, Attempts: d.Attempts, Waiting: n - 1, Since: d.CreatedAt})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: blocked keys: %w", err)
	}
	return out, nil
}
