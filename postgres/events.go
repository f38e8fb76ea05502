package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/relayhq/relay"
	"github.com/relayhq/relay/internal/jsoncolumn"
)

// InsertEvents stores the batch in one transaction with two round trips:
// all events, then the deliveries of the new ones.
func (s *Store) InsertEvents(ctx context.Context, items []*relay.IngestItem) error {
	if len(items) == 0 {
		return nil
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return insertEventsTx(ctx, tx, items) })
}

// insertEventsTx is InsertEvents inside the caller's transaction.
func insertEventsTx(ctx context.Context, tx pgx.Tx, items []*relay.IngestItem) error {
	b := &pgx.Batch{}
	for _, it := range items {
		it.Duplicate = false
		e := it.Event
		headers, err := marshalHeaders(e.Headers)
		if err != nil {
			return err
		}
		// Inserted → its id and true; already there (earlier, or earlier
		// in this batch) → the existing id and false. No conflict target: a
		// taken (provider, delivery_id) and a taken (provider, body_key)
		// both make the event a duplicate.
		b.Queue(`WITH ins AS (
				INSERT INTO events (id, provider, delivery_id, event_type, source, account_id, resource_id,
					org_id, connection_id, headers, payload, received_at, match, body_key)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
				ON CONFLICT DO NOTHING RETURNING id)
			SELECT id, true FROM ins
			UNION ALL
			(SELECT id, false FROM events WHERE provider = $2 AND delivery_id = $3 AND NOT EXISTS (SELECT 1 FROM ins)
			UNION ALL
			SELECT id, false FROM events WHERE provider = $2 AND body_key = $14 AND body_key <> '' AND NOT EXISTS (SELECT 1 FROM ins))
			LIMIT 1`,
			e.ID, e.Provider, e.DeliveryID, e.EventType, e.Source, e.AccountID, e.ResourceID, e.OrgID,
			e.ConnectionID, headers, []byte(e.Payload), relay.EventTime(e.ReceivedAt), e.Match, e.BodyKey)
	}
	br := tx.SendBatch(ctx, b)
	var reread []*relay.IngestItem
	for _, it := range items {
		var id string
		var inserted bool
		err := br.QueryRow().Scan(&id, &inserted)
		if errors.Is(err, pgx.ErrNoRows) {
			// A concurrent transaction inserted it and committed after this
			// statement's snapshot: a duplicate whose id we read below.
			it.Duplicate = true
			reread = append(reread, it)
			continue
		} else if err != nil {
			br.Close()
			return fmt.Errorf("postgres: insert event: %w", err)
		}
		it.Duplicate = !inserted
		it.Event.ID = id
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("postgres: insert events: %w", err)
	}

	b = &pgx.Batch{}
	for _, it := range reread {
		// A new statement has a fresh snapshot that sees the committed row.
		b.Queue(`SELECT id FROM events WHERE provider = $1 AND delivery_id = $2
			UNION ALL SELECT id FROM events WHERE provider = $1 AND body_key = $3 AND body_key <> ''
			LIMIT 1`, it.Event.Provider, it.Event.DeliveryID, it.Event.BodyKey).
			QueryRow(func(row pgx.Row) error { return row.Scan(&it.Event.ID) })
	}
	for _, it := range items {
		if it.Duplicate {
			continue
		}
		for _, d := range it.Deliveries {
			d.EventID = it.Event.ID
			// An ordered delivery is never leased here: only ClaimDue
			// checks that its turn has come.
			owner, leaseUntil := "", epoch
			if it.LeaseOwner != "" && !d.Ordered() {
				owner, leaseUntil = it.LeaseOwner, it.LeaseUntil.UTC()
				d.NextAttemptAt = it.LeaseUntil // leased: due again only if its lease runs out
			}
			b.Queue(`INSERT INTO deliveries (id, event_id, destination_id, status, source, next_attempt_at,
					lease_owner, lease_until, created_at, updated_at, order_key)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
				d.ID, d.EventID, d.DestinationID, d.Status, d.Source, d.NextAttemptAt.UTC(),
				owner, leaseUntil, d.CreatedAt.UTC(), d.UpdatedAt.UTC(), d.OrderKey)
		}
	}
	if b.Len() > 0 {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("postgres: insert deliveries: %w", err)
		}
	}
	return nil
}

func marshalHeaders(h map[string]string) (string, error) {
	s, err := jsoncolumn.Map(h)
	if err != nil {
		return "", fmt.Errorf("postgres: headers: %w", err)
	}
	return s, nil
}

const eventColumns = `e.id, e.provider, e.delivery_id, e.event_type, e.source, e.account_id, e.resource_id,
	e.org_id, e.connection_id, e.match, e.headers, e.payload, e.received_at`

func scanEvent(row pgx.Row) (*relay.Event, error) {
	var e relay.Event
	var headers string
	var payload []byte
	var received time.Time
	if err := row.Scan(&e.ID, &e.Provider, &e.DeliveryID, &e.EventType, &e.Source, &e.AccountID, &e.ResourceID,
		&e.OrgID, &e.ConnectionID, &e.Match, &headers, &payload, &received); err != nil {
		return nil, err
	}
	var err error
	if e.Headers, err = jsoncolumn.ParseMap(headers); err != nil {
		return nil, fmt.Errorf("headers: %w", err)
	}
	e.Payload = payload
	e.ReceivedAt = received.UTC()
	return &e, nil
}

// GetEvent returns the event with its deliveries and their attempt logs.
func (s *Store) GetEvent(ctx context.Context, id, orgID string) (*relay.Event, error) {
	e, err := scanEvent(s.pool.QueryRow(ctx, `SELECT `+eventColumns+` FROM events e WHERE e.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !relay.OrgSees(orgID, e.OrgID)) {
		return nil, relay.Errorf(relay.ENOTFOUND, "event %s not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("postgres: get event: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries d WHERE d.event_id = $1 ORDER BY d.id`, id)
	if err != nil {
		return nil, fmt.Errorf("postgres: get event: %w", err)
	}
	if e.Deliveries, err = scanDeliveries(rows); err != nil {
		return nil, fmt.Errorf("postgres: get event: %w", err)
	}
	for _, d := range e.Deliveries {
		if d.AttemptLog, err = s.attemptLog(ctx, d.ID); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// where builds a WHERE clause with numbered parameters.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, strings.ReplaceAll(cond, "?", fmt.Sprintf("$%d", len(w.args))))
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// globToLike turns an event-type glob ("issues.*") into a LIKE pattern.
func globToLike(g string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`, `*`, `%`, `?`, `_`)
	return r.Replace(g)
}

// ListEvents returns one page of events, newest first.
func (s *Store) ListEvents(ctx context.Context, f relay.EventFilter) (*relay.Page[*relay.Event], error) {
	var w where
	if f.Provider != "" {
		w.add("e.provider = ?", f.Provider)
	}
	if f.EventType != "" {
		w.add(`e.event_type LIKE ? ESCAPE '\'`, globToLike(f.EventType))
	}
	if f.Status != "" {
		w.add("EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status = ?)", f.Status)
	}
	if !f.Since.IsZero() {
		w.add("e.received_at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		w.add("e.received_at < ?", f.Until.UTC())
	}
	if f.OrgID != "" {
		w.add("e.org_id = ?", f.OrgID)
	}
	if f.Cursor != "" {
		w.add("e.id < ?", f.Cursor)
	}
	limit := relay.PageLimit(f.Limit)
	w.args = append(w.args, limit+1)
	q := `SELECT ` + eventColumns + ` FROM events e` + w.sql() + fmt.Sprintf(` ORDER BY e.id DESC LIMIT $%d`, len(w.args))
	rows, err := s.pool.Query(ctx, q, w.args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list events: %w", err)
	}
	defer rows.Close()
	var items []*relay.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list events: %w", err)
		}
		items = append(items, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list events: %w", err)
	}
	return relay.NewPage(items, limit, func(e *relay.Event) string { return e.ID }), nil
}

const deliveryColumns = `d.id, d.event_id, d.destination_id, d.status, d.source, d.attempts, d.step, d.next_attempt_at,
	d.last_status, d.last_error, d.created_at, d.updated_at, d.order_key`

func scanDelivery(row pgx.Row) (*relay.Delivery, error) {
	var d relay.Delivery
	var next, created, updated time.Time
	if err := row.Scan(&d.ID, &d.EventID, &d.DestinationID, &d.Status, &d.Source, &d.Attempts, &d.Step, &next,
		&d.LastStatus, &d.LastError, &created, &updated, &d.OrderKey); err != nil {
		return nil, err
	}
	d.NextAttemptAt, d.CreatedAt, d.UpdatedAt = fromTS(next), created.UTC(), updated.UTC()
	return &d, nil
}

func scanDeliveries(rows pgx.Rows) ([]*relay.Delivery, error) {
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

func (s *Store) attemptLog(ctx context.Context, deliveryID string) ([]*relay.Attempt, error) {
	rows, err := s.pool.Query(ctx, `SELECT n, started_at, status_code, latency_us, error, response_body
		FROM attempts WHERE delivery_id = $1 ORDER BY n`, deliveryID)
	if err != nil {
		return nil, fmt.Errorf("postgres: attempts: %w", err)
	}
	defer rows.Close()
	var out []*relay.Attempt
	for rows.Next() {
		a := relay.Attempt{DeliveryID: deliveryID}
		var started time.Time
		var latency int64
		if err := rows.Scan(&a.N, &started, &a.StatusCode, &latency, &a.Error, &a.ResponseBody); err != nil {
			return nil, fmt.Errorf("postgres: attempts: %w", err)
		}
		a.StartedAt = started.UTC()
		a.Latency = relay.Duration(time.Duration(latency) * time.Microsecond)
		out = append(out, &a)
	}
	return out, rows.Err()
}

// GetDelivery returns the delivery with its attempt log.
func (s *Store) GetDelivery(ctx context.Context, id, orgID string) (*relay.Delivery, error) {
	q := `SELECT ` + deliveryColumns + ` FROM deliveries d WHERE d.id = $1`
	args := []any{id}
	if orgID != "" {
		q += ` AND EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id AND e.org_id = $2)`
		args = append(args, orgID)
	}
	d, err := scanDelivery(s.pool.QueryRow(ctx, q, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "delivery %s not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("postgres: get delivery: %w", err)
	}
	if d.AttemptLog, err = s.attemptLog(ctx, d.ID); err != nil {
		return nil, err
	}
	return d, nil
}

// ListDeliveries returns one page of deliveries, newest first.
func (s *Store) ListDeliveries(ctx context.Context, f relay.DeliveryFilter) (*relay.Page[*relay.Delivery], error) {
	var w where
	if f.EventID != "" {
		w.add("d.event_id = ?", f.EventID)
	}
	if f.DestinationID != "" {
		w.add("d.destination_id = ?", f.DestinationID)
	}
	if f.Status != "" {
		w.add("d.status = ?", f.Status)
	}
	if !f.Since.IsZero() {
		w.add("d.created_at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		w.add("d.created_at < ?", f.Until.UTC())
	}
	if f.OrgID != "" {
		w.add("EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id AND e.org_id = ?)", f.OrgID)
	}
	if f.Cursor != "" {
		w.add("d.id < ?", f.Cursor)
	}
	limit := relay.PageLimit(f.Limit)
	w.args = append(w.args, limit+1)
	q := `SELECT ` + deliveryColumns + ` FROM deliveries d` + w.sql() + fmt.Sprintf(` ORDER BY d.id DESC LIMIT $%d`, len(w.args))
	rows, err := s.pool.Query(ctx, q, w.args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list deliveries: %w", err)
	}
	items, err := scanDeliveries(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: list deliveries: %w", err)
	}
	return relay.NewPage(items, limit, func(d *relay.Delivery) string { return d.ID }), nil
}
