package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
)

// Backup writes a consistent copy of the SQLite database at path to the new
// file dest, while other processes (a running `relay serve`) keep writing
// to it: VACUUM INTO reads one snapshot of the database in a read
// transaction, so it never blocks the writer and sees each transaction
// wholly or not at all. dest is created 0600 and must not exist: a backup
// never overwrites. The copy is a rollback-journal database holding
// everything Relay keeps in SQLite (River's jobs included); it is compacted
// and synced to disk before Backup returns. It returns the copy's size.
// Errors: dest exists (fs.ErrExist), the database is missing
// (fs.ErrNotExist), or SQLite's, wrapped.
func Backup(ctx context.Context, path, dest string) (int64, error) {
	if _, err := os.Stat(path); err != nil {
		return 0, fmt.Errorf("sqlite: backup: %w", err)
	}
	// Creating dest first, exclusively, is what refuses to overwrite (also
	// when two backups race) and makes it private from the start: VACUUM
	// INTO accepts an existing empty file.
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return 0, fmt.Errorf("sqlite: backup: %s exists; a backup never overwrites a file: %w", dest, err)
		}
		return 0, fmt.Errorf("sqlite: backup: %w", err)
	}
	f.Close()
	size, err := vacuumInto(ctx, path, dest)
	if err != nil {
		os.Remove(dest)
		return 0, err
	}
	return size, nil
}

func vacuumInto(ctx context.Context, path, dest string) (int64, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return 0, fmt.Errorf("sqlite: backup: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dest); err != nil {
		return 0, fmt.Errorf("sqlite: backup: %w", err)
	}
	f, err := os.OpenFile(dest, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("sqlite: backup: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("sqlite: backup: sync: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("sqlite: backup: %w", err)
	}
	return fi.Size(), nil
}

// CheckpointedSize copies every frame of the WAL of the SQLite database at
// path into the database file, truncates the WAL, and returns the size of
// the file and what is left of its WAL (nothing, unless another process
// still writes): what the data takes on disk once nothing is pending in the
// log. It is meant for a database no process is writing, such as a stopped
// relay serve's, which relay bench measures. Errors: the database is
// missing (fs.ErrNotExist), a checkpoint blocked by another connection, or
// SQLite's, wrapped.
func CheckpointedSize(ctx context.Context, path string) (int64, error) {
	if _, err := os.Stat(path); err != nil {
		return 0, fmt.Errorf("sqlite: checkpoint: %w", err)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return 0, fmt.Errorf("sqlite: checkpoint: %w", err)
	}
	defer db.Close()
	var busy, logFrames, checkpointed int
	if err := db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &checkpointed); err != nil {
		return 0, fmt.Errorf("sqlite: checkpoint: %w", err)
	}
	if busy != 0 {
		return 0, fmt.Errorf("sqlite: checkpoint: blocked by another connection (%d of %d frames copied)", checkpointed, logFrames)
	}
	var total int64
	for _, name := range []string{path, path + "-wal"} {
		fi, err := os.Stat(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return 0, fmt.Errorf("sqlite: checkpoint: %w", err)
		}
		total += fi.Size()
	}
	return total, nil
}
