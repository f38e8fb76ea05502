package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/relayhq/relay"
	"github.com/relayhq/relay/internal/jsoncolumn"
)

var _ relay.BackfillStore = (*Store)(nil)

const backfillColumns = `b.id, b.connection_id, b.org_id, b.provider, b.depth_days, b.entity_types, b.since, b.status, b.reason,
	b.created_at, b.updated_at, b.finished_at,
	(SELECT coalesce(sum(pages), 0)::bigint FROM backfill_tasks t WHERE t.backfill_id = b.id),
	(SELECT coalesce(sum(items), 0)::bigint FROM backfill_tasks t WHERE t.backfill_id = b.id),
	(SELECT count(*) FROM backfill_tasks t WHERE t.backfill_id = b.id AND t.status = 'failed')`

func scanBackfill(row pgx.Row) (*relay.Backfill, error) {
	var b relay.Backfill
	var types string
	var finished *time.Time
	if err := row.Scan(&b.ID, &b.ConnectionID, &b.OrgID, &b.Provider, &b.DepthDays, &types, &b.Since, &b.Status, &b.Reason,
		&b.CreatedAt, &b.UpdatedAt, &finished, &b.Pages, &b.Items, &b.Failed); err != nil {
		return nil, err
	}
	var err error
	if b.EntityTypes, err = jsoncolumn.ParseList(types); err != nil {
		return nil, fmt.Errorf("entity types: %w", err)
	}
	b.Since, b.CreatedAt, b.UpdatedAt = b.Since.UTC(), b.CreatedAt.UTC(), b.UpdatedAt.UTC()
	if finished != nil {
		t := finished.UTC()
		b.FinishedAt = &t
	}
	return &b, nil
}

const taskColumns = `id, backfill_id, resource_id, resource_name, entity_type, status, cursor, pages, items,
	rate_limit_waits, errors, last_error, updated_at`

func scanTask(row pgx.Row) (*relay.BackfillTask, error) {
	var t relay.BackfillTask
	if err := row.Scan(&t.ID, &t.BackfillID, &t.ResourceID, &t.ResourceName, &t.EntityType, &t.Status, &t.Cursor,
		&t.Pages, &t.Items, &t.RateLimitWaits, &t.Errors, &t.LastError, &t.UpdatedAt); err != nil {
		return nil, err
	}
	t.UpdatedAt = t.UpdatedAt.UTC()
	return &t, nil
}

// CreateBackfill stores b and its tasks unless an active backfill of the
// connection has the same parameters, which it returns instead.
func (s *Store) CreateBackfill(ctx context.Context, b *relay.Backfill, tasks []*relay.BackfillTask) (*relay.Backfill, bool, error) {
	types, err := json.Marshal(b.EntityTypes)
	if err != nil {
		return nil, false, err
	}
	key := b.ActiveKey()
	var existing string
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT id FROM backfills WHERE active_key = $1`, key).Scan(&existing)
		if err == nil {
			return nil
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: create backfill: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO backfills (id, connection_id, org_id, provider, depth_days, entity_types,
			since, status, reason, active_key, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '', $9, $10, $11)`,
			b.ID, b.ConnectionID, b.OrgID, b.Provider, b.DepthDays, string(types), b.Since.UTC(), b.Status, key,
			b.CreatedAt.UTC(), b.CreatedAt.UTC()); err != nil {
			return fmt.Errorf("postgres: create backfill: %w", err)
		}
		for _, t := range tasks {
			if _, err := tx.Exec(ctx, `INSERT INTO backfill_tasks (id, backfill_id, resource_id, resource_name, entity_type,
				status, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				t.ID, b.ID, t.ResourceID, t.ResourceName, t.EntityType, t.Status, b.CreatedAt.UTC()); err != nil {
				return fmt.Errorf("postgres: create backfill task: %w", err)
			}
		}
		return nil
	})
	if isUnique(err) {
		// A concurrent request created the same run first.
		if err := s.pool.QueryRow(ctx, `SELECT id FROM backfills WHERE active_key = $1`, key).Scan(&existing); err != nil {
			return nil, false, fmt.Errorf("postgres: create backfill: %w", err)
		}
	} else if err != nil {
		return nil, false, err
	}
	if existing != "" {
		got, err := s.GetBackfill(ctx, existing, "")
		return got, false, err
	}
	got, err := s.GetBackfill(ctx, b.ID, "")
	return got, true, err
}

// GetBackfill returns a backfill with its tasks.
func (s *Store) GetBackfill(ctx context.Context, id, orgID string) (*relay.Backfill, error) {
	b, err := scanBackfill(s.pool.QueryRow(ctx, `SELECT `+backfillColumns+` FROM backfills b WHERE b.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !relay.OrgSees(orgID, b.OrgID)) {
		return nil, relay.Errorf(relay.ENOTFOUND, "backfill %s not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("postgres: get backfill: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+taskColumns+` FROM backfill_tasks WHERE backfill_id = $1 ORDER BY resource_name, resource_id, entity_type`, id)
	if err != nil {
		return nil, fmt.Errorf("postgres: get backfill tasks: %w", err)
	}
	defer rows.Close()
	b.Tasks = []*relay.BackfillTask{}
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: get backfill tasks: %w", err)
		}
		b.Tasks = append(b.Tasks, t)
	}
	return b, rows.Err()
}

