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

var _ relay.ConnectionStore = (*Store)(nil)

// CreateOrg stores an org (ECONFLICT when the id exists).
func (s *Store) CreateOrg(ctx context.Context, o *relay.Org) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO orgs (id, name, created_at) VALUES ($1, $2, $3)`, o.ID, o.Name, o.CreatedAt.UTC())
	if isUnique(err) {
		return relay.Errorf(relay.ECONFLICT, "org %s exists", o.ID)
	} else if err != nil {
		return fmt.Errorf("postgres: create org: %w", err)
	}
	return nil
}

// GetOrg returns an org (ENOTFOUND).
func (s *Store) GetOrg(ctx context.Context, id string) (*relay.Org, error) {
	var o relay.Org
	err := s.pool.QueryRow(ctx, `SELECT id, name, created_at FROM orgs WHERE id = $1`, id).Scan(&o.ID, &o.Name, &o.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "org %s not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("postgres: get org: %w", err)
	}
	o.CreatedAt = o.CreatedAt.UTC()
	return &o, nil
}

// ListOrgs returns every org by id.
func (s *Store) ListOrgs(ctx context.Context) ([]*relay.Org, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, created_at FROM orgs ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list orgs: %w", err)
	}
	defer rows.Close()
	out := []*relay.Org{}
	for rows.Next() {
		var o relay.Org
		if err := rows.Scan(&o.ID, &o.Name, &o.CreatedAt); err != nil {
			return nil, fmt.Errorf("postgres: list orgs: %w", err)
		}
		o.CreatedAt = o.CreatedAt.UTC()
		out = append(out, &o)
	}
	return out, rows.Err()
}

// CreateOAuthState stores a pending connect flow (and sweeps long-expired ones).
func (s *Store) CreateOAuthState(ctx context.Context, st *relay.OAuthState) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM oauth_states WHERE expires_at < $1`, st.CreatedAt.Add(-time.Hour).UTC()); err != nil {
		return fmt.Errorf("postgres: create oauth state: %w", err)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO oauth_states (`+oauthStateColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, st.State, st.Provider, st.OrgID, st.ReturnURL, st.CodeVerifier,
		st.StartHash, st.BindingHash, st.ExpiresAt.UTC(), st.CreatedAt.UTC())
	if err != nil {
		return fmt.Errorf("postgres: create oauth state: %w", err)
	}
	return nil
}

// TakeOAuthState deletes the state and returns it (ENOTFOUND when unknown
// or already taken: of two concurrent takers, one gets it).
func (s *Store) TakeOAuthState(ctx context.Context, state string) (*relay.OAuthState, error) {
	st, err := scanOAuthState(s.pool.QueryRow(ctx, `DELETE FROM oauth_states WHERE state = $1
		RETURNING `+oauthStateColumns, state))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "oauth state not found")
	} else if err != nil {
		return nil, fmt.Errorf("postgres: take oauth state: %w", err)
	}
	return st, nil
}

const connectionColumns = `id, org_id, provider, external_id, account_name, status, status_reason, metadata,
	token_expires_at, teardown, created_at, updated_at, deleted_at`

func scanConnection(row pgx.Row) (*relay.Connection, error) {
	var c relay.Connection
	var meta string
	var deleted *time.Time
	if err := row.Scan(&c.ID, &c.OrgID, &c.Provider, &c.ExternalID, &c.AccountName, &c.Status, &c.StatusReason,
		&meta, &c.TokenExpiresAt, &c.Teardown, &c.CreatedAt, &c.UpdatedAt, &deleted); err != nil {
		return nil, err
	}
	var err error
	if c.Metadata, err = jsoncolumn.ParseMap(meta); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	c.TokenExpiresAt, c.CreatedAt, c.UpdatedAt = fromTS(c.TokenExpiresAt), c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	if deleted != nil {
		t := deleted.UTC()
		c.DeletedAt = &t
	}
	return &c, nil
}

// UpsertConnection creates or revives the connection of (Provider,
// ExternalID), with its token and resources, in one transaction. The
// account's row is locked (FOR UPDATE) so concurrent upserts serialise.
// TokenExpiresAt mirrors the stored token: it changes only with a token.
func (s *Store) UpsertConnection(ctx context.Context, c *relay.Connection, seal relay.SealToken, resources []*relay.Resource) (bool, error) {
	now := c.UpdatedAt
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC()
	meta, err := jsoncolumn.Map(c.Metadata)
	if err != nil {
		return false, fmt.Errorf("postgres: upsert connection: %w", err)
	}
	created := false
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		created = false
		// Insert if absent; either way the row is then locked by this tx.
		id := relay.NewID("con", now)
		tag, err := tx.Exec(ctx, `INSERT INTO connections (`+connectionColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'epoch', '', $9, $9, NULL)
			ON CONFLICT (provider, external_id) DO NOTHING`, id, c.OrgID, c.Provider, c.ExternalID, c.AccountName,
			c.Status, c.StatusReason, meta, now)
		if err != nil {
			return fmt.Errorf("postgres: upsert connection: %w", err)
		}
		if tag.RowsAffected() == 1 {
			created = true
			c.ID, c.CreatedAt, c.TokenExpiresAt = id, now, time.Time{}
		} else {
			old, err := scanConnection(tx.QueryRow(ctx, `SELECT `+connectionColumns+` FROM connections
				WHERE provider = $1 AND external_id = $2 FOR UPDATE`, c.Provider, c.ExternalID))
			if err != nil {
				return fmt.Errorf("postgres: upsert connection: %w", err)
			}
			if err := c.Revive(old); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE connections SET org_id = $1, account_name = $2, status = $3, status_reason = $4,
				metadata = $5, teardown = '', updated_at = $6, deleted_at = NULL WHERE id = $7`,
				c.OrgID, c.AccountName, c.Status, c.StatusReason, meta, now, c.ID); err != nil {
				return fmt.Errorf("postgres: upsert connection: %w", err)
			}
		}
		c.Written(now)
		if seal != nil {
			tok, err := seal(c.ID)
			if err != nil {
				return err
			}
			tok.ConnectionID = c.ID
			err = tx.QueryRow(ctx, `INSERT INTO tokens (connection_id, key_id, ciphertext, expires_at, version, updated_at)
				VALUES ($1, $2, $3, $4, 1, $5)
				ON CONFLICT (connection_id) DO UPDATE SET key_id = excluded.key_id, ciphertext = excluded.ciphertext,
					expires_at = excluded.expires_at, version = tokens.version + 1, updated_at = excluded.updated_at
				RETURNING version`, c.ID, tok.Sealed.KeyID, tok.Sealed.Ciphertext, ts(tok.ExpiresAt), now).Scan(&tok.Version)
			if err != nil {
				return fmt.Errorf("postgres: upsert connection: token: %w", err)
			}
			if _, err := tx.Exec(ctx, `UPDATE connections SET token_expires_at = $1 WHERE id = $2`, ts(tok.ExpiresAt), c.ID); err != nil {
				return fmt.Errorf("postgres: upsert connection: %w", err)
			}
			c.TokenExpiresAt = tok.ExpiresAt
		}
		if resources != nil {
			if _, err := tx.Exec(ctx, `UPDATE resources SET deleted_at = $1 WHERE connection_id = $2 AND deleted_at IS NULL`, now, c.ID); err != nil {
				return fmt.Errorf("postgres: upsert connection: resources: %w", err)
			}
			if err := upsertResources(ctx, tx, c.ID, c.Provider, resources, now); err != nil {
				return err
			}
		}
		return bumpGeneration(ctx, tx)
	})
	return created, err
}

func upsertResources(ctx context.Context, tx pgx.Tx, connectionID, provider string, rs []*relay.Resource, now time.Time) error {
	for _, r := range rs {
		r.ConnectionID = connectionID
		if r.Provider == "" {
			r.Provider = provider
		}
		if r.CreatedAt.IsZero() {
			r.CreatedAt = now
		}
		if _, err := tx.Exec(ctx, `INSERT INTO resources (connection_id, provider, external_id, kind, name, created_at, deleted_at)
			VALUES ($1, $2, $3, $4, $5, $6, NULL)
			ON CONFLICT (connection_id, external_id) DO UPDATE SET kind = excluded.kind, name = excluded.name, deleted_at = NULL`,
			connectionID, r.Provider, r.ExternalID, r.Kind, r.Name, r.CreatedAt.UTC()); err != nil {
			return fmt.Errorf("postgres: upsert resources: %w", err)
		}
	}
	return nil
}

// GetConnection returns a connection, deleted ones included.
func (s *Store) GetConnection(ctx context.Context, id, orgID string) (*relay.Connection, error) {
	c, err := scanConnection(s.pool.QueryRow(ctx, `SELECT `+connectionColumns+` FROM connections WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !relay.OrgSees(orgID, c.OrgID)) {
		return nil, relay.Errorf(relay.ENOTFOUND, "connection %s not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("postgres: get connection: %w", err)
	}
	return c, nil
}

// ListConnections returns connections by id.
func (s *Store) ListConnections(ctx context.Context, f relay.ConnectionFilter) ([]*relay.Connection, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+connectionColumns+` FROM connections
		WHERE ($1 = '' OR org_id = $1) AND ($2 = '' OR provider = $2) AND ($3 OR deleted_at IS NULL) ORDER BY id`,
		f.OrgID, f.Provider, f.IncludeDeleted)
	if err != nil {
		return nil, fmt.Errorf("postgres: list connections: %w", err)
	}
	defer rows.Close()
	out := []*relay.Connection{}
	for rows.Next() {
		c, err := scanConnection(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list connections: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// FindConnection returns the live connection of a provider account.
func (s *Store) FindConnection(ctx context.Context, provider, externalID string) (*relay.Connection, error) {
	c, err := scanConnection(s.pool.QueryRow(ctx, `SELECT `+connectionColumns+` FROM connections
		WHERE provider = $1 AND external_id = $2 AND deleted_at IS NULL`, provider, externalID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "no %s connection for account %s", provider, externalID)
	} else if err != nil {
		return nil, fmt.Errorf("postgres: find connection: %w", err)
	}
	return c, nil
}

// FindConnectionByResource returns the live connection owning a live resource.
func (s *Store) FindConnectionByResource(ctx context.Context, provider, resourceID string) (*relay.Connection, error) {
	c, err := scanConnection(s.pool.QueryRow(ctx, `SELECT c.id, c.org_id, c.provider, c.external_id, c.account_name,
		c.status, c.status_reason, c.metadata, c.token_expires_at, c.teardown, c.created_at, c.updated_at, c.deleted_at
		FROM resources r JOIN connections c ON c.id = r.connection_id
		WHERE r.provider = $1 AND r.external_id = $2 AND r.deleted_at IS NULL AND c.deleted_at IS NULL
		ORDER BY c.id LIMIT 1`, provider, resourceID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "no %s connection for resource %s", provider, resourceID)
	} else if err != nil {
		return nil, fmt.Errorf("postgres: find connection by resource: %w", err)
	}
	return c, nil
}

func (s *Store) connExecOne(ctx context.Context, op, id, q string, args ...any) error {
	tag, err := s.pool.Exec(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	if tag.RowsAffected() == 0 {
		return relay.Errorf(relay.ENOTFOUND, "connection %s not found", id)
	}
	return nil
}

// SetConnectionStatus changes status and reason.
func (s *Store) SetConnectionStatus(ctx context.Context, id, status, reason string, now time.Time) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE connections SET status = $1, status_reason = $2, updated_at = $3 WHERE id = $4`,
			status, reason, now.UTC(), id)
		if err != nil {
			return fmt.Errorf("postgres: set connection status: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return relay.Errorf(relay.ENOTFOUND, "connection %s not found", id)
		}
		return bumpGeneration(ctx, tx)
	})
}

// SetConnectionMetadata merges keys into the metadata ("" deletes a key).
func (s *Store) SetConnectionMetadata(ctx context.Context, id string, kv map[string]string, now time.Time) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var raw string
		err := tx.QueryRow(ctx, `SELECT metadata FROM connections WHERE id = $1 FOR UPDATE`, id).Scan(&raw)
		if errors.Is(err, pgx.ErrNoRows) {
			return relay.Errorf(relay.ENOTFOUND, "connection %s not found", id)
		} else if err != nil {
			return fmt.Errorf("postgres: set connection metadata: %w", err)
		}
		m, err := jsoncolumn.ParseMap(raw)
		if err != nil {
			return fmt.Errorf("postgres: set connection metadata: %w", err)
		}
		meta, err := jsoncolumn.Map(relay.MergeMetadata(m, kv))
		if err != nil {
			return fmt.Errorf("postgres: set connection metadata: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE connections SET metadata = $1, updated_at = $2 WHERE id = $3`, meta, now.UTC(), id); err != nil {
			return fmt.Errorf("postgres: set connection metadata: %w", err)
		}
		return nil
	})
}

// SetTeardown records the teardown's progress.
func (s *Store) SetTeardown(ctx context.Context, id, step string, now time.Time) error {
	return s.connExecOne(ctx, "set teardown", id, `UPDATE connections SET teardown = $1, updated_at = $2 WHERE id = $3`, step, now.UTC(), id)
}

// DeleteConnection soft-deletes the connection and its resources and drops
// its token and webhook secret, in one transaction.
func (s *Store) DeleteConnection(ctx context.Context, id string, now time.Time) error {
	now = now.UTC()
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE connections SET status = 'deleted', deleted_at = COALESCE(deleted_at, $1),
			token_expires_at = 'epoch', updated_at = $1 WHERE id = $2`, now, id)
		if err != nil {
			return fmt.Errorf("postgres: delete connection: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return relay.Errorf(relay.ENOTFOUND, "connection %s not found", id)
		}
		if _, err := tx.Exec(ctx, `UPDATE resources SET deleted_at = $1 WHERE connection_id = $2 AND deleted_at IS NULL`, now, id); err != nil {
			return fmt.Errorf("postgres: delete connection: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM tokens WHERE connection_id = $1`, id); err != nil {
			return fmt.Errorf("postgres: delete connection: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM webhook_secrets WHERE connection_id = $1`, id); err != nil {
			return fmt.Errorf("postgres: delete connection: %w", err)
		}
		return bumpGeneration(ctx, tx)
	})
}

