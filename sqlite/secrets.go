package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/relayhq/relay"
)

var _ relay.SecretStore = (*Store)(nil)

// SealedKeyIDs returns the distinct key ids of the stored tokens, webhook
// secrets and sealed destination secrets, deleted destinations' included, sorted.
func (s *Store) SealedKeyIDs(ctx context.Context) ([]string, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT key_id FROM tokens
		UNION SELECT key_id FROM webhook_secrets
		UNION SELECT secret_key_id FROM destinations WHERE secret_key_id <> ''
		UNION SELECT previous_secret_key_id FROM destinations WHERE previous_secret_key_id <> '' ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: sealed key ids: %w", err)
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("sqlite: sealed key ids: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// SealPlaintextSecrets seals the destination secrets stored in clear, each
// in its own transaction, guarded on the clear value so that a replica
// doing the same meanwhile is not overwritten. SQLite's secure_delete is on
// while it runs, so the clear text does not linger in the file's free space.
func (s *Store) SealPlaintextSecrets(ctx context.Context) (int, error) {
	if s.sealer == nil {
		return 0, errors.New("sqlite: seal destination secrets: the store has no sealer")
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT id, secret FROM destinations WHERE secret_key_id = '' AND secret <> '' ORDER BY id`)
	if err != nil {
		return 0, fmt.Errorf("sqlite: seal destination secrets: %w", err)
	}
	type plain struct{ id, secret string }
	var todo []plain
	for rows.Next() {
		var p plain
		if err := rows.Scan(&p.id, &p.secret); err != nil {
			rows.Close()
			return 0, fmt.Errorf("sqlite: seal destination secrets: %w", err)
		}
		todo = append(todo, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(todo) == 0 {
		return 0, err
	}
	conn, err := s.writer.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqlite: seal destination secrets: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA secure_delete = ON`); err != nil {
		return 0, fmt.Errorf("sqlite: seal destination secrets: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA secure_delete = OFF`)
	n := 0
	for _, p := range todo {
		v, err := relay.StoreSecret(s.sealer, p.id, p.secret)
		if err != nil {
			return n, fmt.Errorf("sqlite: seal secret of destination %s: %w", p.id, err)
		}
		res, err := conn.ExecContext(ctx, `UPDATE destinations SET secret = '', secret_key_id = ?, secret_sealed = ?
			WHERE id = ? AND secret_key_id = '' AND secret = ?`, v.Sealed.KeyID, v.Sealed.Ciphertext, p.id, p.secret)
		if err != nil {
			return n, fmt.Errorf("sqlite: seal secret of destination %s: %w", p.id, err)
		}
		if k, _ := res.RowsAffected(); k == 1 {
			n++
		}
	}
	return n, nil
}

// resealDestinations is ResealAll for destination secrets.
func (s *Store) resealDestinations(ctx context.Context, fn func(relay.Sealed, []byte) (relay.Sealed, error)) (int, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT id FROM destinations WHERE secret_key_id <> '' OR previous_secret_key_id <> '' ORDER BY id`)
	if err != nil {
		return 0, fmt.Errorf("sqlite: reseal: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("sqlite: reseal: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("sqlite: reseal: %w", err)
	}
	n := 0
	for _, id := range ids {
		err := s.inTx(ctx, "reseal", func(tx *sql.Tx) error {
			// The secret and the previous secret of a rotation, by column prefix.
			for _, col := range []string{"secret", "previous_secret"} {
				var old relay.Sealed
				err := tx.QueryRowContext(ctx, `SELECT `+col+`_key_id, `+col+`_sealed FROM destinations WHERE id = ? AND `+col+`_key_id <> ''`, id).
					Scan(&old.KeyID, &old.Ciphertext)
				if errors.Is(err, sql.ErrNoRows) {
					continue
				} else if err != nil {
					return fmt.Errorf("sqlite: reseal: %w", err)
				}
				sealed, err := fn(old, relay.DestinationSecretAD(id))
				if err != nil {
					return fmt.Errorf("sqlite: reseal %s of destination %s: %w", col, id, err)
				}
				if sealed.Equal(old) {
					continue
				}
				if _, err := tx.ExecContext(ctx, `UPDATE destinations SET `+col+`_key_id = ?, `+col+`_sealed = ? WHERE id = ?`,
					sealed.KeyID, sealed.Ciphertext, id); err != nil {
					return fmt.Errorf("sqlite: reseal: %w", err)
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