// ListBackfills returns a connection's backfills, newest first.
func (s *Store) ListBackfills(ctx context.Context, connectionID, orgID string) ([]*relay.Backfill, error) {
	q := `SELECT ` + backfillColumns + ` FROM backfills b WHERE b.connection_id = $1`
	args := []any{connectionID}
	if orgID != "" {
		q += ` AND b.org_id = $2`
		args = append(args, orgID)
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY b.id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list backfills: %w", err)
	}
	defer rows.Close()
	out := []*relay.Backfill{}
	for rows.Next() {
		b, err := scanBackfill(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list backfills: %w", err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// GetBackfillTask returns one task.
func (s *Store) GetBackfillTask(ctx context.Context, id string) (*relay.BackfillTask, error) {
	t, err := scanTask(s.pool.QueryRow(ctx, `SELECT `+taskColumns+` FROM backfill_tasks WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "backfill task %s not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("postgres: get backfill task: %w", err)
	}
	return t, nil
}

// CommitBackfillPage stores a page's events and moves its task's cursor in
// one transaction.
func (s *Store) CommitBackfillPage(ctx context.Context, p *relay.BackfillPage) error {
	return s.CommitBackfillPages(ctx, []*relay.BackfillPage{p})[0]
}

// CommitBackfillPages commits the pages in one transaction, so one commit
// serves every page queued meanwhile. Each page of a group runs inside its
// own savepoint (pgx's nested transaction): a page that fails is rolled
// back to it alone and the others still commit.
func (s *Store) CommitBackfillPages(ctx context.Context, pages []*relay.BackfillPage) []error {
	errs := make([]error, len(pages))
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if len(pages) == 1 {
			errs[0] = commitBackfillPageTx(ctx, tx, pages[0])
			return errs[0] // nothing else to keep: roll back
		}
		for i, p := range pages {
			sp, err := tx.Begin(ctx)
			if err != nil {
				return fmt.Errorf("postgres: commit backfill page: %w", err)
			}
			if errs[i] = commitBackfillPageTx(ctx, sp, p); errs[i] != nil {
				err = sp.Rollback(ctx)
			} else {
				err = sp.Commit(ctx)
			}
			if err != nil {
				return fmt.Errorf("postgres: commit backfill page: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		// Nothing was stored: every page that had not failed on its own
		// fails with the transaction.
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	return errs
}

// commitBackfillPageTx moves the page's task on and stores its events.
func commitBackfillPageTx(ctx context.Context, tx pgx.Tx, p *relay.BackfillPage) error {
	var backfillID string
	status, cursor := p.TaskAfter()
	err := tx.QueryRow(ctx, `UPDATE backfill_tasks SET cursor = $1, status = $2, pages = pages + 1, items = items + $3,
		updated_at = $4 WHERE id = $5 AND cursor = $6 AND status NOT IN ('done', 'failed', 'cancelled') RETURNING backfill_id`,
		cursor, status, len(p.Items), p.Now.UTC(), p.TaskID, p.PrevCursor).Scan(&backfillID)
	if errors.Is(err, pgx.ErrNoRows) {
		return relay.Errorf(relay.ECONFLICT, "backfill task %s moved on or finished", p.TaskID)
	} else if err != nil {
		return fmt.Errorf("postgres: commit backfill page: %w", err)
	}
	if err := insertEvents(ctx, tx, p.Items); err != nil {
		return err
	}
	if p.Last {
		return finishIfDone(ctx, tx, backfillID, p.Now)
	}
	return nil
}

// finishIfDone completes an active backfill none of whose tasks is unfinished.
func finishIfDone(ctx context.Context, tx pgx.Tx, backfillID string, now time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE backfills SET status = 'completed', active_key = NULL, updated_at = $1, finished_at = $2
		WHERE id = $3 AND status IN ('pending', 'running')
		AND NOT EXISTS (SELECT 1 FROM backfill_tasks WHERE backfill_id = $4 AND status NOT IN ('done', 'failed', 'cancelled'))`,
		now.UTC(), now.UTC(), backfillID, backfillID)
	if err != nil {
		return fmt.Errorf("postgres: finish backfill: %w", err)
	}
	return nil
}

// UpdateBackfillTask sets an unfinished task's status, error and waits.
func (s *Store) UpdateBackfillTask(ctx context.Context, id, status, errMsg string, waited bool, now time.Time) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var backfillID string
		u := relay.NewTaskUpdate(status, errMsg, waited)
		err := tx.QueryRow(ctx, `UPDATE backfill_tasks SET status = $1, errors = errors + $2,
			last_error = CASE WHEN $3 <> '' THEN $4 ELSE last_error END, rate_limit_waits = rate_limit_waits + $5, updated_at = $6
			WHERE id = $7 AND status NOT IN ('done', 'failed', 'cancelled') RETURNING backfill_id`,
			status, u.Errors, errMsg, errMsg, u.Waits, now.UTC(), id).Scan(&backfillID)
		if errors.Is(err, pgx.ErrNoRows) {
			return relay.Errorf(relay.ECONFLICT, "backfill task %s is finished or unknown", id)
		} else if err != nil {
			return fmt.Errorf("postgres: update backfill task: %w", err)
		}
		if u.Finished {
			return finishIfDone(ctx, tx, backfillID, now)
		}
		return nil
	})
}

// StartBackfill moves a pending backfill to running.
func (s *Store) StartBackfill(ctx context.Context, id string, now time.Time) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE backfills SET status = 'running', updated_at = $1 WHERE id = $2 AND status = 'pending'`,
			now.UTC(), id); err != nil {
			return fmt.Errorf("postgres: start backfill: %w", err)
		}
		// A backfill with nothing to fetch (no resources) is done at once.
		return finishIfDone(ctx, tx, id, now)
	})
}

// CancelBackfills cancels a connection's active backfills (or one of them).
func (s *Store) CancelBackfills(ctx context.Context, connectionID, backfillID, reason string, now time.Time) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := `SELECT id FROM backfills WHERE connection_id = $1 AND status IN ('pending', 'running')`
		args := []any{connectionID}
		if backfillID != "" {
			q += ` AND id = $2`
			args = append(args, backfillID)
		}
		rows, err := tx.Query(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("postgres: cancel backfills: %w", err)
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("postgres: cancel backfills: %w", err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("postgres: cancel backfills: %w", err)
		}
		for _, id := range ids {
			if _, err := tx.Exec(ctx, `UPDATE backfills SET status = 'cancelled', reason = $1, active_key = NULL,
				updated_at = $2, finished_at = $3 WHERE id = $4`, reason, now.UTC(), now.UTC(), id); err != nil {
				return fmt.Errorf("postgres: cancel backfills: %w", err)
			}
			if _, err := tx.Exec(ctx, `UPDATE backfill_tasks SET status = 'cancelled', updated_at = $1
				WHERE backfill_id = $2 AND status NOT IN ('done', 'failed', 'cancelled')`, now.UTC(), id); err != nil {
				return fmt.Errorf("postgres: cancel backfills: %w", err)
			}
		}
		n = len(ids)
		return nil
	})
	return n, err
}

// ActiveBackfills returns the ids of every active backfill.
func (s *Store) ActiveBackfills(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM backfills WHERE status IN ('pending', 'running') ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: active backfills: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("postgres: active backfills: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// Undelivered counts the connection's pending or retrying deliveries, at
// most limit+1. It walks the delivery queue, which backpressure keeps short.
func (s *Store) Undelivered(ctx context.Context, connectionID string, limit int) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM deliveries d JOIN events e ON e.id = d.event_id
		WHERE d.status IN ('pending', 'retrying') AND e.connection_id = $1 LIMIT $2) AS q`, connectionID, limit+1).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: count undelivered: %w", err)
	}
	return n, nil
}
