// Package riverjobs runs Relay's durable control-plane work on River
// (github.com/riverqueue/river): jobs live in the same database as
// everything else (River's SQLite driver on the embedded file, its pgx
// driver on PostgreSQL), survive crashes and are retried with backoff.
//
// The jobs are connection teardown, backfills (one orchestrator job per
// backfill, one job per (resource, entity type) task), account
// resolutions and confirmations of lifecycle webhooks; each job kind is one
// Args type and one worker here, calling into the service that does the work.
package riverjobs

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	_ "modernc.org/sqlite" // the database/sql driver River's SQLite driver uses

	"github.com/relayhq/relay"
)

// TeardownArgs is the job tearing a connection down.
type TeardownArgs struct {
	ConnectionID string `json:"connection_id"`
}

// Kind names the job kind in River's tables.
func (TeardownArgs) Kind() string { return "connection_teardown" }

// BackfillArgs is the job fanning a backfill out into its tasks' jobs.
type BackfillArgs struct {
	BackfillID string `json:"backfill_id"`
}

// Kind names the job kind in River's tables.
func (BackfillArgs) Kind() string { return "backfill" }

// BackfillTaskArgs is the job fetching one backfill task's pages.
type BackfillTaskArgs struct {
	TaskID string `json:"task_id"`
}

// Kind names the job kind in River's tables.
func (BackfillTaskArgs) Kind() string { return "backfill_task" }

// ResolveArgs is the job resolving a provider account to an org. Only the
// account makes it unique: a resolution queued for an account is not
// queued again for its next event.
type ResolveArgs struct {
	Provider  string `json:"provider" river:"unique"`
	AccountID string `json:"account_id" river:"unique"`
	EventID   string `json:"event_id,omitempty"` // a held event of the account
}

// Kind names the job kind in River's tables.
func (ResolveArgs) Kind() string { return "resolve_account" }

// LifecycleArgs is the job confirming a provider's lifecycle webhook with
// the provider, queued when the provider could not be asked at once. The
// change is the webhook's claim: the handler asks the provider again.
type LifecycleArgs struct {
	Provider string                 `json:"provider"`
	Change   *relay.LifecycleChange `json:"change"`
}

// Kind names the job kind in River's tables.
func (LifecycleArgs) Kind() string { return "lifecycle_confirm" }

// Handlers are the functions the jobs call.
type Handlers struct {
	// Teardown runs a connection's teardown steps; it must be idempotent.
	Teardown func(ctx context.Context, connectionID string) error
	// Backfill starts a backfill's tasks; it must be idempotent.
	Backfill func(ctx context.Context, backfillID string) error
	// BackfillTask fetches and commits pages of a task for a while. attempt
	// counts the job's failed runs plus one. It returns again with a wait
	// to be called again after it (a rate limit, backpressure, or its time
	// slice used up), or an error to be retried with backoff.
	BackfillTask func(ctx context.Context, taskID string, attempt int) (again bool, after time.Duration, err error)
	// Resolve resolves a provider account to an org; an error is retried
	// with backoff.
	Resolve func(ctx context.Context, provider, accountID, eventID string) error
	// Lifecycle confirms a lifecycle webhook's claim with the provider and
	// applies the answer; an error is retried with backoff.
	Lifecycle func(ctx context.Context, provider string, ch *relay.LifecycleChange) error
}

// Options tune the runner.
type Options struct {
	// RescueAfter is how long a job may run before it counts as stuck (its
	// process died) and is run again; default 3 minutes.
	RescueAfter time.Duration
	// Workers is how many jobs run at once; default 8.
	Workers int
}

type backfillWorker struct {
	river.WorkerDefaults[BackfillArgs]
	run func(ctx context.Context, id string) error
}

func (w *backfillWorker) Work(ctx context.Context, job *river.Job[BackfillArgs]) error {
	return w.run(ctx, job.Args.BackfillID)
}

func (w *backfillWorker) NextRetry(job *river.Job[BackfillArgs]) time.Time {
	return time.Now().Add(min(time.Second<<min(job.Attempt, 9), 5*time.Minute))
}

type backfillTaskWorker struct {
	river.WorkerDefaults[BackfillTaskArgs]
	run     func(ctx context.Context, id string, attempt int) (bool, time.Duration, error)
	timeout time.Duration
}

func (w *backfillTaskWorker) Work(ctx context.Context, job *river.Job[BackfillTaskArgs]) error {
	again, after, err := w.run(ctx, job.Args.TaskID, job.Attempt)
	if err != nil {
		return err
	}
	if again {
		return river.JobSnooze(max(after, 0))
	}
	return nil
}

// NextRetry backs off 1 s, 2 s, 4 s, … up to 5 minutes.
func (w *backfillTaskWorker) NextRetry(job *river.Job[BackfillTaskArgs]) time.Time {
	return time.Now().Add(min(time.Second<<min(job.Attempt-1, 9), 5*time.Minute))
}

// Timeout bounds one run at Options.RescueAfter: the handler yields after
// its time slice (shorter), so this only stops a run stuck on a provider;
// a longer timeout would also keep the rescuer from re-running the job of
// a process that died until it ran out.
func (w *backfillTaskWorker) Timeout(*river.Job[BackfillTaskArgs]) time.Duration { return w.timeout }

type resolveWorker struct {
	river.WorkerDefaults[ResolveArgs]
	run func(ctx context.Context, provider, accountID, eventID string) error
}

func (w *resolveWorker) Work(ctx context.Context, job *river.Job[ResolveArgs]) error {
	return w.run(ctx, job.Args.Provider, job.Args.AccountID, job.Args.EventID)
}

// NextRetry backs off 1 s, 2 s, 4 s, … up to 10 minutes: a provider that is
// down for hours is asked again every 10 minutes, and nothing is dropped
// meanwhile (the events stay held).
func (w *resolveWorker) NextRetry(job *river.Job[ResolveArgs]) time.Time {
	return time.Now().Add(min(time.Second<<min(job.Attempt-1, 10), 10*time.Minute))
}

func (w *resolveWorker) Timeout(*river.Job[ResolveArgs]) time.Duration { return 2 * time.Minute }

type lifecycleWorker struct {
	river.WorkerDefaults[LifecycleArgs]
	run func(ctx context.Context, provider string, ch *relay.LifecycleChange) error
}

func (w *lifecycleWorker) Work(ctx context.Context, job *river.Job[LifecycleArgs]) error {
	if job.Args.Change == nil {
		return nil
	}
	return w.run(ctx, job.Args.Provider, job.Args.Change)
}

// NextRetry backs off 1 s, 2 s, 4 s, … up to 10 minutes: a provider down
// for a while is asked again every 10 minutes until the job's attempts
// run out.
func (w *lifecycleWorker) NextRetry(job *river.Job[LifecycleArgs]) time.Time {
	return time.Now().Add(min(time.Second<<min(job.Attempt-1, 10), 10*time.Minute))
}

func (w *lifecycleWorker) Timeout(*river.Job[LifecycleArgs]) time.Duration { return 2 * time.Minute }

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

// Queue is River on Relay's database: it queues jobs from the moment it is
// opened, and works them once started with their handlers. Opening and
// starting are separate so that the services the handlers call can be built
// with the queue they enqueue on.
type Queue struct {
	// work builds the client that works jobs with h's workers.
	work    func(h Handlers) (*client, error)
	closeDB func() error

	mu      sync.Mutex
	inserts *client // insert-only until Start, then the working client
	working *client // nil until Start
}

// client is what Queue uses of a River client, whatever its driver.
type client struct {
	start  func(context.Context) error
	stop   func(context.Context) error
	insert func(context.Context, river.JobArgs, *river.InsertOpts) error
}

