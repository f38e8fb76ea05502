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

const destinationColumns = `id, name, url, secret, providers, event_types, org_id, max_concurrency, timeout_ms,
	disabled, disabled_reason, paused_until, created_at, updated_at, secret_key_id, secret_sealed, ordering, on_dead`

// destinationSelect is what destination reads select: destinationColumns,
// which inserts write, and the previous secret of a rotation.
const destinationSelect = destinationColumns + `, previous_secret, previous_secret_key_id, previous_secret_sealed, previous_secret_until`

// scanDestination reads a destination row, opening its secret with sealer:
// destinations are opened when loaded (listed for routing, or once per
// claimed batch), never per delivery.
func scanDestination(row pgx.Row, sealer relay.Sealer) (*relay.Destination, error) {
	var d relay.Destination
	var providers, eventTypes string
	var timeoutMS int64
	var paused, created, updated, previousUntil time.Time
	var secret, previous relay.StoredSecret
	if err := row.Scan(&d.ID, &d.Name, &d.URL, &secret.Clear, &providers, &eventTypes, &d.OrgID, &d.MaxConcurrency,
		&timeoutMS, &d.Disabled, &d.DisabledReason, &paused, &created, &updated,
		&secret.Sealed.KeyID, &secret.Sealed.Ciphertext, &d.Ordering, &d.OnDead,
		&previous.Clear, &previous.Sealed.KeyID, &previous.Sealed.Ciphertext, &previousUntil); err != nil {
		return nil, err
	}
	var err error
	if d.Secret, err = secret.Open(sealer, d.ID); err != nil {
		return nil, err
	}
	if d.PreviousSecret, err = previous.Open(sealer, d.ID); err != nil {
		return nil, err
	}
	d.PreviousSecretUntil = fromTS(previousUntil)
	if d.Providers, err = jsoncolumn.ParseList(providers); err != nil {
		return nil, fmt.Errorf("providers: %w", err)
	}
	if d.EventTypes, err = jsoncolumn.ParseList(eventTypes); err != nil {
		return nil, fmt.Errorf("event_types: %w", err)
	}
	d.Timeout = relay.Duration(time.Duration(timeoutMS) * time.Millisecond)
	d.PausedUntil, d.CreatedAt, d.UpdatedAt = fromTS(paused), created.UTC(), updated.UTC()
	return &d, nil
}

func destinationArgs(d *relay.Destination, secret relay.StoredSecret) []any {
	return []any{d.ID, d.Name, d.URL, secret.Clear, jsoncolumn.List(d.Providers), jsoncolumn.List(d.EventTypes), d.OrgID, d.MaxConcurrency,
		time.Duration(d.Timeout).Milliseconds(), d.Disabled, d.DisabledReason, ts(d.PausedUntil), d.CreatedAt.UTC(), d.UpdatedAt.UTC(),
		secret.Sealed.KeyID, secret.Sealed.Ciphertext, d.Ordering, d.OnDead}
}

const insertDestination = `INSERT INTO destinations (` + destinationColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`

// CreateDestination stores a new destination.
func (s *Store) CreateDestination(ctx context.Context, d *relay.Destination) error {
	secret, err := relay.StoreSecret(s.sealer, d.ID, d.Secret)
	if err != nil {
		return fmt.Errorf("postgres: create destination: %w", err)
	}
	_, err = s.pool.Exec(ctx, insertDestination, destinationArgs(d, secret)...)
	if isUnique(err) {
		return relay.Errorf(relay.ECONFLICT, "a destination named %q exists", d.Name)
	} else if err != nil {
		return fmt.Errorf("postgres: create destination: %w", err)
	}
	return nil
}

// UpdateDestination replaces the destination's mutable fields.
func (s *Store) UpdateDestination(ctx context.Context, d *relay.Destination) error {
	secret, err := relay.StoreSecret(s.sealer, d.ID, d.Secret)
	if err != nil {
		return fmt.Errorf("postgres: update destination: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE destinations SET name = $2, url = $3,
		secret = CASE WHEN $13 THEN secret ELSE $4 END,
		secret_key_id = CASE WHEN $13 THEN secret_key_id ELSE $14 END,
		secret_sealed = CASE WHEN $13 THEN secret_sealed ELSE $15 END,
		previous_secret = CASE WHEN $13 THEN previous_secret ELSE '' END,
		previous_secret_key_id = CASE WHEN $13 THEN previous_secret_key_id ELSE '' END,
		previous_secret_sealed = CASE WHEN $13 THEN previous_secret_sealed ELSE NULL END,
		previous_secret_until = CASE WHEN $13 THEN previous_secret_until ELSE 'epoch' END,
		providers = $5, event_types = $6, org_id = $7,
		max_concurrency = $8, timeout_ms = $9, disabled = $10, disabled_reason = $11, updated_at = $12,
		ordering = $16, on_dead = $17
		WHERE id = $1 AND deleted_at IS NULL`,
		d.ID, d.Name, d.URL, secret.Clear, jsoncolumn.List(d.Providers), jsoncolumn.List(d.EventTypes), d.OrgID, d.MaxConcurrency,
		time.Duration(d.Timeout).Milliseconds(), d.Disabled, d.DisabledReason, d.UpdatedAt.UTC(),
		d.Secret == "", secret.Sealed.KeyID, secret.Sealed.Ciphertext, d.Ordering, d.OnDead)
	if isUnique(err) {
		return relay.Errorf(relay.ECONFLICT, "a destination named %q exists", d.Name)
	} else if err != nil {
		return fmt.Errorf("postgres: update destination: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return relay.Errorf(relay.ENOTFOUND, "destination %s not found", d.ID)
	}
	return nil
}

