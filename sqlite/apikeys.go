package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/relayhq/relay"
)

// apiKeyColumns are the columns scanAPIKey reads, in its order.
const apiKeyColumns = `id, org_id, name, prefix, hash, created_at, last_used_at`

func scanAPIKey(row interface{ Scan(...any) error }) (*relay.APIKey, error) {
	var k relay.APIKey
	var created, used int64
	if err := row.Scan(&k.ID, &k.OrgID, &k.Name, &k.Prefix, &k.Hash, &created, &used); err != nil {
		return nil, err
	}
	k.CreatedAt, k.LastUsedAt = fromMS(created), fromMS(used)
	return &k, nil
}

// ListAPIKeys returns the keys of org orgID ("" = every key), oldest first.
func (s *Store) ListAPIKeys(ctx context.Context, orgID string) ([]*relay.APIKey, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys
		WHERE ? = '' OR org_id = ? ORDER BY created_at, id`, orgID, orgID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list api keys: %w", err)
	}
	defer rows.Close()
	out := []*relay.APIKey{}
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list api keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list api keys: %w", err)
	}
	return out, nil
}

// RevokeAPIKey deletes a key (of org orgID when it is not ""); the last
// admin key is ECONFLICT. The check and the delete share the one writer's
// transaction, so two revocations cannot both take the last two admin keys.
func (s *Store) RevokeAPIKey(ctx context.Context, id, orgID string) (*relay.APIKey, error) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: revoke api key: %w", err)
	}
	defer tx.Rollback()
	k, err := scanAPIKey(tx.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys
		WHERE id = ? AND (? = '' OR org_id = ?)`, id, orgID, orgID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "API key %s not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: revoke api key: %w", err)
	}
	if k.IsAdmin() {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM api_keys WHERE org_id = ''`).Scan(&n); err != nil {
			return nil, fmt.Errorf("sqlite: revoke api key: %w", err)
		}
		if err := k.CanRevoke(n); err != nil {
			return nil, err
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM api_keys WHERE id = ?`, id); err != nil {
		return nil, fmt.Errorf("sqlite: revoke api key: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlite: revoke api key: %w", err)
	}
	return k, nil
}

// TouchAPIKey records the key's use at `at`, unless a use less than
// relay.APIKeyUsageResolution before it is recorded already.
func (s *Store) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	if _, err := s.writer.ExecContext(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ? AND last_used_at <= ?`,
		ms(at), id, ms(at.Add(-relay.APIKeyUsageResolution))); err != nil {
		return fmt.Errorf("sqlite: touch api key: %w", err)
	}
	return nil
}
