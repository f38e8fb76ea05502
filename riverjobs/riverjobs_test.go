package riverjobs_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relayhq/relay/postgres"
	"github.com/relayhq/relay/riverjobs"
	"github.com/relayhq/relay/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A teardown whose first process fails it and stops is finished by the
// next process: the job outlives the client that queued it.
// live counts the teardown jobs still queued, running or waiting for a
// retry: once none is, every job that will ever run has run.
func testSurvivesRestart(t *testing.T, open func(riverjobs.Handlers) *riverjobs.Queue, live func() int) {
	ctx := context.Background()
	var failed atomic.Int32
	h1 := riverjobs.Handlers{Teardown: func(ctx context.Context, id string) error {
		failed.Add(1)
		return errors.New("provider down")
	}}
	q1 := open(h1)
	if err := q1.Start(ctx, h1); err != nil {
		t.Fatal(err)
	}
	if err := q1.EnqueueTeardown(ctx, "con_1"); err != nil {
		t.Fatal(err)
	}
	if err := q1.EnqueueTeardown(ctx, "con_1"); err != nil { // already queued: nothing added
		t.Fatal(err)
	}
	waitFor(t, "a failed attempt", func() bool { return failed.Load() >= 1 })
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := q1.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var done []string
	h2 := riverjobs.Handlers{Teardown: func(ctx context.Context, id string) error {
		mu.Lock()
		done = append(done, id)
		mu.Unlock()
		return nil
	}}
	q2 := open(h2)
	if err := q2.Start(ctx, h2); err != nil {
		t.Fatal(err)
	}
	defer q2.Stop(context.Background())
	waitFor(t, "the retried teardown", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(done) > 0
	})
	waitFor(t, "no teardown job left", func() bool { return live() == 0 })
	mu.Lock()
	defer mu.Unlock()
	if len(done) != 1 || done[0] != "con_1" {
		t.Fatalf("teardowns run after restart: %v (want exactly con_1 once)", done)
	}
}

func TestSurvivesRestartSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	testSurvivesRestart(t, func(h riverjobs.Handlers) *riverjobs.Queue {
		q, err := riverjobs.OpenSQLite(context.Background(), path, riverjobs.Options{}, quiet)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}, func() int { return liveTeardowns(t, db) })
}

// liveTeardownsSQL counts the teardown jobs in River's table that are not
// finished (completed, cancelled or discarded).
const liveTeardownsSQL = `SELECT count(*) FROM river_job
	WHERE kind = 'connection_teardown' AND state NOT IN ('completed', 'cancelled', 'discarded')`

func liveTeardowns(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(liveTeardownsSQL).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSurvivesRestartPostgres(t *testing.T) {
	url := storetest.PostgresSchemaURL(t)
	store, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	testSurvivesRestart(t, func(h riverjobs.Handlers) *riverjobs.Queue {
		q, err := riverjobs.OpenPostgres(context.Background(), store.Pool(), riverjobs.Options{}, quiet)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}, func() int {
		var n int
		if err := store.Pool().QueryRow(context.Background(), liveTeardownsSQL).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	})
}

// A job queued before the queue is started (services queue from the moment
// they are built) is worked once it is started with its handler.
func TestQueuedBeforeStartSQLite(t *testing.T) {
	ctx := context.Background()
	q, err := riverjobs.OpenSQLite(ctx, filepath.Join(t.TempDir(), "relay.db"), riverjobs.Options{}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.EnqueueTeardown(ctx, "con_1"); err != nil {
		t.Fatal(err)
	}
	ran := make(chan string, 1)
	if err := q.Start(ctx, riverjobs.Handlers{Teardown: func(ctx context.Context, id string) error {
		ran <- id
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	defer q.Stop(context.Background())
	select {
	case id := <-ran:
		if id != "con_1" {
			t.Fatalf("teardown of %q, want con_1", id)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the teardown queued before start was not worked")
	}
	if err := q.Start(ctx, riverjobs.Handlers{}); err == nil {
		t.Fatal("a second start succeeded")
	}
}
