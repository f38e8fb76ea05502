package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/internal/jsoncolumn"
)

var _ relay.BackfillStore = (*Store)(nil)

const backfillColumns = `b.id, b.connection_id, b.org_id, b.provider, b.depth_days, b.entity_types, b.since, b.status, b.reason,
	b.created_at, b.updated_at, b.finished_at,
	(SELECT coalesce(sum(pages), 0) FROM backfill_tasks t WHERE t.backfill_id = b.id),
	(SELECT coalesce(sum(items), 0) FROM backfill_tasks t WHERE t.backfill_id = b.id),
	(SELECT count(*) FROM backfill_tasks t WHERE t.backfill_id = b.id AND t.status = 'failed')`

func scanBackfill(row scanner) (*relay.Backfill, error) {
	var b relay.Backfill
	var types string
	var since, created, updated int64
	var finished sql.NullInt64
	if err := row.Scan(&b.ID, &b.ConnectionID, &b.OrgID, &b.Provider, &b.DepthDays, &types, &since, &b.Status, &b.Reason,
		&created, &updated, &finished, &b.Pages, &b.Items, &b.Failed); err != nil {
		return nil, err
	}
	var err error
	if b.EntityTypes, err = jsoncolumn.ParseList(types); err != nil {
		return nil, fmt.Errorf("entity types: %w", err)
	}
	b.Since, b.CreatedAt, b.UpdatedAt = fromMS(since), fromMS(created), fromMS(updated)
	if finished.Valid {
		t := fromMS(finished.Int64)
		b.FinishedAt = &t
	}
	return &b, nil
}

const taskColumns = `id, backfill_id, resource_id, resource_name, entity_type, status, cursor, pages, items,
	rate_limit_waits, errors, last_error, updated_at`

