package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/internal/jsoncolumn"
)

// packPayloads compresses the items' payloads, in order. Callers do it
// before taking the writer, so the single writer connection is not held
// while the CPU compresses.
func packPayloads(items []*relay.IngestItem) [][]byte {
	out := make([][]byte, len(items))
	for i, it := range items {
		out[i] = pack(it.Event.Payload)
	}
	return out
}

// insertEventsTx writes a batch of events and their deliveries in tx;
// payloads[i] is items[i]'s payload as packPayloads packed it.
func insertEventsTx(ctx context.Context, tx *sql.Tx, st *writerStmts, items []*relay.IngestItem, payloads [][]byte) error {
	insEvent := tx.StmtContext(ctx, st.insEvent)
	insDelivery := tx.StmtContext(ctx, st.insDelivery)
	for i, it := range items {
		it.Duplicate = false
		e := it.Event
		headers, err := marshalHeaders(e.Headers)
		if err != nil {
			return err
		}
		res, err := insEvent.ExecContext(ctx, e.ID, e.Provider, e.DeliveryID, e.EventType, e.Source,
			e.AccountID, e.ResourceID, e.OrgID, e.ConnectionID, e.Match, headers, payloads[i], codecS2, ms(e.ReceivedAt), e.BodyKey)
		if err != nil {
			return fmt.Errorf("sqlite: insert event: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			it.Duplicate = true
			if err := tx.StmtContext(ctx, st.findEvent).QueryRowContext(ctx, e.Provider, e.DeliveryID, e.BodyKey).Scan(&e.ID); err != nil {
				return fmt.Errorf("sqlite: insert event: find duplicate: %w", err)
			}
			continue
		}
		for _, d := range it.Deliveries {
			d.EventID = e.ID
			// An ordered delivery is never leased here: only ClaimDue
			// checks that its turn has come.
			var owner string
			var leaseUntil int64
			if it.LeaseOwner != "" && !d.Ordered() {
				owner, leaseUntil = it.LeaseOwner, ms(it.LeaseUntil)
				d.NextAttemptAt = it.LeaseUntil // leased: due again only if its lease runs out
			}
			if _, err := insDelivery.ExecContext(ctx, d.ID, d.EventID, d.DestinationID, d.Status, d.Source,
				ms(d.NextAttemptAt), owner, leaseUntil, ms(d.CreatedAt), ms(d.UpdatedAt), d.OrderKey); err != nil {
				return fmt.Errorf("sqlite: insert delivery: %w", err)
			}
		}
	}
	return nil
}

func marshalHeaders(h map[string]string) (string, error) {
	s, err := jsoncolumn.Map(h)
	if err != nil {
		return "", fmt.Errorf("sqlite: headers: %w", err)
	}
	return s, nil
}

const eventColumns = `e.id, e.provider, e.delivery_id, e.event_type, e.source, e.account_id, e.resource_id,
	e.org_id, e.connection_id, e.match, e.headers, e.payload, e.payload_codec, e.received_at`

// claimEventColumns is eventColumns for claims, without the headers: a
// delivery does not send the provider's headers, and decoding them was a
// tenth of a claim's cost.
var claimEventColumns = strings.Replace(eventColumns, "e.headers", "'{}'", 1)

type scanner interface{ Scan(dest ...any) error }

// scanEvent reads one row of eventColumns, unpacking its payload. A payload
// that does not unpack is an error naming the event.
func scanEvent(row scanner) (*relay.Event, error) {
	var e relay.Event
	var headers string
	var payload []byte
	var codec, received int64
	if err := row.Scan(&e.ID, &e.Provider, &e.DeliveryID, &e.EventType, &e.Source, &e.AccountID, &e.ResourceID,
		&e.OrgID, &e.ConnectionID, &e.Match, &headers, &payload, &codec, &received); err != nil {
		return nil, err
	}
	var err error
	if e.Headers, err = jsoncolumn.ParseMap(headers); err != nil {
		return nil, fmt.Errorf("event %s: headers: %w", e.ID, err)
	}
	if e.Payload, err = unpack(codec, payload); err != nil {
		return nil, fmt.Errorf("event %s: payload: %w", e.ID, err)
	}
	e.ReceivedAt = fromMS(received)
	return &e, nil
}

// GetEvent returns the event with its deliveries and their attempt logs.
func (s *Store) GetEvent(ctx context.Context, id, orgID string) (*relay.Event, error) {
	tx, err := s.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: get event: %w", err)
	}
	defer tx.Rollback()
	e, err := scanEvent(tx.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM events e WHERE e.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !relay.OrgSees(orgID, e.OrgID)) {
		return nil, relay.Errorf(relay.ENOTFOUND, "event %s not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: get event: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries d WHERE d.event_id = ? ORDER BY d.id`, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get event: %w", err)
	}
	e.Deliveries, err = scanDeliveries(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get event: %w", err)
	}
	for _, d := range e.Deliveries {
		if d.AttemptLog, err = attemptLog(ctx, tx, d.ID); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// ListEvents returns one page of events, newest first.
func (s *Store) ListEvents(ctx context.Context, f relay.EventFilter) (*relay.Page[*relay.Event], error) {
	var where []string
	var args []any
	if f.Provider != "" {
		where, args = append(where, "e.provider = ?"), append(args, f.Provider)
	}
	if f.EventType != "" {
		// GLOB: "*" matches any run, like relay.MatchGlob (event types hold no "/").
		where, args = append(where, "e.event_type GLOB ?"), append(args, f.EventType)
	}
	if f.Status != "" {
		where = append(where, "EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status = ?)")
		args = append(args, f.Status)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "e.received_at >= ?"), append(args, ms(f.Since))
	}
	if !f.Until.IsZero() {
		where, args = append(where, "e.received_at < ?"), append(args, ms(f.Until))
	}
	if f.OrgID != "" {
		where, args = append(where, "e.org_id = ?"), append(args, f.OrgID)
	}
	if f.Cursor != "" {
		where, args = append(where, "e.id < ?"), append(args, f.Cursor)
	}
	limit := relay.PageLimit(f.Limit)
	q := `SELECT ` + eventColumns + ` FROM events e`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY e.id DESC LIMIT ?"
	args = append(args, limit+1)

	rows, err := s.reader.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list events: %w", err)
	}
	defer rows.Close()
	var items []*relay.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list events: %w", err)
		}
		items = append(items, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list events: %w", err)
	}
	return relay.NewPage(items, limit, func(e *relay.Event) string { return e.ID }), nil
}

