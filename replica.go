package relay

import (
	"context"
	"time"
)

// ReplicaStore is implemented by a Store that several replicas share
// (PostgreSQL). Each replica beats a heartbeat while it runs, so when one
// dies the others release its leases as soon as its heartbeat is stale,
// instead of waiting out every lease (which must be long enough for the
// slowest request). A single-process store (SQLite) has no need of it: at
// start-up every lease it holds is a dead process's.
type ReplicaStore interface {
	// Heartbeat records that owner (a lease owner id) is alive at now,
	// registering it on its first beat.
	Heartbeat(ctx context.Context, owner string, now time.Time) error
	// ReleaseStaleLeases forgets every replica whose last heartbeat is
	// before staleBefore and releases its leases: its undelivered
	// deliveries become due at once, first in line, as ReleaseLeases makes
	// them. It returns how many deliveries it released.
	ReleaseStaleLeases(ctx context.Context, staleBefore time.Time) (int, error)
	// RemoveReplica forgets owner: it stopped cleanly, its leases given back.
	RemoveReplica(ctx context.Context, owner string) error
}