func scanTask(row scanner) (*relay.BackfillTask, error) {
	var t relay.BackfillTask
	var updated int64
	if err := row.Scan(&t.ID, &t.BackfillID, &t.ResourceID, &t.ResourceName, &t.EntityType, &t.Status, &t.Cursor,
		&t.Pages, &t.Items, &t.RateLimitWaits, &t.Errors, &t.LastError, &updated); err != nil {
		return nil, err
	}
	t.UpdatedAt = fromMS(updated)
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
	err = s.inTx(ctx, "create backfill", func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT id FROM backfills WHERE active_key = ?`, key).Scan(&existing)
		if err == nil {
			return nil
		} else if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: create backfill: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO backfills (id, connection_id, org_id, provider, depth_days, entity_types,
			since, status, reason, active_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?)`,
			b.ID, b.ConnectionID, b.OrgID, b.Provider, b.DepthDays, string(types), ms(b.Since), b.Status, key,
			ms(b.CreatedAt), ms(b.CreatedAt)); err != nil {
			return fmt.Errorf("sqlite: create backfill: %w", err)
		}
		for _, t := range tasks {
			if _, err := tx.ExecContext(ctx, `INSERT INTO backfill_tasks (id, backfill_id, resource_id, resource_name, entity_type,
				status, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				t.ID, b.ID, t.ResourceID, t.ResourceName, t.EntityType, t.Status, ms(b.CreatedAt)); err != nil {
				return fmt.Errorf("sqlite: create backfill task: %w", err)
			}
		}
		return nil
	})
	if err != nil {
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
	b, err := scanBackfill(s.reader.QueryRowContext(ctx, `SELECT `+backfillColumns+` FROM backfills b WHERE b.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !relay.OrgSees(orgID, b.OrgID)) {
		return nil, relay.Errorf(relay.ENOTFOUND, "backfill %s not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: get backfill: %w", err)
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT `+taskColumns+` FROM backfill_tasks WHERE backfill_id = ? ORDER BY resource_name, resource_id, entity_type`, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get backfill tasks: %w", err)
	}
	defer rows.Close()
	b.Tasks = []*relay.BackfillTask{}
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: get backfill tasks: %w", err)
		}
		b.Tasks = append(b.Tasks, t)
	}
	return b, rows.Err()
}

// ListBackfills returns a connection's backfills, newest first.
func (s *Store) ListBackfills(ctx context.Context, connectionID, orgID string) ([]*relay.Backfill, error) {
	q := `SELECT ` + backfillColumns + ` FROM backfills b WHERE b.connection_id = ?`
	args := []any{connectionID}
	if orgID != "" {
		q += ` AND b.org_id = ?`
		args = append(args, orgID)
	}
	rows, err := s.reader.QueryContext(ctx, q+` ORDER BY b.id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list backfills: %w", err)
	}
	defer rows.Close()
	out := []*relay.Backfill{}
	for rows.Next() {
		b, err := scanBackfill(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list backfills: %w", err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// GetBackfillTask returns one task.
func (s *Store) GetBackfillTask(ctx context.Context, id string) (*relay.BackfillTask, error) {
	t, err := scanTask(s.reader.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM backfill_tasks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "backfill task %s not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: get backfill task: %w", err)
	}
	return t, nil
}

// CommitBackfillPage stores a page's events and moves its task's cursor in
// one transaction.
func (s *Store) CommitBackfillPage(ctx context.Context, p *relay.BackfillPage) error {
	return s.CommitBackfillPages(ctx, []*relay.BackfillPage{p})[0]
}

// CommitBackfillPages commits the pages in one transaction, so one commit
// and one fsync serve every page queued meanwhile. Each page of a group
// runs inside its own savepoint: a page that fails is rolled back to it
// alone and the others still commit.
func (s *Store) CommitBackfillPages(ctx context.Context, pages []*relay.BackfillPage) []error {
	errs := make([]error, len(pages))
	payloads := make([][][]byte, len(pages))
	for i, p := range pages {
		payloads[i] = packPayloads(p.Items)
	}
	st, err := s.stmts(ctx)
	if err == nil {
		err = s.inTx(ctx, "commit backfill pages", func(tx *sql.Tx) error {
			if len(pages) == 1 {
				errs[0] = commitBackfillPageTx(ctx, tx, st, pages[0], payloads[0])
				return errs[0] // nothing else to keep: roll back
			}
			for i, p := range pages {
				if _, err := tx.ExecContext(ctx, `SAVEPOINT backfill_page`); err != nil {
					return fmt.Errorf("sqlite: commit backfill page: %w", err)
				}
				if errs[i] = commitBackfillPageTx(ctx, tx, st, p, payloads[i]); errs[i] != nil {
					if _, err := tx.ExecContext(ctx, `ROLLBACK TO backfill_page`); err != nil {
						return fmt.Errorf("sqlite: commit backfill page: roll back: %w", err)
					}
				}
				if _, err := tx.ExecContext(ctx, `RELEASE backfill_page`); err != nil {
					return fmt.Errorf("sqlite: commit backfill page: %w", err)
				}
			}
			return nil
		})
	}
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

// commitBackfillPageTx moves the page's task on and stores its events;
// payloads are its items' payloads as packPayloads packed them.
func commitBackfillPageTx(ctx context.Context, tx *sql.Tx, st *writerStmts, p *relay.BackfillPage, payloads [][]byte) error {
	var backfillID string
	status, cursor := p.TaskAfter()
	err := tx.QueryRowContext(ctx, `UPDATE backfill_tasks SET cursor = ?, status = ?, pages = pages + 1, items = items + ?,
		updated_at = ? WHERE id = ? AND cursor = ? AND status NOT IN ('done', 'failed', 'cancelled') RETURNING backfill_id`,
		cursor, status, len(p.Items), ms(p.Now), p.TaskID, p.PrevCursor).Scan(&backfillID)
	if errors.Is(err, sql.ErrNoRows) {
		return relay.Errorf(relay.ECONFLICT, "backfill task %s moved on or finished", p.TaskID)
	} else if err != nil {
		return fmt.Errorf("sqlite: commit backfill page: %w", err)
	}
	if err := insertEventsTx(rowContext(ctx), tx, st, p.Items, payloads); err != nil {
		return err
	}
	if p.Last {
		return finishIfDone(ctx, tx, backfillID, p.Now)
	}
	return nil
}

// finishIfDone completes an active backfill none of whose tasks is unfinished.
func finishIfDone(ctx context.Context, tx *sql.Tx, backfillID string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE backfills SET status = 'completed', active_key = NULL, updated_at = ?, finished_at = ?
		WHERE id = ? AND status IN ('pending', 'running')
		AND NOT EXISTS (SELECT 1 FROM backfill_tasks WHERE backfill_id = ? AND status NOT IN ('done', 'failed', 'cancelled'))`,
		ms(now), ms(now), backfillID, backfillID)
	if err != nil {
		return fmt.Errorf("sqlite: finish backfill: %w", err)
	}
	return nil
}

// UpdateBackfillTask sets an unfinished task's status, error and waits.
func (s *Store) UpdateBackfillTask(ctx context.Context, id, status, errMsg string, waited bool, now time.Time) error {
	return s.inTx(ctx, "update backfill task", func(tx *sql.Tx) error {
		var backfillID string
		u := relay.NewTaskUpdate(status, errMsg, waited)
		err := tx.QueryRowContext(ctx, `UPDATE backfill_tasks SET status = ?, errors = errors + ?,
			last_error = CASE WHEN ? <> '' THEN ? ELSE last_error END, rate_limit_waits = rate_limit_waits + ?, updated_at = ?
			WHERE id = ? AND status NOT IN ('done', 'failed', 'cancelled') RETURNING backfill_id`,
			status, u.Errors, errMsg, errMsg, u.Waits, ms(now), id).Scan(&backfillID)
		if errors.Is(err, sql.ErrNoRows) {
			return relay.Errorf(relay.ECONFLICT, "backfill task %s is finished or unknown", id)
		} else if err != nil {
			return fmt.Errorf("sqlite: update backfill task: %w", err)
		}
		if u.Finished {
			return finishIfDone(ctx, tx, backfillID, now)
		}
		return nil
	})
}

// StartBackfill moves a pending backfill to running.
func (s *Store) StartBackfill(ctx context.Context, id string, now time.Time) error {
	return s.inTx(ctx, "start backfill", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE backfills SET status = 'running', updated_at = ? WHERE id = ? AND status = 'pending'`,
			ms(now), id); err != nil {
			return fmt.Errorf("sqlite: start backfill: %w", err)
		}
		// A backfill with nothing to fetch (no resources) is done at once.
		return finishIfDone(ctx, tx, id, now)
	})
}

// CancelBackfills cancels a connection's active backfills (or one of them).
func (s *Store) CancelBackfills(ctx context.Context, connectionID, backfillID, reason string, now time.Time) (int, error) {
	n := 0
	err := s.inTx(ctx, "cancel backfills", func(tx *sql.Tx) error {
		q := `SELECT id FROM backfills WHERE connection_id = ? AND status IN ('pending', 'running')`
		args := []any{connectionID}
		if backfillID != "" {
			q += ` AND id = ?`
			args = append(args, backfillID)
		}
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("sqlite: cancel backfills: %w", err)
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: cancel backfills: %w", err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE backfills SET status = 'cancelled', reason = ?, active_key = NULL,
				updated_at = ?, finished_at = ? WHERE id = ?`, reason, ms(now), ms(now), id); err != nil {
				return fmt.Errorf("sqlite: cancel backfills: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE backfill_tasks SET status = 'cancelled', updated_at = ?
				WHERE backfill_id = ? AND status NOT IN ('done', 'failed', 'cancelled')`, ms(now), id); err != nil {
				return fmt.Errorf("sqlite: cancel backfills: %w", err)
			}
		}
		n = len(ids)
		return nil
	})
	return n, err
}

// ActiveBackfills returns the ids of every active backfill.
func (s *Store) ActiveBackfills(ctx context.Context) ([]string, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT id FROM backfills WHERE status IN ('pending', 'running') ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: active backfills: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("sqlite: active backfills: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// Undelivered counts the connection's pending or retrying deliveries, at
// most limit+1. It walks the delivery queue, which backpressure keeps short.
func (s *Store) Undelivered(ctx context.Context, connectionID string, limit int) (int, error) {
	var n int
	err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM deliveries d JOIN events e ON e.id = d.event_id
		WHERE d.status IN ('pending', 'retrying') AND e.connection_id = ? LIMIT ?)`, connectionID, limit+1).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count undelivered: %w", err)
	}
	return n, nil
}