// ListResources returns the live resources of a connection.
func (s *Store) ListResources(ctx context.Context, connectionID string) ([]*relay.Resource, error) {
	rows, err := s.pool.Query(ctx, `SELECT connection_id, provider, external_id, kind, name, created_at
		FROM resources WHERE connection_id = $1 AND deleted_at IS NULL ORDER BY external_id`, connectionID)
	if err != nil {
		return nil, fmt.Errorf("postgres: list resources: %w", err)
	}
	defer rows.Close()
	out := []*relay.Resource{}
	for rows.Next() {
		var r relay.Resource
		if err := rows.Scan(&r.ConnectionID, &r.Provider, &r.ExternalID, &r.Kind, &r.Name, &r.CreatedAt); err != nil {
			return nil, fmt.Errorf("postgres: list resources: %w", err)
		}
		r.CreatedAt = r.CreatedAt.UTC()
		out = append(out, &r)
	}
	return out, rows.Err()
}

// UpdateResources adds (upserting, reviving) and removes resources.
func (s *Store) UpdateResources(ctx context.Context, connectionID string, add []*relay.Resource, remove []string, now time.Time) error {
	now = now.UTC()
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var provider string
		err := tx.QueryRow(ctx, `SELECT provider FROM connections WHERE id = $1`, connectionID).Scan(&provider)
		if errors.Is(err, pgx.ErrNoRows) {
			return relay.Errorf(relay.ENOTFOUND, "connection %s not found", connectionID)
		} else if err != nil {
			return fmt.Errorf("postgres: update resources: %w", err)
		}
		if err := upsertResources(ctx, tx, connectionID, provider, add, now); err != nil {
			return err
		}
		if len(remove) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE resources SET deleted_at = $1 WHERE connection_id = $2 AND external_id = ANY($3)
				AND deleted_at IS NULL`, now, connectionID, remove); err != nil {
				return fmt.Errorf("postgres: update resources: %w", err)
			}
		}
		return bumpGeneration(ctx, tx)
	})
}

// GetToken returns the connection's sealed token.
func (s *Store) GetToken(ctx context.Context, connectionID string) (*relay.SealedToken, error) {
	var t relay.SealedToken
	err := s.pool.QueryRow(ctx, `SELECT connection_id, key_id, ciphertext, expires_at, version FROM tokens
		WHERE connection_id = $1`, connectionID).Scan(&t.ConnectionID, &t.Sealed.KeyID, &t.Sealed.Ciphertext, &t.ExpiresAt, &t.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "connection %s holds no token", connectionID)
	} else if err != nil {
		return nil, fmt.Errorf("postgres: get token: %w", err)
	}
	t.ExpiresAt = fromTS(t.ExpiresAt)
	return &t, nil
}

// PutToken replaces the token if its version is still prevVersion.
func (s *Store) PutToken(ctx context.Context, t *relay.SealedToken, prevVersion int64) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE tokens SET key_id = $1, ciphertext = $2, expires_at = $3, version = version + 1,
			updated_at = now() WHERE connection_id = $4 AND version = $5`, t.Sealed.KeyID, t.Sealed.Ciphertext, ts(t.ExpiresAt),
			t.ConnectionID, prevVersion)
		if err != nil {
			return fmt.Errorf("postgres: put token: %w", err)
		}
		if tag.RowsAffected() == 0 {
			var v int64
			if err := tx.QueryRow(ctx, `SELECT version FROM tokens WHERE connection_id = $1`, t.ConnectionID).Scan(&v); errors.Is(err, pgx.ErrNoRows) {
				return relay.Errorf(relay.ENOTFOUND, "connection %s holds no token", t.ConnectionID)
			}
			return relay.Errorf(relay.ECONFLICT, "the token of connection %s changed meanwhile", t.ConnectionID)
		}
		t.Version = prevVersion + 1
		if _, err := tx.Exec(ctx, `UPDATE connections SET token_expires_at = $1 WHERE id = $2`, ts(t.ExpiresAt), t.ConnectionID); err != nil {
			return fmt.Errorf("postgres: put token: %w", err)
		}
		return nil
	})
}

