package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/relayhq/relay"
)

// Event batches (the ingest pipeline's group commits) and outcome batches
// (the delivery engine's) each get their own transaction. Merging them into
// one commit was measured and rejected: every webhook's acknowledgement then
// waited for delivery bookkeeping too (-9 % accepted/s, +2 ms p99;
// BENCHMARKS.md).

// InsertEvents stores the batch in one transaction: one commit, one fsync.
func (s *Store) InsertEvents(ctx context.Context, items []*relay.IngestItem) error {
	if len(items) == 0 {
		return nil
	}
	st, err := s.stmts(ctx)
	if err != nil {
		return err
	}
	payloads := packPayloads(items)
	return s.inTx(ctx, "insert events", func(tx *sql.Tx) error { return insertEventsTx(rowContext(ctx), tx, st, items, payloads) })
}

// RecordOutcomes applies a batch of attempt outcomes in one transaction.
func (s *Store) RecordOutcomes(ctx context.Context, outcomes []*relay.Outcome, now time.Time) error {
	if len(outcomes) == 0 {
		return nil
	}
	st, err := s.stmts(ctx)
	if err != nil {
		return err
	}
	return s.inTxUnsynced(ctx, "record outcomes", func(tx *sql.Tx) error { return recordOutcomesTx(rowContext(ctx), tx, st, outcomes, now) })
}

// rowContext is the context of a batch's per-row statements: ctx without
// its cancellation. The driver watches a cancellable context with a
// goroutine per statement (about 3 % of the CPU of an ingested and
// delivered event); a batch's rows take microseconds each, and ctx still
// bounds the batch, through its transaction and its commit.
func rowContext(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// inTx runs fn in a write transaction and commits it.
func (s *Store) inTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	return runTx(tx, err, op, fn)
}

// runTx runs fn in tx, just begun (or not, with err), and commits it; it
// rolls back when fn fails.
func runTx(tx *sql.Tx, err error, op string, fn func(tx *sql.Tx) error) error {
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: %s: commit: %w", op, err)
	}
	return nil
}

// inTxUnsynced is inTx for writes that may be lost in a power failure,
// committed without waiting for the disk (synchronous NORMAL for this one
// transaction). An outcome is such a write: losing it only means the
// delivery is sent again, which at-least-once delivery allows, and a
// process crash loses nothing (the WAL frames are in the kernel's page
// cache). What skipping the fsync buys is that an ingest commit queued
// behind an outcome batch no longer waits for the disk twice. The next
// synchronous commit's fsync of the WAL covers these frames too, so a
// webhook acknowledged after them is on disk with them.
//
// The pragma is per connection: the transaction runs on a connection held
// for its duration, and the connection is discarded rather than returned
// to the pool if FULL cannot be restored.
func (s *Store) inTxUnsynced(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	conn, err := s.writer.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	defer func() {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = FULL`); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	return runTx(tx, err, op, fn)
}
