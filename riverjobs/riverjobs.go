// Package riverjobs runs Relay's durable control-plane work on River
// (github.com/riverqueue/river): jobs live in the same database as
// everything else (River's SQLite driver on the embedded file, its pgx
// driver on PostgreSQL), survive crashes and are retried with backoff.
//
// Today that is connection teardown; each job kind is one Args type and
// one worker here, calling into the service that does the work.
package riverjobs

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	_ "modernc.org/sqlite" // the database/sql driver River's SQLite driver uses
)

// TeardownArgs is the job tearing a connection down.
type TeardownArgs struct {
	ConnectionID string `json:"connection_id"`
}

// Kind names the job kind in River's tables.
func (TeardownArgs) Kind() string { return "connection_teardown" }

// Handlers are the functions the jobs call.
type Handlers struct {
	// Teardown runs a connection's teardown steps; it must be idempotent.
	Teardown func(ctx context.Context, connectionID string) error
}

type teardownWorker struct {
	river.WorkerDefaults[TeardownArgs]
	run func(ctx context.Context, connectionID string) error
}

func (w *teardownWorker) Work(ctx context.Context, job *river.Job[TeardownArgs]) error {
	return w.run(ctx, job.Args.ConnectionID)
}

// NextRetry backs off 1 s, 2 s, 4 s, … up to 5 minutes: a teardown waiting on
// a provider should not wait River's default hours.
func (w *teardownWorker) NextRetry(job *river.Job[TeardownArgs]) time.Time {
	d := min(time.Second<<min(job.Attempt, 9), 5*time.Minute)
	return time.Now().Add(d)
}

func (w *teardownWorker) Timeout(*river.Job[TeardownArgs]) time.Duration { return 2 * time.Minute }

// Queue is a running River client.
type Queue struct {
	start   func(context.Context) error
	stop    func(context.Context) error
	insert  func(context.Context, river.JobArgs, *river.InsertOpts) error
	closeDB func() error
}

// live are the states in which a job counts as already queued: a finished
// teardown does not stop a later one (after a reconnect).
var live = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled}

// OpenSQLite opens River on the SQLite database file at path (its own
// connection, taking the write lock at BEGIN and waiting for it, next to the
// store's writer), migrates River's tables and builds the client.
func OpenSQLite(ctx context.Context, path string, h Handlers, logger *slog.Logger) (*Queue, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "synchronous(FULL)"} {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode()+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("riverjobs: open: %w", err)
	}
	db.SetMaxOpenConns(1)
	qu, err := build(ctx, riversqlite.New(db), h, logger)
	if err != nil {
		db.Close()
		return nil, err
	}
	qu.closeDB = db.Close
	return qu, nil
}

// OpenPostgres opens River on the store's PostgreSQL pool.
func OpenPostgres(ctx context.Context, pool *pgxpool.Pool, h Handlers, logger *slog.Logger) (*Queue, error) {
	return build(ctx, riverpgxv5.New(pool), h, logger)
}

func build[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], h Handlers, logger *slog.Logger) (*Queue, error) {
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("riverjobs: migrate: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("riverjobs: migrate: %w", err)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &teardownWorker{run: h.Teardown})
	client, err := river.NewClient(driver, &river.Config{
		Queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 4}},
		Workers: workers,
		Logger:  logger,
	})
	if err != nil {
		return nil, fmt.Errorf("riverjobs: client: %w", err)
	}
	return &Queue{
		start: client.Start,
		stop:  client.Stop,
		insert: func(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error {
			_, err := client.Insert(ctx, args, opts)
			return err
		},
	}, nil
}

// Start starts working jobs.
func (q *Queue) Start(ctx context.Context) error { return q.start(ctx) }

// Stop stops taking jobs and waits for running ones (until ctx ends), then
// releases the queue's own database connection, if any.
func (q *Queue) Stop(ctx context.Context) error {
	err := q.stop(ctx)
	if q.closeDB != nil {
		q.closeDB()
	}
	return err
}

// EnqueueTeardown queues a connection's teardown, once: while one is queued
// or running, asking again adds nothing.
func (q *Queue) EnqueueTeardown(ctx context.Context, connectionID string) error {
	err := q.insert(ctx, TeardownArgs{ConnectionID: connectionID}, &river.InsertOpts{
		MaxAttempts: 50,
		UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: live},
	})
	if err != nil {
		return fmt.Errorf("riverjobs: enqueue teardown: %w", err)
	}
	return nil
}
