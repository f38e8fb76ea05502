package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/relayhq/relay"
)

var _ relay.WriteProber = (*Store)(nil)

// probePad is how much the probe allocates: some pages, as a batch of
// events needs. A database with less free room is as good as full.
const probePad = 64 << 10

// ProbeWrite checks, in one write transaction, that events could be stored
// now. Rewriting a row in place needs no new page, so it would succeed on a
// full database: the probe first inserts a scratch row of probePad bytes
// (which needs free pages) and rolls it back to a savepoint, then commits a
// one-row update (which needs room in the WAL and an fsync). It returns the
// first failure, e.g. SQLITE_FULL.
func (s *Store) ProbeWrite(ctx context.Context) error {
	return s.inTx(ctx, "probe write", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `SAVEPOINT room`); err != nil {
			return fmt.Errorf("sqlite: probe write: %w", err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO relay_probe (id, writes, pad) VALUES (2, 0, zeroblob(?))`, probePad)
		if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO room`); rerr != nil && err == nil {
			err = rerr
		}
		if err != nil {
			return fmt.Errorf("sqlite: probe write: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `RELEASE room`); err != nil {
			return fmt.Errorf("sqlite: probe write: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO relay_probe (id, writes) VALUES (1, 1)
			ON CONFLICT (id) DO UPDATE SET writes = writes + 1`); err != nil {
			return fmt.Errorf("sqlite: probe write: %w", err)
		}
		return nil
	})
}
