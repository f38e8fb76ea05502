package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/relayhq/relay"
)

const oauthStateColumns = `state, provider, org_id, return_url, code_verifier, start_hash, binding_hash, expires_at, created_at`

func scanOAuthState(row scanner) (*relay.OAuthState, error) {
	var st relay.OAuthState
	var exp, created int64
	if err := row.Scan(&st.State, &st.Provider, &st.OrgID, &st.ReturnURL, &st.CodeVerifier, &st.StartHash, &st.BindingHash,
		&exp, &created); err != nil {
		return nil, err
	}
	st.ExpiresAt, st.CreatedAt = fromMS(exp), fromMS(created)
	return &st, nil
}

// GetOAuthState returns a pending state without taking it (ENOTFOUND).
func (s *Store) GetOAuthState(ctx context.Context, state string) (*relay.OAuthState, error) {
	st, err := scanOAuthState(s.reader.QueryRowContext(ctx, `SELECT `+oauthStateColumns+` FROM oauth_states WHERE state = ?`, state))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "oauth state not found")
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: get oauth state: %w", err)
	}
	return st, nil
}

// BindOAuthState binds the state of a start link to a browser, once
// (ENOTFOUND for an unknown link, ECONFLICT when it was already opened).
// The single writer makes the check and the update one step.
func (s *Store) BindOAuthState(ctx context.Context, startHash, bindingHash string) (*relay.OAuthState, error) {
	if startHash == "" {
		return nil, relay.Errorf(relay.ENOTFOUND, "oauth state not found")
	}
	st, err := scanOAuthState(s.writer.QueryRowContext(ctx, `UPDATE oauth_states SET binding_hash = ?
		WHERE start_hash = ? AND binding_hash = '' RETURNING `+oauthStateColumns, bindingHash, startHash))
	if errors.Is(err, sql.ErrNoRows) {
		var n int
		if err := s.writer.QueryRowContext(ctx, `SELECT count(*) FROM oauth_states WHERE start_hash = ?`, startHash).Scan(&n); err != nil {
			return nil, fmt.Errorf("sqlite: bind oauth state: %w", err)
		}
		if n > 0 {
			return nil, relay.Errorf(relay.ECONFLICT, "the connect link was already opened")
		}
		return nil, relay.Errorf(relay.ENOTFOUND, "oauth state not found")
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: bind oauth state: %w", err)
	}
	return st, nil
}

// ConnectionGeneration returns the connection generation.
func (s *Store) ConnectionGeneration(ctx context.Context) (int64, error) {
	var g int64
	if err := s.reader.QueryRowContext(ctx, `SELECT generation FROM connection_generation WHERE id = 1`).Scan(&g); err != nil {
		return 0, fmt.Errorf("sqlite: connection generation: %w", err)
	}
	return g, nil
}

// bumpGeneration increases the connection generation inside tx, the
// transaction of the change that calls for it.
func bumpGeneration(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `UPDATE connection_generation SET generation = generation + 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("sqlite: connection generation: %w", err)
	}
	return nil
}
