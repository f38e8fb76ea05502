package sqlite

import (
	"context"
	"fmt"
)

// ReleaseAllLeases clears every lease on undelivered deliveries and makes
// them due at once, first in line, returning how many it released. Call it
// at start-up, before delivering, while holding the data directory's lock:
// one process owns a SQLite database, so any lease found then was taken by
// a process that died (a clean stop gives its leases back), and waiting for
// it to run out would hold acknowledged events back for a whole lease.
func (s *Store) ReleaseAllLeases(ctx context.Context) (int, error) {
	res, err := s.writer.ExecContext(ctx, `UPDATE deliveries SET lease_owner = '', lease_until = 0, next_attempt_at = 0
		WHERE status IN ('pending', 'retrying') AND lease_owner <> ''`)
	if err != nil {
		return 0, fmt.Errorf("sqlite: release all leases: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
