package postgres

import (
	"context"
	"fmt"

	"github.com/relayhq/relay"
)

var _ relay.WriteProber = (*Store)(nil)

// ProbeWrite commits a one-row update, which needs the server to accept
// writes and to flush its WAL. It returns the database's error.
func (s *Store) ProbeWrite(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO relay_probe (id, writes) VALUES (1, 1)
		ON CONFLICT (id) DO UPDATE SET writes = relay_probe.writes + 1`); err != nil {
		return fmt.Errorf("postgres: probe write: %w", err)
	}
	return nil
}