func newClient[TTx any](driver riverdriver.Driver[TTx], cfg *river.Config) (*client, error) {
	c, err := river.NewClient(driver, cfg)
	if err != nil {
		return nil, fmt.Errorf("riverjobs: client: %w", err)
	}
	return &client{
		start: c.Start,
		// Running jobs see their context cancelled: a backfill task yields
		// at once (to run again at the next start) instead of finishing its
		// time slice.
		stop: c.StopAndCancel,
		insert: func(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error {
			_, err := c.Insert(ctx, args, opts)
			return err
		},
	}, nil
}

// live are the states in which a job counts as already queued: a finished
// teardown does not stop a later one (after a reconnect).
var live = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled}

// OpenSQLite opens River on the SQLite database file at path (its own
// connection, taking the write lock at BEGIN and waiting for it, next to the
// store's writer), migrates River's tables and builds the client.
func OpenSQLite(ctx context.Context, path string, opts Options, logger *slog.Logger) (*Queue, error) {
	db, err := openSQLiteDB(path)
	if err != nil {
		return nil, err
	}
	qu, err := open(ctx, riversqlite.New(db), opts, logger)
	if err != nil {
		db.Close()
		return nil, err
	}
	qu.closeDB = db.Close
	return qu, nil
}

// openSQLiteDB opens River's own connection to the SQLite file at path.
func openSQLiteDB(path string) (*sql.DB, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "synchronous(FULL)"} {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode()+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("riverjobs: open: %w", err)
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// MigrateSQLite applies River's migrations to the SQLite database file at
// path, for `relay migrate`; Open* does the same at start. Errors are the
// migrator's, wrapped.
func MigrateSQLite(ctx context.Context, path string, logger *slog.Logger) error {
	db, err := openSQLiteDB(path)
	if err != nil {
		return err
	}
	defer db.Close()
	return migrate(ctx, riversqlite.New(db), logger)
}

// MigratePostgres applies River's migrations to the PostgreSQL database of
// pool, for `relay migrate`. Errors are the migrator's, wrapped.
func MigratePostgres(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	return migrate(ctx, riverpgxv5.New(pool), logger)
}

// migrate applies River's own migrations (its job and leader tables).
func migrate[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], logger *slog.Logger) error {
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: logger})
	if err != nil {
		return fmt.Errorf("riverjobs: migrate: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("riverjobs: migrate: %w", err)
	}
	return nil
}

// OpenPostgres opens River on the store's PostgreSQL pool and migrates
// River's tables.
func OpenPostgres(ctx context.Context, pool *pgxpool.Pool, opts Options, logger *slog.Logger) (*Queue, error) {
	return open(ctx, riverpgxv5.New(pool), opts, logger)
}

func open[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], opts Options, logger *slog.Logger) (*Queue, error) {
	if err := migrate(ctx, driver, logger); err != nil {
		return nil, err
	}
	rescue := opts.RescueAfter
	if rescue <= 0 {
		rescue = 3 * time.Minute
	}
	n := opts.Workers
	if n <= 0 {
		n = 8
	}
	// A client without queues or workers only inserts.
	inserts, err := newClient(driver, &river.Config{Logger: logger})
	if err != nil {
		return nil, err
	}
	work := func(h Handlers) (*client, error) {
		return newClient(driver, workConfig(h, n, rescue, logger))
	}
	return &Queue{work: work, inserts: inserts}, nil
}

// How long River keeps finished jobs before its own cleaner deletes them
// (on the elected leader only): completed ones are of no further use after
// a day; cancelled and discarded (failed for good) ones are kept a week so
// that a failure can still be looked into.
const (
	CompletedJobsMaxAge = 24 * time.Hour
	CancelledJobsMaxAge = 7 * 24 * time.Hour
	DiscardedJobsMaxAge = 7 * 24 * time.Hour
)

// workConfig is the configuration of the client that works jobs: n
// workers, jobs rescued (and timed out) after rescue, finished jobs pruned.
func workConfig(h Handlers, n int, rescue time.Duration, logger *slog.Logger) *river.Config {
	return &river.Config{
		Queues:                      map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: n}},
		Workers:                     workers(h, rescue),
		Logger:                      logger,
		JobTimeout:                  rescue,
		RescueStuckJobsAfter:        rescue,
		CompletedJobRetentionPeriod: CompletedJobsMaxAge,
		CancelledJobRetentionPeriod: CancelledJobsMaxAge,
		DiscardedJobRetentionPeriod: DiscardedJobsMaxAge,
	}
}

