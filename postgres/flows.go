package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/relayhq/relay"
)

const oauthStateColumns = `state, provider, org_id, return_url, code_verifier, start_hash, binding_hash, expires_at, created_at`

func scanOAuthState(row pgx.Row) (*relay.OAuthState, error) {
	var st relay.OAuthState
	if err := row.Scan(&st.State, &st.Provider, &st.OrgID, &st.ReturnURL, &st.CodeVerifier, &st.StartHash, &st.BindingHash,
		&st.ExpiresAt, &st.CreatedAt); err != nil {
		return nil, err
	}
	st.ExpiresAt, st.CreatedAt = st.ExpiresAt.UTC(), st.CreatedAt.UTC()
	return &st, nil
}

// GetOAuthState returns a pending state without taking it (ENOTFOUND).
func (s *Store) GetOAuthState(ctx context.Context, state string) (*relay.OAuthState, error) {
	st, err := scanOAuthState(s.pool.QueryRow(ctx, `SELECT `+oauthStateColumns+` FROM oauth_states WHERE state = $1`, state))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, relay.Errorf(relay.ENOTFOUND, "oauth state not found")
	} else if err != nil {
		return nil, fmt.Errorf("postgres: get oauth state: %w", err)
	}
	return st, nil
}

// BindOAuthState binds the state of a start link to a browser, once
// (ENOTFOUND for an unknown link, ECONFLICT when it was already opened).
// The conditional update decides between concurrent binders: the row lock
// makes the second wait and then find binding_hash set.
func (s *Store) BindOAuthState(ctx context.Context, startHash, bindingHash string) (*relay.OAuthState, error) {
	if startHash == "" {
		return nil, relay.Errorf(relay.ENOTFOUND, "oauth state not found")
	}
	st, err := scanOAuthState(s.pool.QueryRow(ctx, `UPDATE oauth_states SET binding_hash = $1
		WHERE start_hash = $2 AND binding_hash = '' RETURNING `+oauthStateColumns, bindingHash, startHash))
	if errors.Is(err, pgx.ErrNoRows) {
		var exists bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM oauth_states WHERE start_hash = $1)`, startHash).Scan(&exists); err != nil {
			return nil, fmt.Errorf("postgres: bind oauth state: %w", err)
		}
		if exists {
			return nil, relay.Errorf(relay.ECONFLICT, "the connect link was already opened")
		}
		return nil, relay.Errorf(relay.ENOTFOUND, "oauth state not found")
	} else if err != nil {
		return nil, fmt.Errorf("postgres: bind oauth state: %w", err)
	}
	return st, nil
}

// ConnectionGeneration returns the connection generation.
func (s *Store) ConnectionGeneration(ctx context.Context) (int64, error) {
	var g int64
	if err := s.pool.QueryRow(ctx, `SELECT generation FROM connection_generation WHERE id = 1`).Scan(&g); err != nil {
		return 0, fmt.Errorf("postgres: connection generation: %w", err)
	}
	return g, nil
}

// bumpGeneration increases the connection generation inside tx, the
// transaction of the change that calls for it. It is the transaction's
// last statement, so the row is locked only until the commit and always
// after the connection's own row (no lock-order deadlock).
func bumpGeneration(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `UPDATE connection_generation SET generation = generation + 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("postgres: connection generation: %w", err)
	}
	return nil
}
