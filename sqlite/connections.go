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

var _ relay.ConnectionStore = (*Store)(nil)

// CreateOrg stores an org (ECONFLICT when the id exists).
func (s *Store) CreateOrg(ctx context.Context, o *relay.Org) error {
	_, err := s.writer.ExecContext(ctx, `INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)`, o.ID, o.Name, ms(o.CreatedAt))
	if isUnique(err) {
		return relay.Errorf(relay.ECONFLICT, "org %s exists", o.ID)
	} else if err != nil {
		return fmt.Errorf("sqlite: create org: %w", err)
	}
	return nil
}

// GetOrg returns an org (ENOTFOUND).
func (s *Store) GetOrg(ctx context.Context, id string) (*relay.Org, error) {
	var o relay.Org
	var created int64
	err := s.reader.QueryRowContext(ctx, `SELECT id, name, created_at FROM orgs WHERE id = ?`, id).Scan(&o.ID, &o.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "org %s not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: get org: %w", err)
	}
	o.CreatedAt = fromMS(created)
	return &o, nil
}

// ListOrgs returns every org by id.
func (s *Store) ListOrgs(ctx context.Context) ([]*relay.Org, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT id, name, created_at FROM orgs ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list orgs: %w", err)
	}
	defer rows.Close()
	out := []*relay.Org{}
	for rows.Next() {
		var o relay.Org
		var created int64
		if err := rows.Scan(&o.ID, &o.Name, &created); err != nil {
			return nil, fmt.Errorf("sqlite: list orgs: %w", err)
		}
		o.CreatedAt = fromMS(created)
		out = append(out, &o)
	}
	return out, rows.Err()
}

// CreateOAuthState stores a pending connect flow.
func (s *Store) CreateOAuthState(ctx context.Context, st *relay.OAuthState) error {
	// Expired states are of no use to anyone: sweep them on the way.
	if _, err := s.writer.ExecContext(ctx, `DELETE FROM oauth_states WHERE expires_at < ?`, ms(st.CreatedAt.Add(-time.Hour))); err != nil {
		return fmt.Errorf("sqlite: create oauth state: %w", err)
	}
	_, err := s.writer.ExecContext(ctx, `INSERT INTO oauth_states (`+oauthStateColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, st.State, st.Provider, st.OrgID, st.ReturnURL, st.CodeVerifier, st.StartHash, st.BindingHash,
		ms(st.ExpiresAt), ms(st.CreatedAt))
	if err != nil {
		return fmt.Errorf("sqlite: create oauth state: %w", err)
	}
	return nil
}

// TakeOAuthState deletes the state and returns it (ENOTFOUND when unknown
// or already taken).
func (s *Store) TakeOAuthState(ctx context.Context, state string) (*relay.OAuthState, error) {
	st, err := scanOAuthState(s.writer.QueryRowContext(ctx, `DELETE FROM oauth_states WHERE state = ?
		RETURNING `+oauthStateColumns, state))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "oauth state not found")
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: take oauth state: %w", err)
	}
	return st, nil
}

const connectionColumns = `id, org_id, provider, external_id, account_name, status, status_reason, metadata,
	token_expires_at, teardown, created_at, updated_at, deleted_at`

func scanConnection(row scanner) (*relay.Connection, error) {
	var c relay.Connection
	var meta string
	var tokExp, created, updated int64
	var deleted sql.NullInt64
	if err := row.Scan(&c.ID, &c.OrgID, &c.Provider, &c.ExternalID, &c.AccountName, &c.Status, &c.StatusReason,
		&meta, &tokExp, &c.Teardown, &created, &updated, &deleted); err != nil {
		return nil, err
	}
	var err error
	if c.Metadata, err = jsoncolumn.ParseMap(meta); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	c.TokenExpiresAt, c.CreatedAt, c.UpdatedAt = fromMS(tokExp), fromMS(created), fromMS(updated)
	if deleted.Valid {
		t := fromMS(deleted.Int64)
		c.DeletedAt = &t
	}
	return &c, nil
}

