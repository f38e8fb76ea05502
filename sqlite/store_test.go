package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/sqlite"
	"github.com/relayhq/relay/storetest"
)

func openStore(tb testing.TB) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(filepath.Join(tb.TempDir(), "relay.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) relay.Store { return openStore(t) })
}

// BenchmarkStoreInsertEvents: one op is a batch of 100 events with one delivery each.
func BenchmarkStoreInsertEvents(b *testing.B) { storetest.BenchInsertEvents(b, openStore(b)) }

// BenchmarkStoreClaimRecord: one op claims 100 deliveries and records 100 outcomes.
func BenchmarkStoreClaimRecord(b *testing.B) { storetest.BenchClaimRecord(b, openStore(b)) }

func TestSecrets(t *testing.T) {
	storetest.RunSecrets(t, func(t *testing.T) storetest.Opener {
		path := filepath.Join(t.TempDir(), "relay.db")
		return func(sealer relay.Sealer) relay.Store {
			s, err := sqlite.Open(path, sqlite.WithSealer(sealer))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			if err := s.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			return s
		}
	})
}
