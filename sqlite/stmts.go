package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// writerStmts are the hot-path statements, prepared once on the writer's
// single connection. A transaction binds them with tx.StmtContext, which
// reuses the prepared handle on that connection, so a batch does not parse
// its SQL again (a 512-row claim's event lookup cost more to parse than to
// run).
type writerStmts struct {
	insEvent, findEvent, insDelivery *sql.Stmt
	claimDests, claim, claimEvents   *sql.Stmt
	updOutcome, updStale, insAttempt *sql.Stmt
}

var writerSQL = map[string]string{
	// No conflict target: a taken (provider, delivery_id) and a taken
	// (provider, body_key) both make the event a duplicate.
	"insEvent": `INSERT INTO events
		(id, provider, delivery_id, event_type, source, account_id, resource_id, org_id, connection_id, match, headers, payload, payload_codec, received_at, body_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`,
	"findEvent": `SELECT id FROM events WHERE provider = ?1 AND delivery_id = ?2
		UNION ALL SELECT id FROM events WHERE provider = ?1 AND body_key = ?3 AND body_key <> ''
		LIMIT 1`,
	"insDelivery": `INSERT INTO deliveries
		(id, event_id, destination_id, status, source, next_attempt_at, lease_owner, lease_until, created_at, updated_at, order_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	"claimDests": `SELECT id, on_dead = 'block' FROM destinations
		WHERE disabled = 0 AND deleted_at IS NULL AND paused_until <= ? ORDER BY id`,
	// A claim moves next_attempt_at to the lease's end (a visibility
	// timeout): claimed rows leave the front of the due index, so the next
	// claim does not wade through them, and if this replica dies they come
	// due again by themselves when the lease ends.
	//
	// An ordered delivery is claimable only at the head of its line: when
	// no delivery of the same (destination, key) with an earlier event id
	// is undelivered (in flight, waiting to retry, or, with on_dead block,
	// dead). A delivery in flight is still pending or retrying, so a key is
	// worked by one claimer at a time; the check is one probe into
	// deliveries_order per candidate.
	"claim": `UPDATE deliveries SET lease_owner = ?, lease_until = ?, next_attempt_at = ?
		WHERE id IN (
			SELECT q.id FROM deliveries q INDEXED BY deliveries_due
			WHERE q.destination_id = ?4 AND q.status IN ('pending', 'retrying') AND q.next_attempt_at <= ?5
			  AND (q.order_key = '' OR NOT EXISTS (
				SELECT 1 FROM deliveries p INDEXED BY deliveries_order
				WHERE p.destination_id = ?4 AND p.order_key = q.order_key AND p.event_id < q.event_id
				  AND p.order_key <> '' AND p.status <> 'succeeded' AND (p.status <> 'dead' OR ?6)))
			ORDER BY q.next_attempt_at LIMIT ?7)
		RETURNING ` + deliveryColumnsBare,
	"claimEvents": `SELECT ` + claimEventColumns + ` FROM events e WHERE e.id IN (SELECT value FROM json_each(?))`,
	"updOutcome": `UPDATE deliveries SET status = ?, step = ?, next_attempt_at = ?,
		attempts = attempts + 1, last_status = ?, last_error = ?, lease_owner = '', lease_until = 0, updated_at = ?
		WHERE id = ? AND (? = '' OR (lease_owner = ? AND (? = 0 OR lease_until = ?)))`,
	// An attempt whose lease was lost (replayed, or taken over) still counts.
	"updStale": `UPDATE deliveries SET attempts = attempts + 1, updated_at = ? WHERE id = ?`,
	// The attempt is numbered from the row just updated, so two replicas that
	// both attempted a delivery (a lease taken over) never share a number.
	"insAttempt": `INSERT INTO attempts (delivery_id, n, started_at, status_code, latency_us, error, response_body)
		SELECT id, attempts, ?, ?, ?, ?, ? FROM deliveries WHERE id = ?`,
}

// stmts returns the prepared writer statements, preparing them on first use
// (after Migrate: they name its tables). Call it before BeginTx: preparing
// needs the writer's one connection.
func (s *Store) stmts(ctx context.Context) (*writerStmts, error) {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if s.prepared != nil {
		return s.prepared, nil
	}
	w := &writerStmts{}
	fields := map[string]**sql.Stmt{
		"insEvent": &w.insEvent, "findEvent": &w.findEvent, "insDelivery": &w.insDelivery,
		"claimDests": &w.claimDests, "claim": &w.claim, "claimEvents": &w.claimEvents,
		"updOutcome": &w.updOutcome, "updStale": &w.updStale, "insAttempt": &w.insAttempt,
	}
	var errs []error
	for name, field := range fields {
		st, err := s.writer.PrepareContext(ctx, writerSQL[name])
		if err != nil {
			errs = append(errs, fmt.Errorf("sqlite: prepare %s: %w", name, err))
			continue
		}
		*field = st
	}
	if err := errors.Join(errs...); err != nil {
		for _, field := range fields {
			if *field != nil {
				(*field).Close()
			}
		}
		return nil, err
	}
	s.prepared = w
	return w, nil
}

// closeStmts closes the prepared statements, if any.
func (s *Store) closeStmts() {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if w := s.prepared; w != nil {
		for _, st := range []*sql.Stmt{w.insEvent, w.findEvent, w.insDelivery, w.claimDests, w.claim,
			w.claimEvents, w.updOutcome, w.updStale, w.insAttempt} {
			st.Close()
		}
		s.prepared = nil
	}
}