// UpsertConnection creates or revives the connection of (Provider,
// ExternalID), with its token and resources, in one transaction.
// TokenExpiresAt mirrors the stored token: it changes only with a token.
func (s *Store) UpsertConnection(ctx context.Context, c *relay.Connection, seal relay.SealToken, resources []*relay.Resource) (bool, error) {
	now := c.UpdatedAt
	if now.IsZero() {
		now = time.Now().UTC()
	}
	meta, err := jsoncolumn.Map(c.Metadata)
	if err != nil {
		return false, fmt.Errorf("sqlite: upsert connection: %w", err)
	}
	created := false
	err = s.inTx(ctx, "upsert connection", func(tx *sql.Tx) error {
		old, err := scanConnection(tx.QueryRowContext(ctx, `SELECT `+connectionColumns+` FROM connections
			WHERE provider = ? AND external_id = ?`, c.Provider, c.ExternalID))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			created = true
			c.ID, c.CreatedAt, c.TokenExpiresAt = relay.NewID("con", now), now, time.Time{}
			if _, err := tx.ExecContext(ctx, `INSERT INTO connections (`+connectionColumns+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, '', ?, ?, NULL)`, c.ID, c.OrgID, c.Provider, c.ExternalID, c.AccountName,
				c.Status, c.StatusReason, meta, ms(now), ms(now)); err != nil {
				return fmt.Errorf("sqlite: upsert connection: %w", err)
			}
		case err != nil:
			return fmt.Errorf("sqlite: upsert connection: %w", err)
		default:
			if err := c.Revive(old); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE connections SET org_id = ?, account_name = ?, status = ?, status_reason = ?,
				metadata = ?, teardown = '', updated_at = ?, deleted_at = NULL WHERE id = ?`,
				c.OrgID, c.AccountName, c.Status, c.StatusReason, meta, ms(now), c.ID); err != nil {
				return fmt.Errorf("sqlite: upsert connection: %w", err)
			}
		}
		c.Written(now)
		if seal != nil {
			tok, err := seal(c.ID)
			if err != nil {
				return err
			}
			tok.ConnectionID = c.ID
			var version int64
			err = tx.QueryRowContext(ctx, `INSERT INTO tokens (connection_id, key_id, ciphertext, expires_at, version, updated_at)
				VALUES (?, ?, ?, ?, 1, ?)
				ON CONFLICT (connection_id) DO UPDATE SET key_id = excluded.key_id, ciphertext = excluded.ciphertext,
					expires_at = excluded.expires_at, version = tokens.version + 1, updated_at = excluded.updated_at
				RETURNING version`, c.ID, tok.Sealed.KeyID, tok.Sealed.Ciphertext, ms(tok.ExpiresAt), ms(now)).Scan(&version)
			if err != nil {
				return fmt.Errorf("sqlite: upsert connection: token: %w", err)
			}
			tok.Version = version
			if _, err := tx.ExecContext(ctx, `UPDATE connections SET token_expires_at = ? WHERE id = ?`, ms(tok.ExpiresAt), c.ID); err != nil {
				return fmt.Errorf("sqlite: upsert connection: %w", err)
			}
			c.TokenExpiresAt = tok.ExpiresAt
		}
		if resources != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE resources SET deleted_at = ? WHERE connection_id = ? AND deleted_at IS NULL`,
				ms(now), c.ID); err != nil {
				return fmt.Errorf("sqlite: upsert connection: resources: %w", err)
			}
			if err := upsertResources(ctx, tx, c.ID, c.Provider, resources, now); err != nil {
				return err
			}
		}
		return bumpGeneration(ctx, tx)
	})
	return created, err
}

func upsertResources(ctx context.Context, tx *sql.Tx, connectionID, provider string, rs []*relay.Resource, now time.Time) error {
	for _, r := range rs {
		r.ConnectionID = connectionID
		if r.Provider == "" {
			r.Provider = provider
		}
		if r.CreatedAt.IsZero() {
			r.CreatedAt = now
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO resources (connection_id, provider, external_id, kind, name, created_at, deleted_at)
			VALUES (?, ?, ?, ?, ?, ?, NULL)
			ON CONFLICT (connection_id, external_id) DO UPDATE SET kind = excluded.kind, name = excluded.name, deleted_at = NULL`,
			connectionID, r.Provider, r.ExternalID, r.Kind, r.Name, ms(r.CreatedAt)); err != nil {
			return fmt.Errorf("sqlite: upsert resources: %w", err)
		}
	}
	return nil
}

