package postgres_test

import (
	"context"
	"net/url"
	"sync"
	"testing"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/postgres"
	"github.com/relayhq/relay/storetest"
)

// open returns a migrated store on a fresh schema, dropped when tb ends.
func open(tb testing.TB) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(context.Background(), storetest.PostgresSchemaURL(tb))
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
	storetest.Run(t, func(t *testing.T) relay.Store { return open(t) })
}

// TestConcurrentMigrate starts several replicas on one empty schema at once:
// the advisory lock lets exactly one apply each migration. Half of them name
// the schema in the options parameter instead of search_path.
func TestConcurrentMigrate(t *testing.T) {
	ctx := context.Background()
	schemaURL := storetest.PostgresSchemaURL(t)
	u, err := url.Parse(schemaURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	schema := q.Get("search_path")
	q.Del("search_path")
	// pgx unescapes parameters as paths ("+" stays "+"), so spell the space %20.
	u.RawQuery = q.Encode() + "&options=" + "-c%20search_path%3D" + schema
	optionsURL := u.String()

	stores := make([]*postgres.Store, 6)
	for i := range stores {
		dbURL := schemaURL
		if i%2 == 1 {
			dbURL = optionsURL
		}
		s, err := postgres.Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	if err := stores[0].Ready(ctx); err == nil {
		t.Fatal("Ready before Migrate returned nil")
	}
	var wg sync.WaitGroup
	errs := make([]error, len(stores))
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Migrate(ctx)
		}()
	}
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Fatalf("replica %d: migrate: %v", i, errs[i])
		}
		if err := s.Ready(ctx); err != nil {
			t.Fatalf("replica %d: ready: %v", i, err)
		}
	}
	// Every replica sees the same schema: what one writes the others read.
	if err := stores[0].CreateAPIKey(ctx, &relay.APIKey{ID: "key_1", Name: "k", Hash: relay.HashAPIKey("k")}); err != nil {
		t.Fatal(err)
	}
	for i, s := range stores {
		if n, err := s.CountAPIKeys(ctx); err != nil || n != 1 {
			t.Fatalf("replica %d: %d keys (%v), want 1", i, n, err)
		}
	}
}

func TestSecrets(t *testing.T) {
	storetest.RunSecrets(t, func(t *testing.T) storetest.Opener {
		url := storetest.PostgresSchemaURL(t)
		return func(sealer relay.Sealer) relay.Store {
			s, err := postgres.Open(context.Background(), url, postgres.WithSealer(sealer))
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
