package postgres_test

import (
	"context"
	"testing"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/postgres"
	"github.com/relayhq/relay/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) relay.Store {
		s, err := postgres.Open(context.Background(), storetest.PostgresSchemaURL(t))
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
