// Package postgres implements relay.Store on PostgreSQL with pgx, for
// running several identical Relay replicas on one database. Deliveries are
// claimed with leases taken under FOR UPDATE SKIP LOCKED, so replicas never
// block each other or send the same delivery while a lease runs.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/relayhq/relay"
	"github.com/relayhq/relay/internal/migrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store is a relay.Store on a PostgreSQL database.
type Store struct {
	pool   *pgxpool.Pool
	sealer relay.Sealer // seals destination secrets; nil: kept in clear
}

// Option configures a Store at Open.
type Option func(*Store)

// WithSealer makes the store seal destination signing secrets with sealer,
// each bound to its destination id, and open them when destinations are
// loaded. Without it secrets are stored in clear (tests and tools; relay
// serve always passes its vault).
func WithSealer(sealer relay.Sealer) Option {
	return func(s *Store) { s.sealer = sealer }
}

var _ relay.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL; a search_path
// parameter, or options=-c search_path=…, selects the schema) and pings it.
// It does not migrate; call Migrate.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: bad database URL: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		// Claims, outcome batches and ingest batches each hold a connection
		// for one short transaction; 16 is ample and leaves the server room
		// for other replicas. A pool_max_conns parameter overrides it.
		cfg.MaxConns = 16
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s := &Store{pool: pool}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// migrationLock is the advisory lock key that serialises replicas migrating
// the same database at once.
const migrationLock = 0x72656c6179 // "relay"

// Migrate applies the embedded migrations not applied yet, each in its own
// transaction under an advisory lock.
func (s *Store) Migrate(ctx context.Context) error {
	if err := migrate.Run(ctx, migrator{s.pool}, migrationFS, "migrations"); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// migrator is the migrate.Driver of the pool. Each of its transactions
// takes the advisory lock, so replicas starting together create the table
// and apply each migration once.
type migrator struct{ pool *pgxpool.Pool }

func (m migrator) Applied(ctx context.Context) (map[int]bool, error) {
	applied := map[int]bool{}
	err := pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		if err := lockAndCreateMigrations(ctx, tx); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT version FROM relay_migrations`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				return err
			}
			applied[v] = true
		}
		return rows.Err()
	})
	return applied, err
}

func (m migrator) Apply(ctx context.Context, mig migrate.Migration) error {
	return pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		if err := lockAndCreateMigrations(ctx, tx); err != nil {
			return err
		}
		var done bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM relay_migrations WHERE version = $1)`, mig.Version).Scan(&done); err != nil {
			return err
		}
		if done {
			return nil
		}
		if _, err := tx.Exec(ctx, mig.SQL); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO relay_migrations (version) VALUES ($1)`, mig.Version)
		return err
	})
}

// lockAndCreateMigrations takes the migration lock for tx and creates the
// table of applied versions if it does not exist.
func lockAndCreateMigrations(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS relay_migrations (
		version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`)
	return err
}

// Ready returns nil when the database answers and every migration is applied.
func (s *Store) Ready(ctx context.Context) error {
	want, err := migrate.Latest(migrationFS, "migrations")
	if err != nil {
		return fmt.Errorf("postgres: ready: %w", err)
	}
	var v *int
	if err := s.pool.QueryRow(ctx, `SELECT max(version) FROM relay_migrations`).Scan(&v); err != nil {
		return fmt.Errorf("postgres: ready: %w", err)
	}
	if v == nil || *v < want {
		return fmt.Errorf("postgres: ready: schema not migrated to version %d", want)
	}
	return nil
}

// isUnique reports whether err is a unique violation.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// epoch stands for "no time" in NOT NULL columns (no lease, no pause), so
// that comparisons with now need no NULL handling.
var epoch = time.Unix(0, 0).UTC()

// ts converts a time for storage: the zero time is stored as the epoch.
func ts(t time.Time) time.Time {
	if t.IsZero() {
		return epoch
	}
	return t.UTC()
}

// fromTS converts a stored time back: the epoch is the zero time.
func fromTS(t time.Time) time.Time {
	if t.Equal(epoch) || t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// Pool returns the store's connection pool, for the job queue to share.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }
