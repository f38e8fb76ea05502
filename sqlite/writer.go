package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/relayhq/relay"
)

// SQLite has one writer. The ingest pipeline's event batches and the
// delivery engine's outcome batches arrive concurrently; rather than take
// turns on the write lock with a commit and an fsync each, they are merged
// here into one transaction: whatever is waiting when the writer is free
// goes into the next commit.

type writeReq struct {
	items    []*relay.IngestItem
	outcomes []*relay.Outcome
	now      time.Time
	done     chan error
}

// maxMerged bounds how many requests share one transaction.
const maxMerged = 64

var errClosed = errors.New("sqlite: store closed")

// InsertEvents stores the batch durably; it may share its commit with
// other writes waiting at the same time.
func (s *Store) InsertEvents(ctx context.Context, items []*relay.IngestItem) error {
	if len(items) == 0 {
		return nil
	}
	return s.write(ctx, &writeReq{items: items})
}

// RecordOutcomes applies a batch of attempt outcomes; it may share its
// commit with other writes waiting at the same time.
func (s *Store) RecordOutcomes(ctx context.Context, outcomes []*relay.Outcome, now time.Time) error {
	if len(outcomes) == 0 {
		return nil
	}
	return s.write(ctx, &writeReq{outcomes: outcomes, now: now})
}

func (s *Store) write(ctx context.Context, r *writeReq) error {
	r.done = make(chan error, 1)
	select {
	case s.writes <- r:
	case <-s.stop:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued it will be written or failed; the answer must match.
	select {
	case err := <-r.done:
		return err
	case <-s.writerDone:
		select {
		case err := <-r.done:
			return err
		default:
			return errClosed // queued as the store closed: not written
		}
	}
}

// writeLoop merges waiting write requests into single transactions.
func (s *Store) writeLoop() {
	defer close(s.writerDone)
	batch := make([]*writeReq, 0, maxMerged)
	for {
		var r *writeReq
		select {
		case r = <-s.writes:
		case <-s.stop:
			for {
				select {
				case r := <-s.writes:
					r.done <- errClosed
				default:
					return
				}
			}
		}
		batch = append(batch[:0], r)
	fill:
		for len(batch) < maxMerged {
			select {
			case r := <-s.writes:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		err := s.applyWrites(batch)
		if err != nil && len(batch) > 1 {
			// Do not let one request's failure fail the others: write each alone.
			for _, r := range batch {
				r.done <- s.applyWrites([]*writeReq{r})
			}
			continue
		}
		for _, r := range batch {
			r.done <- err
		}
	}
}

func (s *Store) applyWrites(batch []*writeReq) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: write: %w", err)
	}
	defer tx.Rollback()
	var items []*relay.IngestItem
	for _, r := range batch {
		items = append(items, r.items...)
	}
	if len(items) > 0 {
		if err := insertEventsTx(ctx, tx, items); err != nil {
			return err
		}
	}
	for _, r := range batch {
		if len(r.outcomes) > 0 {
			if err := recordOutcomesTx(ctx, tx, r.outcomes, r.now); err != nil {
				return err
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: write: commit: %w", err)
	}
	return nil
}
