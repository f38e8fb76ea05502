package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

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
func scanDestination(row scanner, sealer relay.Sealer) (*relay.Destination, error) {
	var d relay.Destination
	var providers, eventTypes string
	var timeoutMS, paused, created, updated, previousUntil int64
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
	d.PreviousSecretUntil = fromMS(previousUntil)
	if d.Providers, err = jsoncolumn.ParseList(providers); err != nil {
		return nil, fmt.Errorf("providers: %w", err)
	}
	if d.EventTypes, err = jsoncolumn.ParseList(eventTypes); err != nil {
		return nil, fmt.Errorf("event_types: %w", err)
	}
	d.Timeout = relay.Duration(time.Duration(timeoutMS) * time.Millisecond)
	d.PausedUntil, d.CreatedAt, d.UpdatedAt = fromMS(paused), fromMS(created), fromMS(updated)
	return &d, nil
}

func getDestination(ctx context.Context, q querier, sealer relay.Sealer, id string, withDeleted bool) (*relay.Destination, error) {
	query := `SELECT ` + destinationSelect + ` FROM destinations WHERE id = ?`
	if !withDeleted {
		query += ` AND deleted_at IS NULL`
	}
	d, err := scanDestination(q.QueryRowContext(ctx, query, id), sealer)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "destination %s not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: get destination: %w", err)
	}
	return d, nil
}

// CreateDestination stores a new destination.
func (s *Store) CreateDestination(ctx context.Context, d *relay.Destination) error {
	secret, err := relay.StoreSecret(s.sealer, d.ID, d.Secret)
	if err != nil {
		return fmt.Errorf("sqlite: create destination: %w", err)
	}
	_, err = s.writer.ExecContext(ctx, `INSERT INTO destinations (`+destinationColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.Name, d.URL, secret.Clear, jsoncolumn.List(d.Providers), jsoncolumn.List(d.EventTypes), d.OrgID, d.MaxConcurrency,
		time.Duration(d.Timeout).Milliseconds(), d.Disabled, d.DisabledReason, ms(d.PausedUntil), ms(d.CreatedAt), ms(d.UpdatedAt),
		secret.Sealed.KeyID, secret.Sealed.Ciphertext, d.Ordering, d.OnDead)
	if isUnique(err) {
		return relay.Errorf(relay.ECONFLICT, "a destination named %q exists", d.Name)
	} else if err != nil {
		return fmt.Errorf("sqlite: create destination: %w", err)
	}
	return nil
}

