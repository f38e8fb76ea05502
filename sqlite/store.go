// Package sqlite implements relay.Store on an embedded SQLite database (the
// pure-Go modernc.org/sqlite driver) in WAL mode with synchronous=FULL, so a
// committed transaction survives a process kill or power loss.
//
// SQLite allows one writer at a time, so the store keeps two pools: a single
// writer connection that every write goes through (transactions begin
// IMMEDIATE, so they never fail half-way on a lock upgrade) and a pool of
// readers that WAL lets run alongside it. Throughput comes from batching:
// the ingest pipeline and the delivery engine hand over whole batches, each
// one transaction and one fsync.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/internal/migrate"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store is a relay.Store on one SQLite file.
type Store struct {
	path   string
	writer *sql.DB
	reader *sql.DB
	sealer relay.Sealer // seals destination secrets; nil: kept in clear

	// The writer never checkpoints (wal_autocheckpoint 0): a checkpoint in a
	// commit would stall every webhook waiting on it. This connection does
	// it in the background instead, PASSIVE, alongside the writer.
	checkpointer *sql.DB
	stop         chan struct{}
	done         chan struct{} // the checkpointer stopped

	stmtMu   sync.Mutex
	prepared *writerStmts
}

var _ relay.Store = (*Store)(nil)

// Option configures a Store at Open.
type Option func(*Store)

// WithSealer makes the store seal destination signing secrets with sealer,
// each bound to its destination id, and open them when destinations are
// loaded. Without it secrets are stored in clear (tests and tools; relay
// serve always passes its vault).
func WithSealer(sealer relay.Sealer) Option {
	return func(s *Store) { s.sealer = sealer }
}

