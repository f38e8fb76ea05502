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

const connectSessionColumns = `id, org_id, providers, return_url, expires_at, created_at`

// CreateConnectSession stores a session under its token's hash (ECONFLICT
// when the id or the hash exists). Sessions expired for a day are swept
// first; foreign keys are off, so their connections are deleted by hand.
func (s *Store) CreateConnectSession(ctx context.Context, cs *relay.ConnectSession, tokenHash string) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: create connect session: %w", err)
	}
	defer tx.Rollback()
	cutoff := ms(cs.CreatedAt.Add(-24 * time.Hour))
	if _, err := tx.ExecContext(ctx, `DELETE FROM connect_session_connections WHERE session_id IN
		(SELECT id FROM connect_sessions WHERE expires_at < ?)`, cutoff); err != nil {
		return fmt.Errorf("sqlite: create connect session: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM connect_sessions WHERE expires_at < ?`, cutoff); err != nil {
		return fmt.Errorf("sqlite: create connect session: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO connect_sessions (`+connectSessionColumns+`, token_hash) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		cs.ID, cs.OrgID, jsoncolumn.List(cs.Providers), cs.ReturnURL, ms(cs.ExpiresAt), ms(cs.CreatedAt), tokenHash)
	if isUnique(err) {
		return relay.Errorf(relay.ECONFLICT, "connect session exists")
	} else if err != nil {
		return fmt.Errorf("sqlite: create connect session: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: create connect session: %w", err)
	}
	return nil
}

// GetConnectSession returns a session with its connections (ENOTFOUND).
func (s *Store) GetConnectSession(ctx context.Context, id string) (*relay.ConnectSession, error) {
	return s.getConnectSession(ctx, `id = ?`, id)
}

// GetConnectSessionByToken returns the session whose token hashes to
// tokenHash (ENOTFOUND).
func (s *Store) GetConnectSessionByToken(ctx context.Context, tokenHash string) (*relay.ConnectSession, error) {
	return s.getConnectSession(ctx, `token_hash = ?`, tokenHash)
}

func (s *Store) getConnectSession(ctx context.Context, where string, arg string) (*relay.ConnectSession, error) {
	var cs relay.ConnectSession
	var providers string
	var exp, created int64
	err := s.reader.QueryRowContext(ctx, `SELECT `+connectSessionColumns+` FROM connect_sessions WHERE `+where, arg).
		Scan(&cs.ID, &cs.OrgID, &providers, &cs.ReturnURL, &exp, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "connect session not found")
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: get connect session: %w", err)
	}
	cs.ExpiresAt, cs.CreatedAt = fromMS(exp), fromMS(created)
	if cs.Providers, err = jsoncolumn.ParseList(providers); err != nil {
		return nil, fmt.Errorf("sqlite: get connect session: providers: %w", err)
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT provider, connection_id FROM connect_session_connections WHERE session_id = ?`, cs.ID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get connect session: %w", err)
	}
	defer rows.Close()
	cs.Connected = map[string]string{}
	for rows.Next() {
		var p, c string
		if err := rows.Scan(&p, &c); err != nil {
			return nil, fmt.Errorf("sqlite: get connect session: %w", err)
		}
		cs.Connected[p] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: get connect session: %w", err)
	}
	return &cs, nil
}

// AddSessionConnection records provider's connection through the session,
// once (ECONFLICT when it was; ENOTFOUND for an unknown session). The
// single writer makes the check and the insert one step.
func (s *Store) AddSessionConnection(ctx context.Context, sessionID, provider, connectionID string, at time.Time) error {
	res, err := s.writer.ExecContext(ctx, `INSERT INTO connect_session_connections (session_id, provider, connection_id, created_at)
		SELECT id, ?, ?, ? FROM connect_sessions WHERE id = ?`, provider, connectionID, ms(at), sessionID)
	if isUnique(err) {
		return relay.Errorf(relay.ECONFLICT, "%s was already connected through this session", provider)
	} else if err != nil {
		return fmt.Errorf("sqlite: add session connection: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return relay.Errorf(relay.ENOTFOUND, "connect session not found")
	}
	return nil
}
