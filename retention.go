package relay

import (
	"context"
	"time"
)

// RetentionBatch is how many events a Pruner deletes per transaction by
// default: small enough that ingest, which shares SQLite's single writer,
// never waits long on a batch, large enough that a day's backlog clears in
// minutes.
const RetentionBatch = 2000

// Prune is one bounded batch of retention work for a Pruner.
type Prune struct {
	// Before deletes events received before it whose deliveries are all
	// terminal (succeeded or dead, or none), with their deliveries and
	// attempts. Held events are not concerned. The zero time deletes none.
	Before time.Time
	// HeldBefore deletes held events (MatchUnmatched, never released)
	// received before it. The zero time deletes none.
	HeldBefore time.Time
	// Limit caps the events deleted by this batch, of each kind; 0 means
	// RetentionBatch.
	Limit int
	// Now is when the batch runs: expirations of held events are recorded at it.
	Now time.Time
}

// Pruned is what one Prune batch deleted.
type Pruned struct {
	Events     int // events past Before, with no undelivered work
	Deliveries int // their deliveries
	Attempts   int // their deliveries' attempts
	Held       int // held events past HeldBefore
	// Busy is set when another replica holds the retention lock: this batch
	// did nothing and the pass should end.
	Busy bool
}

// More reports whether a batch deleted as many events as it was allowed
// of either kind, so that more may remain.
func (p Pruned) More(limit int) bool {
	if limit <= 0 {
		limit = RetentionBatch
	}
	return !p.Busy && (p.Events >= limit || p.Held >= limit)
}

// HeldExpiry records that held events of one provider account expired
// unreleased: how many in all, and when last.
type HeldExpiry struct {
	Provider      string    `json:"provider"`
	AccountID     string    `json:"account_id"`
	Expired       int       `json:"expired"`
	LastExpiredAt time.Time `json:"last_expired_at"`
}

// Pruner is the storage retention needs. Both stores implement it; package
// storetest's RunRetention is its conformance suite.
type Pruner interface {
	// PruneEvents deletes one batch as p says, in one transaction. Events
	// with a pending or retrying delivery are never deleted, whatever their
	// age. Each held event deleted is counted in its account's HeldExpiry.
	// On PostgreSQL one replica prunes at a time: a batch that finds another
	// replica pruning returns Pruned.Busy. Errors are wrapped database errors.
	PruneEvents(ctx context.Context, p Prune) (Pruned, error)
	// HeldExpiries returns the accounts whose held events expired, by
	// provider and account.
	HeldExpiries(ctx context.Context) ([]HeldExpiry, error)
	// Compact gives the space freed by pruning back for reuse (SQLite:
	// incremental vacuum and a WAL truncation; PostgreSQL: nothing, its
	// autovacuum does it). Errors are wrapped database errors.
	Compact(ctx context.Context) error
	// Size returns the database's size in bytes (SQLite: the file and its
	// WAL; PostgreSQL: pg_database_size).
	Size(ctx context.Context) (int64, error)
}
