package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/relayhq/relay"
)

var _ relay.SecretStore = (*Store)(nil)

// SealedKeyIDs returns the distinct key ids of the stored tokens, webhook
// secrets and sealed destination secrets, deleted destinations' included, sorted.
func (s *Store) SealedKeyIDs(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT key_id FROM tokens
		UNION SELECT key_id FROM webhook_secrets
		UNION SELECT secret_key_id FROM destinations WHERE secret_key_id <> ''
		UNION SELECT previous_secret_key_id FROM destinations WHERE previous_secret_key_id <> '' ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("postgres: sealed key ids: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: sealed key ids: %w", err)
	}
	if ids == nil {
		ids = []string{}
	}
	return ids, nil
}

// SealPlaintextSecrets seals the destination secrets stored in clear, each
// row guarded on its clear value so that replicas starting together do not
// overwrite each other. The clear text stays in dead row versions until
// PostgreSQL vacuums the table.
func (s *Store) SealPlaintextSecrets(ctx context.Context) (int, error) {
	if s.sealer == nil {
		return 0, errors.New("postgres: seal destination secrets: the store has no sealer")
	}
	rows, err := s.pool.Query(ctx, `SELECT id, secret FROM destinations WHERE secret_key_id = '' AND secret <> '' ORDER BY id`)
	if err != nil {
		return 0, fmt.Errorf("postgres: seal destination secrets: %w", err)
	}
	type plain struct{ ID, Secret string }
	todo, err := pgx.CollectRows(rows, pgx.RowToStructByPos[plain])
	if err != nil {
		return 0, fmt.Errorf("postgres: seal destination secrets: %w", err)
	}
	n := 0
	for _, p := range todo {
		v, err := relay.StoreSecret(s.sealer, p.ID, p.Secret)
		if err != nil {
			return n, fmt.Errorf("postgres: seal secret of destination %s: %w", p.ID, err)
		}
		tag, err := s.pool.Exec(ctx, `UPDATE destinations SET secret = '', secret_key_id = $1, secret_sealed = $2
			WHERE id = $3 AND secret_key_id = '' AND secret = $4`, v.Sealed.KeyID, v.Sealed.Ciphertext, p.ID, p.Secret)
		if err != nil {
			return n, fmt.Errorf("postgres: seal secret of destination %s: %w", p.ID, err)
		}
		n += int(tag.RowsAffected())
	}
	return n, nil
}

// resealDestinations is ResealAll for destination secrets.
func (s *Store) resealDestinations(ctx context.Context, fn func(relay.Sealed, []byte) (relay.Sealed, error)) (int, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM destinations WHERE secret_key_id <> '' OR previous_secret_key_id <> '' ORDER BY id`)
	if err != nil {
		return 0, fmt.Errorf("postgres: reseal: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("postgres: reseal: %w", err)
	}
	n := 0
	for _, id := range ids {
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			// The secret and the previous secret of a rotation, by column prefix.
			for _, col := range []string{"secret", "previous_secret"} {
				var old relay.Sealed
				err := tx.QueryRow(ctx, `SELECT `+col+`_key_id, `+col+`_sealed FROM destinations
					WHERE id = $1 AND `+col+`_key_id <> '' FOR UPDATE`, id).Scan(&old.KeyID, &old.Ciphertext)
				if errors.Is(err, pgx.ErrNoRows) {
					continue
				} else if err != nil {
					return fmt.Errorf("postgres: reseal: %w", err)
				}
				sealed, err := fn(old, relay.DestinationSecretAD(id))
				if err != nil {
					return fmt.Errorf("postgres: reseal %s of destination %s: %w", col, id, err)
				}
				if sealed.Equal(old) {
					continue
				}
				if _, err := tx.Exec(ctx, `UPDATE destinations SET `+col+`_key_id = $1, `+col+`_sealed = $2 WHERE id = $3`,
					sealed.KeyID, sealed.Ciphertext, id); err != nil {
					return fmt.Errorf("postgres: reseal: %w", err)
				}
				n++
			}
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