// ResealAll re-encrypts every stored token, webhook secret and destination secret with fn,
// one row per transaction.
func (s *Store) ResealAll(ctx context.Context, fn func(relay.Sealed, []byte) (relay.Sealed, error)) (int, error) {
	rows, err := s.pool.Query(ctx, `SELECT connection_id FROM tokens ORDER BY connection_id`)
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
			var old relay.Sealed
			err := tx.QueryRow(ctx, `SELECT key_id, ciphertext FROM tokens WHERE connection_id = $1 FOR UPDATE`, id).Scan(&old.KeyID, &old.Ciphertext)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil // deleted meanwhile
			} else if err != nil {
				return fmt.Errorf("postgres: reseal: %w", err)
			}
			sealed, err := fn(old, relay.TokenAD(id))
			if err != nil {
				return fmt.Errorf("postgres: reseal token of %s: %w", id, err)
			}
			if sealed.Equal(old) {
				return nil // already under the first key, bound
			}
			if _, err := tx.Exec(ctx, `UPDATE tokens SET key_id = $1, ciphertext = $2, version = version + 1 WHERE connection_id = $3`,
				sealed.KeyID, sealed.Ciphertext, id); err != nil {
				return fmt.Errorf("postgres: reseal: %w", err)
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
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		released = 0
		// Matching and locking in one statement: a concurrent release of
		// the same account waits, then finds nothing left to release.
		rows, err := tx.Query(ctx, `UPDATE events SET org_id = $1, connection_id = $2, match = 'matched'
			WHERE id IN (SELECT id FROM events WHERE provider = $3 AND account_id = $4 AND match = 'unmatched' FOR UPDATE)
			RETURNING id, event_type, source, resource_id, payload`, r.OrgID, r.ConnectionID, r.Provider, r.AccountID)
		if err != nil {
			return fmt.Errorf("postgres: release held events: %w", err)
		}
		var held []relay.HeldEvent
		for rows.Next() {
			var h relay.HeldEvent
			if err := rows.Scan(&h.ID, &h.EventType, &h.Source, &h.ResourceID, &h.Payload); err != nil {
				rows.Close()
				return fmt.Errorf("postgres: release held events: %w", err)
			}
			held = append(held, h)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("postgres: release held events: %w", err)
		}
		b := &pgx.Batch{}
		for _, d := range r.Plan(held) {
			b.Queue(`INSERT INTO deliveries (id, event_id, destination_id, status, source, next_attempt_at,
					lease_owner, lease_until, created_at, updated_at, order_key)
				VALUES ($1, $2, $3, $4, $5, $6, '', 'epoch', $7, $8, $9) ON CONFLICT (event_id, destination_id) DO NOTHING`,
				d.ID, d.EventID, d.DestinationID, d.Status, d.Source, d.NextAttemptAt, d.CreatedAt, d.UpdatedAt, d.OrderKey)
		}
		if b.Len() > 0 {
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return fmt.Errorf("postgres: release held events: deliveries: %w", err)
			}
		}
		released = len(held)
		return nil
	})
	return released, err
}