// GetConnection returns a connection, deleted ones included.
func (s *Store) GetConnection(ctx context.Context, id, orgID string) (*relay.Connection, error) {
	c, err := scanConnection(s.reader.QueryRowContext(ctx, `SELECT `+connectionColumns+` FROM connections WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !relay.OrgSees(orgID, c.OrgID)) {
		return nil, relay.Errorf(relay.ENOTFOUND, "connection %s not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: get connection: %w", err)
	}
	return c, nil
}

// ListConnections returns connections by id.
func (s *Store) ListConnections(ctx context.Context, f relay.ConnectionFilter) ([]*relay.Connection, error) {
	q := `SELECT ` + connectionColumns + ` FROM connections WHERE 1 = 1`
	var args []any
	if f.OrgID != "" {
		q += ` AND org_id = ?`
		args = append(args, f.OrgID)
	}
	if f.Provider != "" {
		q += ` AND provider = ?`
		args = append(args, f.Provider)
	}
	if !f.IncludeDeleted {
		q += ` AND deleted_at IS NULL`
	}
	rows, err := s.reader.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list connections: %w", err)
	}
	defer rows.Close()
	out := []*relay.Connection{}
	for rows.Next() {
		c, err := scanConnection(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list connections: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// FindConnection returns the live connection of a provider account.
func (s *Store) FindConnection(ctx context.Context, provider, externalID string) (*relay.Connection, error) {
	c, err := scanConnection(s.reader.QueryRowContext(ctx, `SELECT `+connectionColumns+` FROM connections
		WHERE provider = ? AND external_id = ? AND deleted_at IS NULL`, provider, externalID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "no %s connection for account %s", provider, externalID)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find connection: %w", err)
	}
	return c, nil
}

// FindConnectionByResource returns the live connection owning a live resource.
func (s *Store) FindConnectionByResource(ctx context.Context, provider, resourceID string) (*relay.Connection, error) {
	c, err := scanConnection(s.reader.QueryRowContext(ctx, `SELECT c.id, c.org_id, c.provider, c.external_id, c.account_name, c.status, c.status_reason, c.metadata,
		c.token_expires_at, c.teardown, c.created_at, c.updated_at, c.deleted_at
		FROM resources r JOIN connections c ON c.id = r.connection_id
		WHERE r.provider = ? AND r.external_id = ? AND r.deleted_at IS NULL AND c.deleted_at IS NULL
		ORDER BY c.id LIMIT 1`, provider, resourceID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "no %s connection for resource %s", provider, resourceID)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find connection by resource: %w", err)
	}
	return c, nil
}

func (s *Store) execOne(ctx context.Context, op, id, q string, args ...any) error {
	res, err := s.writer.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return relay.Errorf(relay.ENOTFOUND, "connection %s not found", id)
	}
	return nil
}

// SetConnectionStatus changes status and reason.
func (s *Store) SetConnectionStatus(ctx context.Context, id, status, reason string, now time.Time) error {
	return s.inTx(ctx, "set connection status", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE connections SET status = ?, status_reason = ?, updated_at = ? WHERE id = ?`,
			status, reason, ms(now), id)
		if err != nil {
			return fmt.Errorf("sqlite: set connection status: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return relay.Errorf(relay.ENOTFOUND, "connection %s not found", id)
		}
		return bumpGeneration(ctx, tx)
	})
}

// SetConnectionMetadata merges keys into the metadata ("" deletes a key).
func (s *Store) SetConnectionMetadata(ctx context.Context, id string, kv map[string]string, now time.Time) error {
	return s.inTx(ctx, "set connection metadata", func(tx *sql.Tx) error {
		var raw string
		err := tx.QueryRowContext(ctx, `SELECT metadata FROM connections WHERE id = ?`, id).Scan(&raw)
		if errors.Is(err, sql.ErrNoRows) {
			return relay.Errorf(relay.ENOTFOUND, "connection %s not found", id)
		} else if err != nil {
			return fmt.Errorf("sqlite: set connection metadata: %w", err)
		}
		m, err := jsoncolumn.ParseMap(raw)
		if err != nil {
			return fmt.Errorf("sqlite: set connection metadata: %w", err)
		}
		meta, err := jsoncolumn.Map(relay.MergeMetadata(m, kv))
		if err != nil {
			return fmt.Errorf("sqlite: set connection metadata: %w", err)
		}
		_, err = tx.ExecContext(ctx, `UPDATE connections SET metadata = ?, updated_at = ? WHERE id = ?`, meta, ms(now), id)
		if err != nil {
			return fmt.Errorf("sqlite: set connection metadata: %w", err)
		}
		return nil
	})
}

// SetTeardown records the teardown's progress.
func (s *Store) SetTeardown(ctx context.Context, id, step string, now time.Time) error {
	return s.execOne(ctx, "set teardown", id, `UPDATE connections SET teardown = ?, updated_at = ? WHERE id = ?`, step, ms(now), id)
}

