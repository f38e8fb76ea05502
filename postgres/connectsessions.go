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

const connectSessionColumns = `id, org_id, providers, return_url, expires_at, created_at`

// CreateConnectSession stores a session under its token's hash (ECONFLICT
// when the id or the hash exists). Sessions expired for a day are swept
// first, their connections with them (ON DELETE CASCADE).
func (s *Store) CreateConnectSession(ctx context.Context, cs *relay.ConnectSession, tokenHash string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM connect_sessions WHERE expires_at < $1`, cs.CreatedAt.Add(-24*time.Hour).UTC()); err != nil {
		return fmt.Errorf("postgres: create connect session: %w", err)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO connect_sessions (`+connectSessionColumns+`, token_hash) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		cs.ID, cs.OrgID, jsoncolumn.List(cs.Providers), cs.ReturnURL, cs.ExpiresAt.UTC(), cs.CreatedAt.UTC(), tokenHash)
	if isUnique(err) {
		return relay.Errorf(relay.ECONFLICT, "connect session exists")
	} else if err != nil {
		return fmt.Errorf("postgres: create connect session: %w", err)
	}
	return nil
}

// GetConnectSession returns a session with its connections (ENOTFOUND).
func (s *Store) GetConnectSession(ctx context.Context, id string) (*relay.ConnectSession, error) {
	return s.getConnectSession(ctx, `id = $1`, id)
}

// GetConnectSessionByToken returns the session whose token hashes to
// tokenHash (ENOTFOUND).
func (s *Store) GetConnectSessionByToken(ctx context.Context, tokenHash string) (*relay.ConnectSession, error) {
	return s.getConnectSession(ctx, `token_hash = $1`, tokenHash)
}

func (s *Store) getConnectSession(ctx context.Context, where string, arg string) (*relay.ConnectSession, error) {
	var cs relay.ConnectSession
	var providers string
	err := s.pool.QueryRow(ctx, `SELECT `+connectSessionColumns+` FROM connect_sessions WHERE `+where, arg).
		Scan(&cs.ID, &cs.OrgID, &providers, &cs.ReturnURL, &cs.ExpiresAt, &cs.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "connect session not found")
	} else if err != nil {
		return nil, fmt.Errorf("postgres: get connect session: %w", err)
	}
	cs.ExpiresAt, cs.CreatedAt = cs.ExpiresAt.UTC(), cs.CreatedAt.UTC()
	if cs.Providers, err = jsoncolumn.ParseList(providers); err != nil {
		return nil, fmt.Errorf("postgres: get connect session: providers: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT provider, connection_id FROM connect_session_connections WHERE session_id = $1`, cs.ID)
	if err != nil {
		return nil, fmt.Errorf("postgres: get connect session: %w", err)
	}
	defer rows.Close()
	cs.Connected = map[string]string{}
	for rows.Next() {
		var p, c string
		if err := rows.Scan(&p, &c); err != nil {
			return nil, fmt.Errorf("postgres: get connect session: %w", err)
		}
		cs.Connected[p] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: get connect session: %w", err)
	}
	return &cs, nil
}

// AddSessionConnection records provider's connection through the session,
// once (ECONFLICT when it was; ENOTFOUND for an unknown session): the
// primary key decides between concurrent callers.
func (s *Store) AddSessionConnection(ctx context.Context, sessionID, provider, connectionID string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO connect_session_connections (session_id, provider, connection_id, created_at)
		SELECT id, $2, $3, $4 FROM connect_sessions WHERE id = $1`, sessionID, provider, connectionID, at.UTC())
	if isUnique(err) {
		return relay.Errorf(relay.ECONFLICT, "%s was already connected through this session", provider)
	} else if err != nil {
		return fmt.Errorf("postgres: add session connection: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return relay.Errorf(relay.ENOTFOUND, "connect session not found")
	}
	return nil
}
