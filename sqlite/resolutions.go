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

var _ relay.ResolutionStore = (*Store)(nil)

// PairConnection creates or revives the account's connection for c.OrgID
// unless it has a live one (ECONFLICT, with that connection). The store's
// single writer serializes concurrent pairings; the unique (provider,
// external_id) index backs it.
func (s *Store) PairConnection(ctx context.Context, c *relay.Connection) (*relay.Connection, error) {
	now := c.UpdatedAt
	if now.IsZero() {
		now = time.Now().UTC()
	}
	meta, err := jsoncolumn.Map(c.Metadata)
	if err != nil {
		return nil, fmt.Errorf("sqlite: pair connection: %w", err)
	}
	var existing *relay.Connection
	err = s.inTx(ctx, "pair connection", func(tx *sql.Tx) error {
		old, err := scanConnection(tx.QueryRowContext(ctx, `SELECT `+connectionColumns+` FROM connections
			WHERE provider = ? AND external_id = ?`, c.Provider, c.ExternalID))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			c.ID, c.CreatedAt = relay.NewID("con", now), now
			if _, err := tx.ExecContext(ctx, `INSERT INTO connections (`+connectionColumns+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, '', ?, ?, NULL)`, c.ID, c.OrgID, c.Provider, c.ExternalID, c.AccountName,
				relay.ConnectionActive, c.StatusReason, meta, ms(now), ms(now)); err != nil {
				return fmt.Errorf("sqlite: pair connection: %w", err)
			}
		case err != nil:
			return fmt.Errorf("sqlite: pair connection: %w", err)
		default:
			if err := c.RevivePaired(old); err != nil {
				existing = old
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE connections SET org_id = ?, account_name = ?, status = ?, status_reason = ?,
				metadata = ?, token_expires_at = 0, teardown = '', updated_at = ?, deleted_at = NULL WHERE id = ?`,
				c.OrgID, c.AccountName, relay.ConnectionActive, c.StatusReason, meta, ms(now), c.ID); err != nil {
				return fmt.Errorf("sqlite: pair connection: %w", err)
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
	err := s.writer.QueryRowContext(ctx, `INSERT INTO resolutions
		(provider, account_id, outcome, org_id, connection_id, candidates, resolver, attempts, last_error, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
		ON CONFLICT (provider, account_id) DO UPDATE SET outcome = excluded.outcome, org_id = excluded.org_id,
			connection_id = excluded.connection_id, candidates = excluded.candidates, resolver = excluded.resolver,
			attempts = resolutions.attempts + 1, last_error = excluded.last_error, updated_at = excluded.updated_at
		RETURNING attempts`, r.Provider, r.AccountID, r.Outcome, r.OrgID, r.ConnectionID, string(cands), r.Resolver,
		r.LastError, ms(r.UpdatedAt)).Scan(&r.Attempts)
	if err != nil {
		return fmt.Errorf("sqlite: put resolution: %w", err)
	}
	return nil
}

const resolutionColumns = `provider, account_id, outcome, org_id, connection_id, candidates, resolver, attempts, last_error, updated_at`

func scanResolution(row scanner) (*relay.Resolution, error) {
	var r relay.Resolution
	var cands string
	var updated int64
	if err := row.Scan(&r.Provider, &r.AccountID, &r.Outcome, &r.OrgID, &r.ConnectionID, &cands, &r.Resolver, &r.Attempts,
		&r.LastError, &updated); err != nil {
		return nil, err
	}
	var err error
	if r.Candidates, err = jsoncolumn.ParseList(cands); err != nil {
		return nil, fmt.Errorf("candidates: %w", err)
	}
	if len(r.Candidates) == 0 {
		r.Candidates = nil
	}
	r.UpdatedAt = fromMS(updated)
	return &r, nil
}

// GetResolution returns the account's latest resolution.
func (s *Store) GetResolution(ctx context.Context, provider, accountID string) (*relay.Resolution, error) {
	r, err := scanResolution(s.reader.QueryRowContext(ctx, `SELECT `+resolutionColumns+` FROM resolutions
		WHERE provider = ? AND account_id = ?`, provider, accountID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "no resolution of %s account %s", provider, accountID)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: get resolution: %w", err)
	}
	return r, nil
}

// ListResolutions returns the latest resolutions, newest first.
func (s *Store) ListResolutions(ctx context.Context, provider string, limit int) ([]*relay.Resolution, error) {
	q, args := `SELECT `+resolutionColumns+` FROM resolutions`, []any{}
	if provider != "" {
		q, args = q+` WHERE provider = ?`, append(args, provider)
	}
	rows, err := s.reader.QueryContext(ctx, q+` ORDER BY updated_at DESC, provider, account_id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list resolutions: %w", err)
	}
	defer rows.Close()
	out := []*relay.Resolution{}
	for rows.Next() {
		r, err := scanResolution(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list resolutions: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list resolutions: %w", err)
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
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(providers)), ", ")
	args := make([]any, 0, len(providers)+1)
	for _, p := range providers {
		args = append(args, p)
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT provider, account_id, max(id) FROM events
		WHERE match = 'unmatched' AND provider IN (`+ph+`) GROUP BY provider, account_id ORDER BY provider, account_id LIMIT ?`,
		append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: held accounts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h relay.HeldAccount
		if err := rows.Scan(&h.Provider, &h.AccountID, &h.LatestEventID); err != nil {
			return nil, fmt.Errorf("sqlite: held accounts: %w", err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: held accounts: %w", err)
	}
	return out, nil
}