// DeleteConnection soft-deletes the connection and its resources and drops
// its token and webhook secret, in one transaction.
func (s *Store) DeleteConnection(ctx context.Context, id string, now time.Time) error {
	return s.inTx(ctx, "delete connection", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE connections SET status = 'deleted', deleted_at = COALESCE(deleted_at, ?),
			token_expires_at = 0, updated_at = ? WHERE id = ?`, ms(now), ms(now), id)
		if err != nil {
			return fmt.Errorf("sqlite: delete connection: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return relay.Errorf(relay.ENOTFOUND, "connection %s not found", id)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE resources SET deleted_at = ? WHERE connection_id = ? AND deleted_at IS NULL`, ms(now), id); err != nil {
			return fmt.Errorf("sqlite: delete connection: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE connection_id = ?`, id); err != nil {
			return fmt.Errorf("sqlite: delete connection: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_secrets WHERE connection_id = ?`, id); err != nil {
			return fmt.Errorf("sqlite: delete connection: %w", err)
		}
		return bumpGeneration(ctx, tx)
	})
}

// ListResources returns the live resources of a connection.
func (s *Store) ListResources(ctx context.Context, connectionID string) ([]*relay.Resource, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT connection_id, provider, external_id, kind, name, created_at
		FROM resources WHERE connection_id = ? AND deleted_at IS NULL ORDER BY external_id`, connectionID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list resources: %w", err)
	}
	defer rows.Close()
	out := []*relay.Resource{}
	for rows.Next() {
		var r relay.Resource
		var created int64
		if err := rows.Scan(&r.ConnectionID, &r.Provider, &r.ExternalID, &r.Kind, &r.Name, &created); err != nil {
			return nil, fmt.Errorf("sqlite: list resources: %w", err)
		}
		r.CreatedAt = fromMS(created)
		out = append(out, &r)
	}
	return out, rows.Err()
}

// UpdateResources adds (upserting, reviving) and removes resources.
func (s *Store) UpdateResources(ctx context.Context, connectionID string, add []*relay.Resource, remove []string, now time.Time) error {
	return s.inTx(ctx, "update resources", func(tx *sql.Tx) error {
		var provider string
		err := tx.QueryRowContext(ctx, `SELECT provider FROM connections WHERE id = ?`, connectionID).Scan(&provider)
		if errors.Is(err, sql.ErrNoRows) {
			return relay.Errorf(relay.ENOTFOUND, "connection %s not found", connectionID)
		} else if err != nil {
			return fmt.Errorf("sqlite: update resources: %w", err)
		}
		if err := upsertResources(ctx, tx, connectionID, provider, add, now); err != nil {
			return err
		}
		for _, id := range remove {
			if _, err := tx.ExecContext(ctx, `UPDATE resources SET deleted_at = ? WHERE connection_id = ? AND external_id = ?
				AND deleted_at IS NULL`, ms(now), connectionID, id); err != nil {
				return fmt.Errorf("sqlite: update resources: %w", err)
			}
		}
		return bumpGeneration(ctx, tx)
	})
}

// GetToken returns the connection's sealed token.
func (s *Store) GetToken(ctx context.Context, connectionID string) (*relay.SealedToken, error) {
	var t relay.SealedToken
	var exp int64
	err := s.reader.QueryRowContext(ctx, `SELECT connection_id, key_id, ciphertext, expires_at, version FROM tokens
		WHERE connection_id = ?`, connectionID).Scan(&t.ConnectionID, &t.Sealed.KeyID, &t.Sealed.Ciphertext, &exp, &t.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "connection %s holds no token", connectionID)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: get token: %w", err)
	}
	t.ExpiresAt = fromMS(exp)
	return &t, nil
}

// PutToken replaces the token if its version is still prevVersion.
func (s *Store) PutToken(ctx context.Context, t *relay.SealedToken, prevVersion int64) error {
	return s.inTx(ctx, "put token", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE tokens SET key_id = ?, ciphertext = ?, expires_at = ?, version = version + 1,
			updated_at = ? WHERE connection_id = ? AND version = ?`, t.Sealed.KeyID, t.Sealed.Ciphertext, ms(t.ExpiresAt),
			ms(time.Now()), t.ConnectionID, prevVersion)
		if err != nil {
			return fmt.Errorf("sqlite: put token: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var v int64
			if err := tx.QueryRowContext(ctx, `SELECT version FROM tokens WHERE connection_id = ?`, t.ConnectionID).Scan(&v); errors.Is(err, sql.ErrNoRows) {
				return relay.Errorf(relay.ENOTFOUND, "connection %s holds no token", t.ConnectionID)
			}
			return relay.Errorf(relay.ECONFLICT, "the token of connection %s changed meanwhile", t.ConnectionID)
		}
		t.Version = prevVersion + 1
		if _, err := tx.ExecContext(ctx, `UPDATE connections SET token_expires_at = ? WHERE id = ?`, ms(t.ExpiresAt), t.ConnectionID); err != nil {
			return fmt.Errorf("sqlite: put token: %w", err)
		}
		return nil
	})
}