// UpsertDestination creates the destination or updates the live one of the
// same name, keeping its id. Concurrent replicas starting with the same
// config serialise on an advisory lock.
func (s *Store) UpsertDestination(ctx context.Context, d *relay.Destination) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('relay-destination:' || $1))`, d.Name); err != nil {
			return err
		}
		var id string
		var created time.Time
		err := tx.QueryRow(ctx, `SELECT id, created_at FROM destinations WHERE name = $1 AND deleted_at IS NULL`, d.Name).Scan(&id, &created)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if d.CreatedAt.IsZero() {
				d.CreatedAt = d.UpdatedAt
			}
			secret, previous, err := s.storeSecrets(d)
			if err != nil {
				return err
			}
			if _, err = tx.Exec(ctx, insertDestination, destinationArgs(d, secret)...); err != nil {
				return err
			}
			return setPreviousSecret(ctx, tx, d.ID, previous, d.PreviousSecretUntil)
		case err != nil:
			return err
		}
		d.ID, d.CreatedAt = id, created.UTC()
		// Sealed only now: the secret is bound to the id of the row kept.
		secret, previous, err := s.storeSecrets(d)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE destinations SET url = $2, secret = $3, providers = $4, event_types = $5,
			org_id = $6, max_concurrency = $7, timeout_ms = $8, updated_at = $9, secret_key_id = $10, secret_sealed = $11,
			ordering = $12, on_dead = $13
			WHERE id = $1`,
			id, d.URL, secret.Clear, jsoncolumn.List(d.Providers), jsoncolumn.List(d.EventTypes), d.OrgID, d.MaxConcurrency,
			time.Duration(d.Timeout).Milliseconds(), d.UpdatedAt.UTC(), secret.Sealed.KeyID, secret.Sealed.Ciphertext, d.Ordering, d.OnDead)
		if err != nil {
			return err
		}
		return setPreviousSecret(ctx, tx, id, previous, d.PreviousSecretUntil)
	})
	if err != nil {
		return fmt.Errorf("postgres: upsert destination: %w", err)
	}
	return nil
}

// storeSecrets returns how to store d's secret and previous secret, both
// bound to d.ID (set it first).
func (s *Store) storeSecrets(d *relay.Destination) (secret, previous relay.StoredSecret, err error) {
	if secret, err = relay.StoreSecret(s.sealer, d.ID, d.Secret); err != nil {
		return secret, previous, err
	}
	previous, err = relay.StoreSecret(s.sealer, d.ID, d.PreviousSecret)
	return secret, previous, err
}

// setPreviousSecret writes a destination's previous secret.
func setPreviousSecret(ctx context.Context, tx pgx.Tx, id string, previous relay.StoredSecret, until time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE destinations SET previous_secret = $2, previous_secret_key_id = $3,
		previous_secret_sealed = $4, previous_secret_until = $5 WHERE id = $1`,
		id, previous.Clear, previous.Sealed.KeyID, previous.Sealed.Ciphertext, ts(until))
	return err
}

// RotateDestinationSecret makes secret the destination's secret and keeps
// the current one as its previous secret until previousUntil.
func (s *Store) RotateDestinationSecret(ctx context.Context, id, secret string, previousUntil time.Time) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		d, err := scanDestination(tx.QueryRow(ctx, `SELECT `+destinationSelect+` FROM destinations
			WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`, id), s.sealer)
		if errors.Is(err, pgx.ErrNoRows) {
			return relay.Errorf(relay.ENOTFOUND, "destination %s not found", id)
		} else if err != nil {
			return fmt.Errorf("postgres: rotate destination secret: %w", err)
		}
		d.Secret, d.PreviousSecret = secret, d.Secret
		cur, prev, err := s.storeSecrets(d)
		if err != nil {
			return fmt.Errorf("postgres: rotate destination secret: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE destinations SET secret = $2, secret_key_id = $3, secret_sealed = $4 WHERE id = $1`,
			id, cur.Clear, cur.Sealed.KeyID, cur.Sealed.Ciphertext); err != nil {
			return fmt.Errorf("postgres: rotate destination secret: %w", err)
		}
		if err := setPreviousSecret(ctx, tx, id, prev, previousUntil); err != nil {
			return fmt.Errorf("postgres: rotate destination secret: %w", err)
		}
		return nil
	})
}

