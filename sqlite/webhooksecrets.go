package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/relayhq/relay"
)

var _ relay.WebhookSecretStore = (*Store)(nil)

// PutWebhookSecret stores the connection's webhook secret, replacing any it
// had. ENOTFOUND when the connection does not exist; ECONFLICT when another
// connection holds the same provider webhook id.
func (s *Store) PutWebhookSecret(ctx context.Context, w *relay.SealedWebhookSecret) error {
	return s.inTx(ctx, "put webhook secret", func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM connections WHERE id = ?`, w.ConnectionID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return relay.Errorf(relay.ENOTFOUND, "connection %s not found", w.ConnectionID)
		} else if err != nil {
			return fmt.Errorf("sqlite: put webhook secret: %w", err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO webhook_secrets (connection_id, provider, webhook_id, account_id, key_id, ciphertext, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (connection_id) DO UPDATE SET provider = excluded.provider, webhook_id = excluded.webhook_id,
				account_id = excluded.account_id, key_id = excluded.key_id, ciphertext = excluded.ciphertext, created_at = excluded.created_at`,
			w.ConnectionID, w.Provider, w.WebhookID, w.AccountID, w.Sealed.KeyID, w.Sealed.Ciphertext, ms(w.CreatedAt))
		if isUnique(err) {
			return relay.Errorf(relay.ECONFLICT, "%s webhook %s belongs to another connection", w.Provider, w.WebhookID)
		} else if err != nil {
			return fmt.Errorf("sqlite: put webhook secret: %w", err)
		}
		return nil
	})
}

const webhookSecretColumns = `w.connection_id, w.provider, w.webhook_id, w.account_id, w.key_id, w.ciphertext, w.created_at`

// FindWebhookSecret returns the secret of a live connection's webhook.
func (s *Store) FindWebhookSecret(ctx context.Context, provider, webhookID string) (*relay.SealedWebhookSecret, error) {
	return s.findWebhookSecret(ctx, `w.provider = ? AND w.webhook_id = ?`, provider, webhookID)
}

// FindWebhookSecretByAccount returns the webhook secret of a provider
// account's live connection.
func (s *Store) FindWebhookSecretByAccount(ctx context.Context, provider, accountID string) (*relay.SealedWebhookSecret, error) {
	return s.findWebhookSecret(ctx, `w.provider = ? AND w.account_id = ?`, provider, accountID)
}

func (s *Store) findWebhookSecret(ctx context.Context, where, provider, id string) (*relay.SealedWebhookSecret, error) {
	var w relay.SealedWebhookSecret
	var created int64
	err := s.reader.QueryRowContext(ctx, `SELECT `+webhookSecretColumns+` FROM webhook_secrets w
		JOIN connections c ON c.id = w.connection_id
		WHERE `+where+` AND c.deleted_at IS NULL ORDER BY w.connection_id LIMIT 1`, provider, id).
		Scan(&w.ConnectionID, &w.Provider, &w.WebhookID, &w.AccountID, &w.Sealed.KeyID, &w.Sealed.Ciphertext, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "no %s webhook secret for %s", provider, id)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find webhook secret: %w", err)
	}
	w.CreatedAt = fromMS(created)
	return &w, nil
}

// resealWebhookSecrets re-encrypts every webhook secret with fn, one row per
// transaction, for ResealAll.
func (s *Store) resealWebhookSecrets(ctx context.Context, fn func(relay.Sealed, []byte) (relay.Sealed, error)) (int, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT connection_id FROM webhook_secrets ORDER BY connection_id`)
	if err != nil {
		return 0, fmt.Errorf("sqlite: reseal webhook secrets: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("sqlite: reseal webhook secrets: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	n := 0
	for _, id := range ids {
		err := s.inTx(ctx, "reseal webhook secret", func(tx *sql.Tx) error {
			var old relay.Sealed
			err := tx.QueryRowContext(ctx, `SELECT key_id, ciphertext FROM webhook_secrets WHERE connection_id = ?`, id).Scan(&old.KeyID, &old.Ciphertext)
			if errors.Is(err, sql.ErrNoRows) {
				return nil // deleted meanwhile
			} else if err != nil {
				return fmt.Errorf("sqlite: reseal webhook secret: %w", err)
			}
			sealed, err := fn(old, relay.WebhookSecretAD(id))
			if err != nil {
				return fmt.Errorf("sqlite: reseal webhook secret of %s: %w", id, err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_secrets SET key_id = ?, ciphertext = ? WHERE connection_id = ?`,
				sealed.KeyID, sealed.Ciphertext, id); err != nil {
				return fmt.Errorf("sqlite: reseal webhook secret: %w", err)
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