const deliveryColumns = `d.id, d.event_id, d.destination_id, d.status, d.source, d.attempts, d.step, d.next_attempt_at,
	d.last_status, d.last_error, d.created_at, d.updated_at, d.order_key`

func scanDelivery(row scanner) (*relay.Delivery, error) {
	var d relay.Delivery
	var next, created, updated int64
	if err := row.Scan(&d.ID, &d.EventID, &d.DestinationID, &d.Status, &d.Source, &d.Attempts, &d.Step, &next,
		&d.LastStatus, &d.LastError, &created, &updated, &d.OrderKey); err != nil {
		return nil, err
	}
	d.NextAttemptAt, d.CreatedAt, d.UpdatedAt = fromMS(next), fromMS(created), fromMS(updated)
	return &d, nil
}

func scanDeliveries(rows *sql.Rows) ([]*relay.Delivery, error) {
	defer rows.Close()
	var out []*relay.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func attemptLog(ctx context.Context, q querier, deliveryID string) ([]*relay.Attempt, error) {
	rows, err := q.QueryContext(ctx, `SELECT n, started_at, status_code, latency_us, error, response_body
		FROM attempts WHERE delivery_id = ? ORDER BY n`, deliveryID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: attempts: %w", err)
	}
	defer rows.Close()
	var out []*relay.Attempt
	for rows.Next() {
		a := relay.Attempt{DeliveryID: deliveryID}
		var started, latency int64
		if err := rows.Scan(&a.N, &started, &a.StatusCode, &latency, &a.Error, &a.ResponseBody); err != nil {
			return nil, fmt.Errorf("sqlite: attempts: %w", err)
		}
		a.StartedAt = fromMS(started)
		a.Latency = relay.Duration(time.Duration(latency) * time.Microsecond)
		out = append(out, &a)
	}
	return out, rows.Err()
}

// GetDelivery returns the delivery with its attempt log.
func (s *Store) GetDelivery(ctx context.Context, id, orgID string) (*relay.Delivery, error) {
	q := `SELECT ` + deliveryColumns + ` FROM deliveries d WHERE d.id = ?`
	args := []any{id}
	if orgID != "" {
		q += ` AND EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id AND e.org_id = ?)`
		args = append(args, orgID)
	}
	d, err := scanDelivery(s.reader.QueryRowContext(ctx, q, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "delivery %s not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: get delivery: %w", err)
	}
	if d.AttemptLog, err = attemptLog(ctx, s.reader, d.ID); err != nil {
		return nil, err
	}
	return d, nil
}

// ListDeliveries returns one page of deliveries, newest first.
func (s *Store) ListDeliveries(ctx context.Context, f relay.DeliveryFilter) (*relay.Page[*relay.Delivery], error) {
	var where []string
	var args []any
	if f.EventID != "" {
		where, args = append(where, "d.event_id = ?"), append(args, f.EventID)
	}
	if f.DestinationID != "" {
		where, args = append(where, "d.destination_id = ?"), append(args, f.DestinationID)
	}
	if f.Status != "" {
		where, args = append(where, "d.status = ?"), append(args, f.Status)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "d.created_at >= ?"), append(args, ms(f.Since))
	}
	if !f.Until.IsZero() {
		where, args = append(where, "d.created_at < ?"), append(args, ms(f.Until))
	}
	if f.OrgID != "" {
		where = append(where, "EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id AND e.org_id = ?)")
		args = append(args, f.OrgID)
	}
	if f.Cursor != "" {
		where, args = append(where, "d.id < ?"), append(args, f.Cursor)
	}
	limit := relay.PageLimit(f.Limit)
	q := `SELECT ` + deliveryColumns + ` FROM deliveries d`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY d.id DESC LIMIT ?"
	args = append(args, limit+1)
	rows, err := s.reader.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list deliveries: %w", err)
	}
	items, err := scanDeliveries(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list deliveries: %w", err)
	}
	return relay.NewPage(items, limit, func(d *relay.Delivery) string { return d.ID }), nil
}