// UpdateDestination replaces the destination's mutable fields.
func (s *Store) UpdateDestination(ctx context.Context, d *relay.Destination) error {
	secret, err := relay.StoreSecret(s.sealer, d.ID, d.Secret)
	if err != nil {
		return fmt.Errorf("sqlite: update destination: %w", err)
	}
	keep := d.Secret == ""
	res, err := s.writer.ExecContext(ctx, `UPDATE destinations SET name = ?, url = ?,
		secret = CASE WHEN ? THEN secret ELSE ? END,
		secret_key_id = CASE WHEN ? THEN secret_key_id ELSE ? END,
		secret_sealed = CASE WHEN ? THEN secret_sealed ELSE ? END,
		previous_secret = CASE WHEN ? THEN previous_secret ELSE '' END,
		previous_secret_key_id = CASE WHEN ? THEN previous_secret_key_id ELSE '' END,
		previous_secret_sealed = CASE WHEN ? THEN previous_secret_sealed ELSE NULL END,
		previous_secret_until = CASE WHEN ? THEN previous_secret_until ELSE 0 END,
		providers = ?, event_types = ?, org_id = ?,
		max_concurrency = ?, timeout_ms = ?, disabled = ?, disabled_reason = ?, updated_at = ?, ordering = ?, on_dead = ?
		WHERE id = ? AND deleted_at IS NULL`,
		d.Name, d.URL, keep, secret.Clear, keep, secret.Sealed.KeyID, keep, secret.Sealed.Ciphertext, keep, keep, keep, keep,
		jsoncolumn.List(d.Providers), jsoncolumn.List(d.EventTypes), d.OrgID, d.MaxConcurrency,
		time.Duration(d.Timeout).Milliseconds(), d.Disabled, d.DisabledReason, ms(d.UpdatedAt), d.Ordering, d.OnDead, d.ID)
	if isUnique(err) {
		return relay.Errorf(relay.ECONFLICT, "a destination named %q exists", d.Name)
	} else if err != nil {
		return fmt.Errorf("sqlite: update destination: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return relay.Errorf(relay.ENOTFOUND, "destination %s not found", d.ID)
	}
	return nil
}

// UpsertDestination creates the destination or updates the live one of the
// same name, keeping its id.
func (s *Store) UpsertDestination(ctx context.Context, d *relay.Destination) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: upsert destination: %w", err)
	}
	defer tx.Rollback()
	var id string
	var created int64
	var secret, previous relay.StoredSecret
	err = tx.QueryRowContext(ctx, `SELECT id, created_at FROM destinations WHERE name = ? AND deleted_at IS NULL`, d.Name).Scan(&id, &created)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if d.CreatedAt.IsZero() {
			d.CreatedAt = d.UpdatedAt
		}
		if secret, previous, err = s.storeSecrets(d); err != nil {
			break
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO destinations (`+destinationSelect+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.ID, d.Name, d.URL, secret.Clear, jsoncolumn.List(d.Providers), jsoncolumn.List(d.EventTypes), d.OrgID, d.MaxConcurrency,
			time.Duration(d.Timeout).Milliseconds(), d.Disabled, d.DisabledReason, ms(d.PausedUntil), ms(d.CreatedAt), ms(d.UpdatedAt),
			secret.Sealed.KeyID, secret.Sealed.Ciphertext, d.Ordering, d.OnDead,
			previous.Clear, previous.Sealed.KeyID, previous.Sealed.Ciphertext, ms(d.PreviousSecretUntil))
	case err == nil:
		d.ID, d.CreatedAt = id, fromMS(created)
		// Sealed only now: the secret is bound to the id of the row kept.
		if secret, previous, err = s.storeSecrets(d); err != nil {
			break
		}
		_, err = tx.ExecContext(ctx, `UPDATE destinations SET url = ?, secret = ?, secret_key_id = ?, secret_sealed = ?,
			previous_secret = ?, previous_secret_key_id = ?, previous_secret_sealed = ?, previous_secret_until = ?,
			providers = ?, event_types = ?, org_id = ?, max_concurrency = ?, timeout_ms = ?, updated_at = ?,
			ordering = ?, on_dead = ? WHERE id = ?`,
			d.URL, secret.Clear, secret.Sealed.KeyID, secret.Sealed.Ciphertext,
			previous.Clear, previous.Sealed.KeyID, previous.Sealed.Ciphertext, ms(d.PreviousSecretUntil),
			jsoncolumn.List(d.Providers), jsoncolumn.List(d.EventTypes),
			d.OrgID, d.MaxConcurrency, time.Duration(d.Timeout).Milliseconds(), ms(d.UpdatedAt), d.Ordering, d.OnDead, id)
	}
	if err != nil {
		return fmt.Errorf("sqlite: upsert destination: %w", err)
	}
	return tx.Commit()
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

// RotateDestinationSecret makes secret the destination's secret and keeps
// the current one as its previous secret until previousUntil.
func (s *Store) RotateDestinationSecret(ctx context.Context, id, secret string, previousUntil time.Time) error {
	return s.inTx(ctx, "rotate destination secret", func(tx *sql.Tx) error {
		d, err := getDestination(ctx, tx, s.sealer, id, false)
		if err != nil {
			return err
		}
		d.Secret, d.PreviousSecret = secret, d.Secret
		cur, prev, err := s.storeSecrets(d)
		if err != nil {
			return fmt.Errorf("sqlite: rotate destination secret: %w", err)
		}
		_, err = tx.ExecContext(ctx, `UPDATE destinations SET secret = ?, secret_key_id = ?, secret_sealed = ?,
			previous_secret = ?, previous_secret_key_id = ?, previous_secret_sealed = ?, previous_secret_until = ?
			WHERE id = ?`, cur.Clear, cur.Sealed.KeyID, cur.Sealed.Ciphertext,
			prev.Clear, prev.Sealed.KeyID, prev.Sealed.Ciphertext, ms(previousUntil), id)
		if err != nil {
			return fmt.Errorf("sqlite: rotate destination secret: %w", err)
		}
		return nil
	})
}

// DeleteDestination soft-deletes a destination.
func (s *Store) DeleteDestination(ctx context.Context, id string) error {
	res, err := s.writer.ExecContext(ctx, `UPDATE destinations SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL`,
		time.Now().UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("sqlite: delete destination: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return relay.Errorf(relay.ENOTFOUND, "destination %s not found", id)
	}
	return nil
}

// GetDestination returns a live destination.
func (s *Store) GetDestination(ctx context.Context, id string) (*relay.Destination, error) {
	return getDestination(ctx, s.reader, s.sealer, id, false)
}

// ListDestinations returns the live destinations by name.
func (s *Store) ListDestinations(ctx context.Context) ([]*relay.Destination, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+destinationSelect+` FROM destinations
		WHERE deleted_at IS NULL ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list destinations: %w", err)
	}
	defer rows.Close()
	out := []*relay.Destination{}
	for rows.Next() {
		d, err := scanDestination(rows, s.sealer)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list destinations: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// SetDestinationDisabled enables or disables a destination.
func (s *Store) SetDestinationDisabled(ctx context.Context, id string, disabled bool, reason string) error {
	if !disabled {
		reason = ""
	}
	res, err := s.writer.ExecContext(ctx, `UPDATE destinations SET disabled = ?, disabled_reason = ?, updated_at = ?
		WHERE id = ? AND deleted_at IS NULL`, disabled, reason, time.Now().UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("sqlite: disable destination: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return relay.Errorf(relay.ENOTFOUND, "destination %s not found", id)
	}
	return nil
}

// PauseDestination stops claims for the destination until the given time.
func (s *Store) PauseDestination(ctx context.Context, id string, until time.Time) error {
	res, err := s.writer.ExecContext(ctx, `UPDATE destinations SET paused_until = ? WHERE id = ? AND deleted_at IS NULL`, ms(until), id)
	if err != nil {
		return fmt.Errorf("sqlite: pause destination: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return relay.Errorf(relay.ENOTFOUND, "destination %s not found", id)
	}
	return nil
}

// ResumeDestination ends a pause and makes its retrying deliveries due now.
func (s *Store) ResumeDestination(ctx context.Context, id string, now time.Time) (int, error) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("sqlite: resume destination: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE destinations SET paused_until = 0 WHERE id = ? AND deleted_at IS NULL`, id)
	if err != nil {
		return 0, fmt.Errorf("sqlite: resume destination: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return 0, relay.Errorf(relay.ENOTFOUND, "destination %s not found", id)
	}
	res, err = tx.ExecContext(ctx, `UPDATE deliveries SET next_attempt_at = ?, updated_at = ?
		WHERE destination_id = ? AND status = 'retrying' AND next_attempt_at > ?`, ms(now), ms(now), id, ms(now))
	if err != nil {
		return 0, fmt.Errorf("sqlite: resume destination: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), tx.Commit()
}

// CreateAPIKey stores a key.
func (s *Store) CreateAPIKey(ctx context.Context, k *relay.APIKey) error {
	_, err := s.writer.ExecContext(ctx, `INSERT INTO api_keys (id, org_id, name, prefix, hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		k.ID, k.OrgID, k.Name, k.Prefix, k.Hash, ms(k.CreatedAt))
	if isUnique(err) {
		return relay.Errorf(relay.ECONFLICT, "API key exists")
	} else if err != nil {
		return fmt.Errorf("sqlite: create api key: %w", err)
	}
	return nil
}

// FindAPIKey returns the key with this hash.
func (s *Store) FindAPIKey(ctx context.Context, hash string) (*relay.APIKey, error) {
	k, err := scanAPIKey(s.reader.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "API key not found")
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find api key: %w", err)
	}
	return k, nil
}

// SetAdminAPIKey makes k the only admin key of its name.
func (s *Store) SetAdminAPIKey(ctx context.Context, k *relay.APIKey) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: set admin key: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM api_keys WHERE org_id = '' AND name = ? AND hash <> ?`, k.Name, k.Hash); err != nil {
		return fmt.Errorf("sqlite: set admin key: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO api_keys (id, org_id, name, prefix, hash, created_at) VALUES (?, '', ?, ?, ?, ?)
		ON CONFLICT (hash) DO NOTHING`, k.ID, k.Name, k.Prefix, k.Hash, ms(k.CreatedAt)); err != nil {
		return fmt.Errorf("sqlite: set admin key: %w", err)
	}
	return tx.Commit()
}

// CountAPIKeys returns the number of stored keys.
func (s *Store) CountAPIKeys(ctx context.Context) (int, error) {
	var n int
	if err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM api_keys`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count api keys: %w", err)
	}
	return n, nil
}