// workers registers a worker for each handler h has.
func workers(h Handlers, rescue time.Duration) *river.Workers {
	w := river.NewWorkers()
	if h.Teardown != nil {
		river.AddWorker(w, &teardownWorker{run: h.Teardown})
	}
	if h.Backfill != nil {
		river.AddWorker(w, &backfillWorker{run: h.Backfill})
	}
	if h.Resolve != nil {
		river.AddWorker(w, &resolveWorker{run: h.Resolve})
	}
	if h.Lifecycle != nil {
		river.AddWorker(w, &lifecycleWorker{run: h.Lifecycle})
	}
	if h.BackfillTask != nil {
		river.AddWorker(w, &backfillTaskWorker{run: h.BackfillTask, timeout: rescue})
	}
	return w
}

// Start starts working jobs with h's handlers; jobs queued before are
// worked too. From then on jobs are queued through the working client, so
// that it picks them up at once rather than at its next poll. It returns an
// error when the client cannot be built or started, or was started before.
func (q *Queue) Start(ctx context.Context, h Handlers) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.working != nil {
		return fmt.Errorf("riverjobs: already started")
	}
	c, err := q.work(h)
	if err != nil {
		return err
	}
	if err := c.start(ctx); err != nil {
		return err
	}
	q.working, q.inserts = c, c
	return nil
}

// insert queues a job through the current client.
func (q *Queue) insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error {
	q.mu.Lock()
	c := q.inserts
	q.mu.Unlock()
	return c.insert(ctx, args, opts)
}

// Stop stops taking jobs and waits for running ones (until ctx ends), then
// releases the queue's own database connection, if any.
func (q *Queue) Stop(ctx context.Context) error {
	q.mu.Lock()
	c := q.working
	q.mu.Unlock()
	var err error
	if c != nil {
		err = c.stop(ctx)
	}
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

// EnqueueBackfill queues a backfill's orchestrator job, once while live.
func (q *Queue) EnqueueBackfill(ctx context.Context, backfillID string) error {
	err := q.insert(ctx, BackfillArgs{BackfillID: backfillID}, &river.InsertOpts{
		MaxAttempts: 25,
		UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: live},
	})
	if err != nil {
		return fmt.Errorf("riverjobs: enqueue backfill: %w", err)
	}
	return nil
}

// EnqueueBackfillTask queues a task's job, once while live: a task whose
// job is queued, running or waiting is not queued again.
func (q *Queue) EnqueueBackfillTask(ctx context.Context, taskID string) error {
	err := q.insert(ctx, BackfillTaskArgs{TaskID: taskID}, &river.InsertOpts{
		MaxAttempts: 25,
		UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: live},
	})
	if err != nil {
		return fmt.Errorf("riverjobs: enqueue backfill task: %w", err)
	}
	return nil
}

// EnqueueResolve queues an account's resolution, once while one is queued,
// waiting to be retried or running.
func (q *Queue) EnqueueResolve(ctx context.Context, provider, accountID, eventID string) error {
	err := q.insert(ctx, ResolveArgs{Provider: provider, AccountID: accountID, EventID: eventID}, &river.InsertOpts{
		MaxAttempts: 200,
		UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: live},
	})
	if err != nil {
		return fmt.Errorf("riverjobs: enqueue resolve: %w", err)
	}
	return nil
}

// EnqueueLifecycle queues the confirmation of a lifecycle webhook's claim,
// once while the same claim is queued, waiting to be retried or running.
func (q *Queue) EnqueueLifecycle(ctx context.Context, provider string, ch *relay.LifecycleChange) error {
	err := q.insert(ctx, LifecycleArgs{Provider: provider, Change: ch}, &river.InsertOpts{
		MaxAttempts: 30,
		UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: live},
	})
	if err != nil {
		return fmt.Errorf("riverjobs: enqueue lifecycle confirmation: %w", err)
	}
	return nil
}
