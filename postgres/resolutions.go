package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/internal/jsoncolumn"
)

var _ relay.ResolutionStore = (*Store)(nil)

// PairConnection creates or revives the account's connection for c.OrgID
// unless it has a live one (ECONFLICT, with that connection). The insert
// races on the unique (provider, external_id) index; the row is then locked
// by this transaction, so concurrent pairings are decided one at a time.
func (s *Store) PairConnection(ctx context.Context, c *relay.Connection) (*relay.Connection, error) {
	now := c.UpdatedAt
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC()
	meta, err := jsoncolumn.Map(c.Metadata)
	if err != nil {
		return nil, fmt.Errorf("postgres: pair connection: %w", err)
	}
	var existing *relay.Connection
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		existing = nil
		id := relay.NewID("con", now)
		tag, err := tx.Exec(ctx, `INSERT INTO connections (`+connectionColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'epoch', '', $9, $9, NULL)
			ON CONFLICT (provider, external_id) DO NOTHING`, id, c.OrgID, c.Provider, c.ExternalID, c.AccountName,
			relay.ConnectionActive, c.StatusReason, meta, now)
		if err != nil {
			return fmt.Errorf("postgres: pair connection: %w", err)
		}
		if tag.RowsAffected() == 1 {
			c.ID, c.CreatedAt = id, now
		} else {
			old, err := scanConnection(tx.QueryRow(ctx, `SELECT `+connectionColumns+` FROM connections
				WHERE provider = $1 AND external_id = $2 FOR UPDATE`, c.Provider, c.ExternalID))
			if err != nil {
				return fmt.Errorf("postgres: pair connection: %w", err)
			}
			if err := c.RevivePaired(old); err != nil {
				existing = old
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE connections SET org_id = $1, account_name = $2, status = $3, status_reason = $4,
				metadata = $5, token_expires_at = 'epoch', teardown = '', updated_at = $6, deleted_at = NULL WHERE id = $7`,
				c.OrgID, c.AccountName, relay.ConnectionActive, c.StatusReason, meta, now, c.ID); err != nil {
				return fmt.Errorf("postgres: pair connection: %w", err)
			}
		}
		c.Paired(now)
		return bumpGeneration(ctx, tx)
	})
	if existing != nil {
		return existing, err
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// PutResolution upserts the account's latest resolution.
func (s *Store) PutResolution(ctx context.Context, r *relay.Resolution) error {
	cands := jsoncolumn.List(r.Candidates)
	err := s.pool.QueryRow(ctx, `INSERT INTO resolutions
		(provider, account_id, outcome, org_id, connection_id, candidates, resolver, attempts, last_error, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9)
		ON CONFLICT (provider, account_id) DO UPDATE SET outcome = excluded.outcome, org_id = excluded.org_id,
			connection_id = excluded.connection_id, candidates = excluded.candidates, resolver = excluded.resolver,
			attempts = resolutions.attempts + 1, last_error = excluded.last_error, updated_at = excluded.updated_at
		RETURNING attempts`, r.Provider, r.AccountID, r.Outcome, r.OrgID, r.ConnectionID, string(cands), r.Resolver,
		r.LastError, r.UpdatedAt.UTC()).Scan(&r.Attempts)
	if err != nil {
		return fmt.Errorf("postgres: put resolution: %w", err)
	}
	return nil
}

const resolutionColumns = `provider, account_id, outcome, org_id, connection_id, candidates, resolver, attempts, last_error, updated_at`

func scanResolution(row pgx.Row) (*relay.Resolution, error) {
	var r relay.Resolution
	var cands string
	if err := row.Scan(&r.Provider, &r.AccountID, &r.Outcome, &r.OrgID, &r.ConnectionID, &cands, &r.Resolver, &r.Attempts,
		&r.LastError, &r.UpdatedAt); err != nil {
		return nil, err
	}
	var err error
	if r.Candidates, err = jsoncolumn.ParseList(cands); err != nil {
		return nil, fmt.Errorf("candidates: %w", err)
	}
	if len(r.Candidates) == 0 {
		r.Candidates = nil
	}
	return &r, nil
}

// GetResolution returns the account's latest resolution.
func (s *Store) GetResolution(ctx context.Context, provider, accountID string) (*relay.Resolution, error) {
	r, err := scanResolution(s.pool.QueryRow(ctx, `SELECT `+resolutionColumns+` FROM resolutions
		WHERE provider = $1 AND account_id = $2`, provider, accountID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "no resolution of %s account %s", provider, accountID)
	} else if err != nil {
		return nil, fmt.Errorf("postgres: get resolution: %w", err)
	}
	return r, nil
}

// ListResolutions returns the latest resolutions, newest first.
func (s *Store) ListResolutions(ctx context.Context, provider string, limit int) ([]*relay.Resolution, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+resolutionColumns+` FROM resolutions WHERE $1 = '' OR provider = $1
		ORDER BY updated_at DESC, provider, account_id LIMIT $2`, provider, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: list resolutions: %w", err)
	}
	defer rows.Close()
	out := []*relay.Resolution{}
	for rows.Next() {
		r, err := scanResolution(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list resolutions: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list resolutions: %w", err)
	}
	return out, nil
}

// HeldAccounts returns accounts with held events, through the partial
// index of unmatched events.
func (s *Store) HeldAccounts(ctx context.Context, providers []string, limit int) ([]relay.HeldAccount, error) {
	out := []relay.HeldAccount{}
	if len(providers) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT provider, account_id, max(id) FROM events
		WHERE match = 'unmatched' AND provider = ANY($1) GROUP BY provider, account_id ORDER BY provider, account_id LIMIT $2`,
		providers, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: held accounts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h relay.HeldAccount
		if err := rows.Scan(&h.Provider, &h.AccountID, &h.LatestEventID); err != nil {
			return nil, fmt.Errorf("postgres: held accounts: %w", err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: held accounts: %w", err)
	}
	return out, nil
}
