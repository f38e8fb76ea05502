package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/relayhq/relay"
	"github.com/relayhq/relay/internal/jsoncolumn"
)

// InsertEvents stores the batch with one statement, which is one round trip
// and a transaction of its own: all events, and the deliveries of the new
// ones, or nothing.
func (s *Store) InsertEvents(ctx context.Context, items []*relay.IngestItem) error {
	if len(items) == 0 {
		return nil
	}
	return insertEvents(ctx, s.pool, items)
}

// querier is the part of a pool or a transaction that insertEvents uses.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// insertEventsSQL inserts the events given as arrays ($1–$14), and the
// deliveries ($15–$25) of those it inserted, and returns the position (from
// 1) of each event it did not insert with the id of the event already
// stored, as its snapshot sees it. An event is not inserted when a taken
// (provider, delivery_id) or a taken (provider, body_key) makes it a
// duplicate — hence no conflict target — of an event stored before, of one
// earlier in the batch (which the snapshot does not show: NULL), or of one
// a concurrent transaction committed after the snapshot was taken (NULL).
// Rows are unnested from arrays so that the cost per statement (parse,
// plan, executor start-up, round trip) is paid once per batch rather than
// once per event.
const insertEventsSQL = `WITH input AS (
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::text[], $9::text[], $10::text[], $11::bytea[], $12::timestamptz[], $13::text[], $14::text[]) WITH ORDINALITY
			AS t(id, provider, delivery_id, event_type, source, account_id, resource_id, org_id, connection_id,
				headers, payload, received_at, match, body_key, ord)),
	ins AS (
		INSERT INTO events (id, provider, delivery_id, event_type, source, account_id, resource_id, org_id,
			connection_id, headers, payload, received_at, match, body_key)
		SELECT id, provider, delivery_id, event_type, source, account_id, resource_id, org_id,
			connection_id, headers, payload, received_at, match, body_key
		FROM input ORDER BY ord
		ON CONFLICT DO NOTHING RETURNING id),
	dlv AS (
		INSERT INTO deliveries (id, event_id, destination_id, status, source, next_attempt_at,
			lease_owner, lease_until, created_at, updated_at, order_key)
		SELECT * FROM unnest($15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::timestamptz[],
			$21::text[], $22::timestamptz[], $23::timestamptz[], $24::timestamptz[], $25::text[])
			AS d(id, event_id, destination_id, status, source, next_attempt_at,
				lease_owner, lease_until, created_at, updated_at, order_key)
		WHERE d.event_id IN (SELECT id FROM ins))
	SELECT t.ord, coalesce(
		(SELECT e.id FROM events e WHERE e.provider = t.provider AND e.delivery_id = t.delivery_id),
		(SELECT e.id FROM events e WHERE e.provider = t.provider AND e.body_key = t.body_key AND e.body_key <> ''))
	FROM input t WHERE NOT EXISTS (SELECT 1 FROM ins WHERE ins.id = t.id)`

