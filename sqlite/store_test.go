package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/sqlite"
	"github.com/relayhq/relay/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) relay.Store {
		s, err := sqlite.Open(filepath.Join(t.TempDir(), "relay.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	})
}