// Open opens (creating it if needed) the SQLite database at path. The
// database, its WAL and shared-memory files are private to the owner (0600),
// and a missing directory is created 0700. It does not migrate; call
// Migrate.
func Open(path string, opts ...Option) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlite: create data dir: %w", err)
		}
	}
	// SQLite creates a database 0644 less the umask, and its -wal and -shm
	// files with the database's mode: creating the file 0600 first keeps
	// all three private.
	if err := makePrivate(path, true); err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	pragmas := []string{
		"journal_mode(WAL)",
		"synchronous(FULL)", // fsync the WAL on every commit: acknowledged means on disk
		"busy_timeout(10000)",
		"foreign_keys(OFF)",
		"temp_store(MEMORY)",
		"journal_size_limit(67108864)", // shrink the WAL file back to 64 MB after a reset
	}
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	wq := url.Values{}
	for k, v := range q {
		wq[k] = append([]string(nil), v...)
	}
	wq.Add("_pragma", "wal_autocheckpoint(0)")
	wq.Add("_pragma", "cache_size(-16000)") // 16 MB: the writer's working set (indexes being appended to)
	writer, err := sql.Open("sqlite", "file:"+path+"?"+wq.Encode()+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)

	cq := url.Values{}
	for k, v := range q {
		cq[k] = append([]string(nil), v...)
	}
	cq.Add("_pragma", "cache_size(-1000)") // it copies pages; caching them buys nothing
	checkpointer, err := sql.Open("sqlite", "file:"+path+"?"+cq.Encode())
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	checkpointer.SetMaxOpenConns(1)

	q.Add("_pragma", "query_only(true)")
	q.Add("_pragma", "cache_size(-2000)") // 2 MB per reader: API reads and probes
	reader, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	reader.SetMaxOpenConns(n)
	reader.SetMaxIdleConns(n)
	reader.SetConnMaxIdleTime(0)

	s := &Store{path: path, writer: writer, reader: reader, checkpointer: checkpointer,
		stop: make(chan struct{}), done: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	// Open the writer first so the WAL switch happens on one connection.
	if err := writer.Ping(); err != nil {
		close(s.done)
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// Files an earlier version left readable by others are tightened.
	for _, name := range []string{path + "-wal", path + "-shm"} {
		if err := makePrivate(name, false); err != nil {
			close(s.done)
			s.Close()
			return nil, fmt.Errorf("sqlite: open: %w", err)
		}
	}
	go s.checkpointLoop()
	return s, nil
}

// walRestartSize is the WAL size past which checkpoints also wrap the log.
const walRestartSize = 64 << 20

// checkpointLoop copies committed WAL frames into the database file every
// 200 ms. PASSIVE never waits for the writer or readers, so ingest does not
// stall on it; SQLite restarts the WAL from its start once it is fully
// checkpointed, which keeps the file bounded.
func (s *Store) checkpointLoop() {
	defer close(s.done)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		mode := "PASSIVE"
		if fi, err := os.Stat(s.path + "-wal"); err == nil && fi.Size() > walRestartSize {
			// Under steady load a passive checkpoint never finds a moment
			// when the log can wrap; RESTART waits (briefly, through the
			// busy handler) for readers to move on so the next commit
			// writes from the start of the file again.
			mode = "RESTART"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, _ = s.checkpointer.ExecContext(ctx, `PRAGMA wal_checkpoint(`+mode+`)`)
		cancel()
	}
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close closes both pools.
func (s *Store) Close() error {
	select {
	case <-s.stop:
		return nil // closed already
	default:
		close(s.stop)
	}
	<-s.done
	s.closeStmts()
	err1 := s.reader.Close()
	err3 := s.checkpointer.Close()
	err2 := s.writer.Close()
	return errors.Join(err1, err2, err3)
}

// Migrate applies the embedded migrations that are not applied yet, each in
// its own transaction. A file created before retention existed is first
// rewritten once (VACUUM) to reuse freed pages: see useIncrementalVacuum.
func (s *Store) Migrate(ctx context.Context) error {
	if err := s.useIncrementalVacuum(ctx); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	if err := migrate.Run(ctx, migrator{s.writer}, migrationFS, "migrations"); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}

// migrator is the migrate.Driver of the writer connection.
type migrator struct{ db *sql.DB }

func (m migrator) Applied(ctx context.Context) (map[int]bool, error) {
	if _, err := m.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS relay_migrations (
		version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return nil, err
	}
	rows, err := m.db.QueryContext(ctx, `SELECT version FROM relay_migrations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		applied[v] = true
	}
	return applied, rows.Err()
}

func (m migrator) Apply(ctx context.Context, mig migrate.Migration) error {
	tx, err := m.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM relay_migrations WHERE version = ?`, mig.Version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, mig.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO relay_migrations (version, applied_at) VALUES (?, ?)`,
		mig.Version, time.Now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}

// Ready returns nil when the database answers and every embedded migration
// is applied.
func (s *Store) Ready(ctx context.Context) error {
	want, err := migrate.Latest(migrationFS, "migrations")
	if err != nil {
		return fmt.Errorf("sqlite: ready: %w", err)
	}
	var v sql.NullInt64
	if err := s.reader.QueryRowContext(ctx, `SELECT max(version) FROM relay_migrations`).Scan(&v); err != nil {
		return fmt.Errorf("sqlite: ready: %w", err)
	}
	if v.Int64 < int64(want) {
		return fmt.Errorf("sqlite: ready: schema at version %d, want %d", v.Int64, want)
	}
	return nil
}

// ms converts a time to the stored unix milliseconds; the zero time is 0.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS converts stored unix milliseconds to a UTC time; 0 is the zero time.
func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// isUnique reports whether err is a SQLite uniqueness violation.
func isUnique(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		code := se.Code()
		return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// placeholders returns "?, ?, …" with n marks.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// makePrivate makes the file at path readable and writable by its owner
// only (0600), creating it empty when create is set and it does not exist.
// A file that does not exist and is not to be created is left alone.
func makePrivate(path string, create bool) error {
	if create {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) && !create {
		return nil
	} else if err != nil {
		return err
	}
	if fi.Mode().Perm()&^0o600 != 0 {
		return os.Chmod(path, 0o600)
	}
	return nil
}
