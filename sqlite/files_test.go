package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/sqlite"
)

// TestFilesArePrivate: the database, its WAL and shared-memory files are
// created 0600 and a missing data dir 0700, whatever the umask; a database
// an earlier version left 0644 is tightened.
func TestFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022) // the common default, which would give 0644
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "relay.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAPIKey(ctx, &relay.APIKey{ID: "key_1", Name: "k", Hash: relay.HashAPIKey("k")}); err != nil {
		t.Fatal(err)
	}
	modes := func() {
		t.Helper()
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("data dir: %v %v", fi.Mode().Perm(), err)
		}
		for _, name := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(name)
			if err != nil {
				t.Errorf("%s: %v", filepath.Base(name), err)
			} else if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, want 0600", filepath.Base(name), fi.Mode().Perm())
			}
		}
	}
	modes()
	s.Close()

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CountAPIKeys(ctx); err != nil {
		t.Fatal(err)
	}
	modes()
}