// DeleteDestination soft-deletes a destination.
func (s *Store) DeleteDestination(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE destinations SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL`, id)
	if err != nil {
		return fmt.Errorf("postgres: delete destination: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return relay.Errorf(relay.ENOTFOUND, "destination %s not found", id)
	}
	return nil
}

// GetDestination returns a live destination.
func (s *Store) GetDestination(ctx context.Context, id string) (*relay.Destination, error) {
	d, err := scanDestination(s.pool.QueryRow(ctx, `SELECT `+destinationSelect+` FROM destinations
		WHERE id = $1 AND deleted_at IS NULL`, id), s.sealer)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "destination %s not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("postgres: get destination: %w", err)
	}
	return d, nil
}

// ListDestinations returns the live destinations by name.
func (s *Store) ListDestinations(ctx context.Context) ([]*relay.Destination, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+destinationSelect+` FROM destinations WHERE deleted_at IS NULL ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list destinations: %w", err)
	}
	defer rows.Close()
	out := []*relay.Destination{}
	for rows.Next() {
		d, err := scanDestination(rows, s.sealer)
		if err != nil {
			return nil, fmt.Errorf("postgres: list destinations: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

func (s *Store) execOne(ctx context.Context, op, id, q string, args ...any) error {
	tag, err := s.pool.Exec(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	if tag.RowsAffected() == 0 {
		return relay.Errorf(relay.ENOTFOUND, "destination %s not found", id)
	}
	return nil
}

// SetDestinationDisabled enables or disables a destination.
func (s *Store) SetDestinationDisabled(ctx context.Context, id string, disabled bool, reason string) error {
	if !disabled {
		reason = ""
	}
	return s.execOne(ctx, "disable destination", id, `UPDATE destinations SET disabled = $2, disabled_reason = $3, updated_at = now()
		WHERE id = $1 AND deleted_at IS NULL`, id, disabled, reason)
}

// PauseDestination stops claims for the destination until the given time.
func (s *Store) PauseDestination(ctx context.Context, id string, until time.Time) error {
	return s.execOne(ctx, "pause destination", id, `UPDATE destinations SET paused_until = $2
		WHERE id = $1 AND deleted_at IS NULL`, id, ts(until))
}

// ResumeDestination ends a pause and makes its retrying deliveries due now.
func (s *Store) ResumeDestination(ctx context.Context, id string, now time.Time) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE destinations SET paused_until = 'epoch' WHERE id = $1 AND deleted_at IS NULL`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return relay.Errorf(relay.ENOTFOUND, "destination %s not found", id)
		}
		tag, err = tx.Exec(ctx, `UPDATE deliveries SET next_attempt_at = $2, updated_at = $2
			WHERE destination_id = $1 AND status = 'retrying' AND next_attempt_at > $2`, id, now.UTC())
		n = int(tag.RowsAffected())
		return err
	})
	if err != nil && relay.ErrorCode(err) != relay.ENOTFOUND {
		err = fmt.Errorf("postgres: resume destination: %w", err)
	}
	return n, err
}

// CreateAPIKey stores a key.
func (s *Store) CreateAPIKey(ctx context.Context, k *relay.APIKey) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO api_keys (id, org_id, name, prefix, hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		k.ID, k.OrgID, k.Name, k.Prefix, k.Hash, k.CreatedAt.UTC())
	if isUnique(err) {
		return relay.Errorf(relay.ECONFLICT, "API key exists")
	} else if err != nil {
		return fmt.Errorf("postgres: create api key: %w", err)
	}
	return nil
}

// FindAPIKey returns the key with this hash.
func (s *Store) FindAPIKey(ctx context.Context, hash string) (*relay.APIKey, error) {
	k, err := scanAPIKey(s.pool.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "API key not found")
	} else if err != nil {
		return nil, fmt.Errorf("postgres: find api key: %w", err)
	}
	return k, nil
}

// SetAdminAPIKey makes k the only admin key of its name.
func (s *Store) SetAdminAPIKey(ctx context.Context, k *relay.APIKey) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('relay-admin-key'))`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM api_keys WHERE org_id = '' AND name = $1 AND hash <> $2`, k.Name, k.Hash); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO api_keys (id, org_id, name, prefix, hash, created_at) VALUES ($1, '', $2, $3, $4, $5)
			ON CONFLICT (hash) DO NOTHING`, k.ID, k.Name, k.Prefix, k.Hash, k.CreatedAt.UTC())
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: set admin key: %w", err)
	}
	return nil
}

// CountAPIKeys returns the number of stored keys.
func (s *Store) CountAPIKeys(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM api_keys`).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count api keys: %w", err)
	}
	return n, nil
}
