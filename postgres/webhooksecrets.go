package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/relayhq/relay"
)

var _ relay.WebhookSecretStore = (*Store)(nil)

// PutWebhookSecret stores the connection's webhook secret, replacing any it
// had. ENOTFOUND when the connection does not exist; ECONFLICT when another
// connection holds the same provider webhook id.
func (s *Store) PutWebhookSecret(ctx context.Context, w *relay.SealedWebhookSecret) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM connections WHERE id = $1`, w.ConnectionID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return relay.Errorf(relay.ENOTFOUND, "connection %s not found", w.ConnectionID)
		} else if err != nil {
			return fmt.Errorf("postgres: put webhook secret: %w", err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO webhook_secrets (connection_id, provider, webhook_id, account_id, key_id, ciphertext, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (connection_id) DO UPDATE SET provider = excluded.provider, webhook_id = excluded.webhook_id,
				account_id = excluded.account_id, key_id = excluded.key_id, ciphertext = excluded.ciphertext, created_at = excluded.created_at`,
			w.ConnectionID, w.Provider, w.WebhookID, w.AccountID, w.Sealed.KeyID, w.Sealed.Ciphertext, ts(w.CreatedAt))
		if isUnique(err) {
			return relay.Errorf(relay.ECONFLICT, "%s webhook %s belongs to another connection", w.Provider, w.WebhookID)
		} else if err != nil {
			return fmt.Errorf("postgres: put webhook secret: %w", err)
		}
		return nil
	})
}

const webhookSecretColumns = `w.connection_id, w.provider, w.webhook_id, w.account_id, w.key_id, w.ciphertext, w.created_at`

// FindWebhookSecret returns the secret of a live connection's webhook.
func (s *Store) FindWebhookSecret(ctx context.Context, provider, webhookID string) (*relay.SealedWebhookSecret, error) {
	return s.findWebhookSecret(ctx, `w.provider = $1 AND w.webhook_id = $2`, provider, webhookID)
}

// FindWebhookSecretByAccount returns the webhook secret of a provider
// account's live connection.
func (s *Store) FindWebhookSecretByAccount(ctx context.Context, provider, accountID string) (*relay.SealedWebhookSecret, error) {
	return s.findWebhookSecret(ctx, `w.provider = $1 AND w.account_id = $2`, provider, accountID)
}

func (s *Store) findWebhookSecret(ctx context.Context, where, provider, id string) (*relay.SealedWebhookSecret, error) {
	var w relay.SealedWebhookSecret
	err := s.pool.QueryRow(ctx, `SELECT `+webhookSecretColumns+` FROM webhook_secrets w
		JOIN connections c ON c.id = w.connection_id
		WHERE `+where+` AND c.deleted_at IS NULL ORDER BY w.connection_id LIMIT 1`, provider, id).
		Scan(&w.ConnectionID, &w.Provider, &w.WebhookID, &w.AccountID, &w.Sealed.KeyID, &w.Sealed.Ciphertext, &w.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "no %s webhook secret for %s", provider, id)
	} else if err != nil {
		return nil, fmt.Errorf("postgres: find webhook secret: %w", err)
	}
	w.CreatedAt = w.CreatedAt.UTC()
	return &w, nil
}

// resealWebhookSecrets re-encrypts every webhook secret with fn, one row per
// transaction, for ResealAll.
func (s *Store) resealWebhookSecrets(ctx context.Context, fn func(relay.Sealed, []byte) (relay.Sealed, error)) (int, error) {
	rows, err := s.pool.Query(ctx, `SELECT connection_id FROM webhook_secrets ORDER BY connection_id`)
	if err != nil {
		return 0, fmt.Errorf("postgres: reseal webhook secrets: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("postgres: reseal webhook secrets: %w", err)
	}
	n := 0
	for _, id := range ids {
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var old relay.Sealed
			err := tx.QueryRow(ctx, `SELECT key_id, ciphertext FROM webhook_secrets WHERE connection_id = $1 FOR UPDATE`, id).Scan(&old.KeyID, &old.Ciphertext)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil // deleted meanwhile
			} else if err != nil {
				return fmt.Errorf("postgres: reseal webhook secret: %w", err)
			}
			sealed, err := fn(old, relay.WebhookSecretAD(id))
			if err != nil {
				return fmt.Errorf("postgres: reseal webhook secret of %s: %w", id, err)
			}
			if _, err := tx.Exec(ctx, `UPDATE webhook_secrets SET key_id = $1, ciphertext = $2 WHERE connection_id = $3`,
				sealed.KeyID, sealed.Ciphertext, id); err != nil {
				return fmt.Errorf("postgres: reseal webhook secret: %w", err)
			}
			n++
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
