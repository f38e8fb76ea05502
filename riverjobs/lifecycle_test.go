package riverjobs_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/postgres"
	"github.com/relayhq/relay/riverjobs"
	"github.com/relayhq/relay/storetest"
)

// A lifecycle confirmation that failed (the provider was down) is run
// again with the same claimed change.
func testLifecycleRetried(t *testing.T, open func(riverjobs.Handlers) (*riverjobs.Queue, error)) {
	ctx := context.Background()
	var mu sync.Mutex
	var runs []*relay.LifecycleChange
	h := riverjobs.Handlers{
		Lifecycle: func(ctx context.Context, provider string, ch *relay.LifecycleChange) error {
			mu.Lock()
			defer mu.Unlock()
			if provider != "github" {
				t.Errorf("provider %q", provider)
			}
			runs = append(runs, ch)
			if len(runs) == 1 {
				return errors.New("provider down")
			}
			return nil
		},
	}
	q, err := open(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx, h); err != nil {
		t.Fatal(err)
	}
	defer q.Stop(context.Background())
	claim := &relay.LifecycleChange{AccountID: "42", Status: relay.ConnectionRevoked, Reason: "installation deleted",
		RemoveResources: []string{"7"}}
	if err := q.EnqueueLifecycle(ctx, "github", claim); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the retried confirmation", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(runs) == 2
	})
	mu.Lock()
	defer mu.Unlock()
	if got := runs[1]; got.AccountID != "42" || got.Status != relay.ConnectionRevoked || got.Reason != claim.Reason ||
		len(got.RemoveResources) != 1 || got.RemoveResources[0] != "7" {
		t.Fatalf("retried with %+v", got)
	}
}

func TestLifecycleRetriedSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.db")
	testLifecycleRetried(t, func(h riverjobs.Handlers) (*riverjobs.Queue, error) {
		return riverjobs.OpenSQLite(context.Background(), path, riverjobs.Options{}, quiet)
	})
}

func TestLifecycleRetriedPostgres(t *testing.T) {
	store, err := postgres.Open(context.Background(), storetest.PostgresSchemaURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	testLifecycleRetried(t, func(h riverjobs.Handlers) (*riverjobs.Queue, error) {
		return riverjobs.OpenPostgres(context.Background(), store.Pool(), riverjobs.Options{}, quiet)
	})
}