// insertEvents stores items with insertEventsSQL through q, and sets each
// item's Duplicate and, for a duplicate, its event's id to the stored one's.
func insertEvents(ctx context.Context, q querier, items []*relay.IngestItem) error {
	n := len(items)
	eID, eProvider, eDeliveryID, eType, eSource := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	eAccount, eResource, eOrg, eConn := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	eHeaders, eMatch, eBodyKey := make([]string, n), make([]string, n), make([]string, n)
	ePayload, eReceived := make([][]byte, n), make([]time.Time, n)
	var (
		dID, dEvent, dDest, dStatus, dSource, dOwner, dOrderKey []string
		dNext, dLeaseUntil, dCreated, dUpdated                  []time.Time
	)
	for i, it := range items {
		e := it.Event
		headers, err := marshalHeaders(e.Headers)
		if err != nil {
			return err
		}
		eID[i], eProvider[i], eDeliveryID[i], eType[i], eSource[i] = e.ID, e.Provider, e.DeliveryID, e.EventType, e.Source
		eAccount[i], eResource[i], eOrg[i], eConn[i] = e.AccountID, e.ResourceID, e.OrgID, e.ConnectionID
		eHeaders[i], eMatch[i], eBodyKey[i] = headers, e.Match, e.BodyKey
		ePayload[i], eReceived[i] = []byte(e.Payload), relay.EventTime(e.ReceivedAt)
		for _, d := range it.Deliveries {
			next, owner, leaseUntil := deliveryLease(it, d)
			dID, dEvent, dDest = append(dID, d.ID), append(dEvent, e.ID), append(dDest, d.DestinationID)
			dStatus, dSource, dOwner = append(dStatus, d.Status), append(dSource, d.Source), append(dOwner, owner)
			dOrderKey, dNext, dLeaseUntil = append(dOrderKey, d.OrderKey), append(dNext, next.UTC()), append(dLeaseUntil, leaseUntil)
			dCreated, dUpdated = append(dCreated, d.CreatedAt.UTC()), append(dUpdated, d.UpdatedAt.UTC())
		}
	}
	rows, err := q.Query(ctx, insertEventsSQL,
		eID, eProvider, eDeliveryID, eType, eSource, eAccount, eResource, eOrg, eConn, eHeaders, ePayload, eReceived, eMatch, eBodyKey,
		dID, dEvent, dDest, dStatus, dSource, dNext, dOwner, dLeaseUntil, dCreated, dUpdated, dOrderKey)
	if err != nil {
		return fmt.Errorf("postgres: insert events: %w", err)
	}
	stored := map[int]string{} // position of a duplicate → the stored event's id, or "" if not seen
	var ord int64
	var id pgtype.Text
	if _, err := pgx.ForEachRow(rows, []any{&ord, &id}, func() error {
		stored[int(ord)-1] = id.String
		return nil
	}); err != nil {
		return fmt.Errorf("postgres: insert events: %w", err)
	}

	// Inserted events: their deliveries were written as planned.
	inserted := map[string]*relay.Event{} // provider, then delivery id or body key → an event inserted now
	for i, it := range items {
		_, it.Duplicate = stored[i]
		if it.Duplicate {
			continue
		}
		e := it.Event
		inserted[e.Provider+"\x00d"+e.DeliveryID] = e
		if e.BodyKey != "" {
			inserted[e.Provider+"\x00b"+e.BodyKey] = e
		}
		for _, d := range it.Deliveries {
			d.EventID = e.ID
			d.NextAttemptAt, _, _ = deliveryLease(it, d)
		}
	}
	for i, id := range stored {
		e := items[i].Event
		switch {
		case id != "":
			e.ID = id
		case inserted[e.Provider+"\x00d"+e.DeliveryID] != nil:
			e.ID = inserted[e.Provider+"\x00d"+e.DeliveryID].ID
		case e.BodyKey != "" && inserted[e.Provider+"\x00b"+e.BodyKey] != nil:
			e.ID = inserted[e.Provider+"\x00b"+e.BodyKey].ID
		default:
			// A concurrent transaction inserted it and committed after the
			// statement's snapshot: a new statement has a fresh snapshot
			// that sees the committed row.
			err := q.QueryRow(ctx, `SELECT id FROM events WHERE provider = $1 AND delivery_id = $2
				UNION ALL SELECT id FROM events WHERE provider = $1 AND body_key = $3 AND body_key <> ''
				LIMIT 1`, e.Provider, e.DeliveryID, e.BodyKey).Scan(&e.ID)
			if err != nil {
				return fmt.Errorf("postgres: insert events: duplicate of %s/%s: %w", e.Provider, e.DeliveryID, err)
			}
		}
	}
	return nil
}

// deliveryLease returns the due time, lease owner and lease end that d is
// written with. An ordered delivery is never leased here: only ClaimDue
// checks that its turn has come. A leased one is due again only if its
// lease runs out.
func deliveryLease(it *relay.IngestItem, d *relay.Delivery) (next time.Time, owner string, leaseUntil time.Time) {
	if it.LeaseOwner != "" && !d.Ordered() {
		return it.LeaseUntil, it.LeaseOwner, it.LeaseUntil.UTC()
	}
	return d.NextAttemptAt, "", epoch
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

// claimEventColumns is eventColumns for claims, without the headers: a
// delivery does not send the provider's headers.
var claimEventColumns = strings.Replace(eventColumns, "e.headers", "'{}'::text", 1)

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
