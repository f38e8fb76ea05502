package sqlite_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

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