// ResealAll re-encrypts every stored token, webhook secret and destination secret with fn,
// one row per transaction.
func (s *Store) ResealAll(ctx context.Context, fn func(relay.Sealed, []byte) (relay.Sealed, error)) (int, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT connection_id FROM tokens ORDER BY connection_id`)
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
	n := 0
	for _, id := range ids {
		err := s.inTx(ctx, "reseal", func(tx *sql.Tx) error {
			var old relay.Sealed
			err := tx.QueryRowContext(ctx, `SELECT key_id, ciphertext FROM tokens WHERE connection_id = ?`, id).Scan(&old.KeyID, &old.Ciphertext)
			if errors.Is(err, sql.ErrNoRows) {
				return nil // deleted meanwhile
			} else if err != nil {
				return fmt.Errorf("sqlite: reseal: %w", err)
			}
			sealed, err := fn(old, relay.TokenAD(id))
			if err != nil {
				return fmt.Errorf("sqlite: reseal token of %s: %w", id, err)
			}
			if sealed.Equal(old) {
				return nil // already under the first key, bound
			}
			if _, err := tx.ExecContext(ctx, `UPDATE tokens SET key_id = ?, ciphertext = ?, version = version + 1 WHERE connection_id = ?`,
				sealed.KeyID, sealed.Ciphertext, id); err != nil {
				return fmt.Errorf("sqlite: reseal: %w", err)
			}
			n++
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	m, err := s.resealWebhookSecrets(ctx, fn)
	if err != nil {
		return n + m, err
	}
	d, err := s.resealDestinations(ctx, fn)
	m += d
	return n + m, err
}

// ReleaseHeld matches the account's unmatched events to the connection and
// writes the deliveries r.Plan plans for them, in one transaction.
func (s *Store) ReleaseHeld(ctx context.Context, r relay.HeldRelease) (int, error) {
	released := 0
	err := s.inTx(ctx, "release held events", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, event_type, source, resource_id, payload, payload_codec FROM events
			WHERE provider = ? AND account_id = ? AND match = 'unmatched'`, r.Provider, r.AccountID)
		if err != nil {
			return fmt.Errorf("sqlite: release held events: %w", err)
		}
		var held []relay.HeldEvent
		for rows.Next() {
			var h relay.HeldEvent
			var payload []byte
			var codec int64
			if err := rows.Scan(&h.ID, &h.EventType, &h.Source, &h.ResourceID, &payload, &codec); err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: release held events: %w", err)
			}
			if h.Payload, err = unpack(codec, payload); err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: release held events: event %s: payload: %w", h.ID, err)
			}
			held = append(held, h)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: release held events: %w", err)
		}
		for _, h := range held {
			if _, err := tx.ExecContext(ctx, `UPDATE events SET org_id = ?, connection_id = ?, match = 'matched' WHERE id = ?`,
				r.OrgID, r.ConnectionID, h.ID); err != nil {
				return fmt.Errorf("sqlite: release held events: %w", err)
			}
		}
		for _, d := range r.Plan(held) {
			if _, err := tx.ExecContext(ctx, `INSERT INTO deliveries
				(id, event_id, destination_id, status, source, next_attempt_at, lease_owner, lease_until, created_at, updated_at, order_key)
				VALUES (?, ?, ?, ?, ?, ?, '', 0, ?, ?, ?)
				ON CONFLICT (event_id, destination_id) DO NOTHING`,
				d.ID, d.EventID, d.DestinationID, d.Status, d.Source, ms(d.NextAttemptAt), ms(d.CreatedAt), ms(d.UpdatedAt), d.OrderKey); err != nil {
				return fmt.Errorf("sqlite: release held events: delivery: %w", err)
			}
		}
		released = len(held)
		return nil
	})
	return released, err
}
