package sqlite_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/sqlite"
)

// A backup of a data dir without a database fails, and neither creates a
// database there nor leaves an empty copy behind.
func TestBackupOfMissingDatabase(t *testing.T) {
	dir := t.TempDir()
	db, dest := filepath.Join(dir, "relay.db"), filepath.Join(dir, "copy.db")
	if _, err := sqlite.Backup(context.Background(), db, dest); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("backup of a missing database: %v, want not exist", err)
	}
	for _, p := range []string{db, dest} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists after the failed backup", p)
		}
	}
}

// CheckpointedSize moves what the WAL holds into the file and empties the
// WAL, so the size it returns is the file's alone; a missing database is
// an error and is not created.
func TestCheckpointedSize(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	d := &relay.Destination{ID: relay.NewID("dst", time.Now()), Name: "app", URL: "http://127.0.0.1:9/app", Secret: relay.NewSecret(),
		Providers: []string{"github"}, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := s.CreateDestination(ctx, d); err != nil {
		t.Fatal(err)
	}
	wal := func() int64 {
		fi, err := os.Stat(s.Path() + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	if wal() == 0 {
		t.Fatal("nothing in the WAL to checkpoint")
	}
	got, err := sqlite.CheckpointedSize(ctx, s.Path())
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if wal() != 0 || got != fi.Size() || got == 0 {
		t.Fatalf("checkpointed size %d, file %d, WAL %d: want the WAL empty and the file's size", got, fi.Size(), wal())
	}
	missing := filepath.Join(t.TempDir(), "relay.db")
	if _, err := sqlite.CheckpointedSize(ctx, missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing database: %v, want not exist", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("checkpointing a missing database created it")
	}
}
