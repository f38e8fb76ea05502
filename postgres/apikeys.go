package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/relayhq/relay"
)

// apiKeyColumns are the columns scanAPIKey reads, in its order.
const apiKeyColumns = `id, org_id, name, prefix, hash, created_at, last_used_at`

func scanAPIKey(row pgx.Row) (*relay.APIKey, error) {
	var k relay.APIKey
	var used *time.Time
	if err := row.Scan(&k.ID, &k.OrgID, &k.Name, &k.Prefix, &k.Hash, &k.CreatedAt, &used); err != nil {
		return nil, err
	}
	k.CreatedAt = k.CreatedAt.UTC()
	if used != nil {
		k.LastUsedAt = used.UTC()
	}
	return &k, nil
}

// ListAPIKeys returns the keys of org orgID ("" = every key), oldest first.
func (s *Store) ListAPIKeys(ctx context.Context, orgID string) ([]*relay.APIKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys
		WHERE $1::text = '' OR org_id = $1 ORDER BY created_at, id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("postgres: list api keys: %w", err)
	}
	defer rows.Close()
	out := []*relay.APIKey{}
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list api keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list api keys: %w", err)
	}
	return out, nil
}

// RevokeAPIKey deletes a key (of org orgID when it is not ""); the last
// admin key is ECONFLICT. Replicas revoking admin keys at once serialise on
// the admin-key advisory lock, so they cannot both take the last two.
func (s *Store) RevokeAPIKey(ctx context.Context, id, orgID string) (*relay.APIKey, error) {
	var k *relay.APIKey
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('relay-admin-key'))`); err != nil {
			return err
		}
		var err error
		k, err = scanAPIKey(tx.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys
			WHERE id = $1 AND ($2::text = '' OR org_id = $2)`, id, orgID))
		if errors.Is(err, pgx.ErrNoRows) {
			return relay.Errorf(relay.ENOTFOUND, "API key %s not found", id)
		} else if err != nil {
			return err
		}
		if k.IsAdmin() {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE org_id = ''`).Scan(&n); err != nil {
				return err
			}
			if err := k.CanRevoke(n); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `DELETE FROM api_keys WHERE id = $1`, id)
		return err
	})
	if err != nil {
		if relay.ErrorCode(err) != relay.EINTERNAL {
			return nil, err
		}
		return nil, fmt.Errorf("postgres: revoke api key: %w", err)
	}
	return k, nil
}

// TouchAPIKey records the key's use at `at`, unless a use less than
// relay.APIKeyUsageResolution before it is recorded already.
func (s *Store) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	if _, err := s.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = $2
		WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)`,
		id, at.UTC(), at.Add(-relay.APIKeyUsageResolution).UTC()); err != nil {
		return fmt.Errorf("postgres: touch api key: %w", err)
	}
	return nil
}
