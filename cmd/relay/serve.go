package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/config"
	"github.com/relayhq/relay/delivery"
	relayhttp "github.com/relayhq/relay/http"
	"github.com/relayhq/relay/ingest"
	"github.com/relayhq/relay/internal/logdedup"
	"github.com/relayhq/relay/postgres"
	"github.com/relayhq/relay/riverjobs"
	"github.com/relayhq/relay/sqlite"
)

// serverFlags are the flags serve and migrate share; each overrides the
// config file and the environment.
type serverFlags struct {
	fs          *flag.FlagSet
	addr        string
	dataDir     string
	databaseURL string
	configPath  string
	cpuProfile  string
}

func newServerFlags(name, help string, getenv func(string) string, stderr io.Writer) *serverFlags {
	f := &serverFlags{fs: flag.NewFlagSet("relay "+name, flag.ContinueOnError)}
	f.fs.SetOutput(stderr)
	f.fs.StringVar(&f.addr, "addr", "", "listen address (env RELAY_ADDR; default 127.0.0.1:8080)")
	f.fs.StringVar(&f.dataDir, "data-dir", "", "directory for the SQLite database and local state (env RELAY_DATA_DIR; default ./relay-data)")
	f.fs.StringVar(&f.databaseURL, "database-url", "", "postgres:// URL to use PostgreSQL; empty = SQLite in the data dir (env RELAY_DATABASE_URL)")
	f.fs.StringVar(&f.configPath, "config", getenv("RELAY_CONFIG"), "YAML config file (env RELAY_CONFIG)")
	f.fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile (pprof) to this file until exit")
	f.fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: relay %s [flags]\n\n%s\n\nEvery config key can also be set in the environment as RELAY_ + its upper-snake path,\ne.g. RELAY_PROVIDERS_GITHUB_WEBHOOK_SECRET. Flags win over the environment, which wins over the file.\n\nFlags:\n", name, help)
		f.fs.PrintDefaults()
	}
	return f
}

// load parses the flags and loads the configuration they point at.
func (f *serverFlags) load(args []string, getenv func(string) string) (*config.Config, error) {
	if err := f.fs.Parse(args); err != nil {
		return nil, err
	}
	if f.fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", f.fs.Arg(0))
	}
	cfg, err := config.Load(f.configPath, getenv)
	if err != nil {
		return nil, err
	}
	if f.addr != "" {
		cfg.Addr = f.addr
	}
	if f.dataDir != "" {
		cfg.DataDir = f.dataDir
	}
	if f.databaseURL != "" {
		cfg.DatabaseURL = f.databaseURL
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// usesPostgres reports whether the configured database is PostgreSQL.
func usesPostgres(cfg *config.Config) bool {
	return strings.HasPrefix(cfg.DatabaseURL, "postgres://") || strings.HasPrefix(cfg.DatabaseURL, "postgresql://")
}

// openStore opens the configured database: PostgreSQL for a postgres:// URL,
// else SQLite in the data dir (which must be private: privateDataDir).
// sealer seals destination secrets; nil only where none is read or written.
func openStore(ctx context.Context, cfg *config.Config, sealer relay.Sealer) (Store, string, error) {
	if usesPostgres(cfg) {
		s, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.WithSealer(sealer))
		return s, "postgres", err
	}
	if err := privateDataDir(cfg.DataDir); err != nil {
		return nil, "sqlite", err
	}
	s, err := sqlite.Open(filepath.Join(cfg.DataDir, "relay.db"), sqlite.WithSealer(sealer))
	return s, "sqlite", err
}

func cmdMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newServerFlags("migrate", "Applies the database migrations that are not applied yet, then exits.", getenv, stderr)
	cfg, err := f.load(args, getenv)
	if err != nil {
		return err
	}
	store, kind, err := openStore(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	if err := migrateJobs(ctx, store, newLogger(cfg, stderr)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s database migrated\n", kind)
	return nil
}

// logRepeatInterval is how often one repeating failure is logged at most.
const logRepeatInterval = 10 * time.Second

// newLogger returns the configured logger. A failure that repeats (the same
// message and error) is logged once per logRepeatInterval with a count, so
// an outage such as a full disk does not bury everything else.
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if cfg.LogFormat == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(logdedup.New(h, logRepeatInterval, time.Now))
}

// cmdServe runs Relay until ctx ends: it builds each service with what it
// needs, starts them, serves HTTP, and on the way out stops them in the
// reverse order.
func cmdServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newServerFlags("serve", "Runs Relay: webhook ingest at /webhooks/{provider}, the API under /api/v1,\n/healthz, /readyz and /metrics, and delivery to destinations.", getenv, stderr)
	cfg, err := f.load(args, getenv)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	stopProfile, err := startCPUProfile(f.cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	tuneGC(getenv)
	srcs, err := providers(cfg)
	if err != nil {
		return err
	}
	connectors, err := buildConnectors(cfg, logger)
	if err != nil {
		return err
	}
	chains, err := resolverChains(cfg)
	if err != nil {
		return err
	}

	// Held until after the store is closed (defers run last first).
	unlock, err := lockSQLiteDataDir(cfg)
	if err != nil {
		return err
	}
	defer unlock()
	store, kind, ring, err := openSealedStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := prepareStore(ctx, store, cfg, stdout, logger); err != nil {
		return err
	}
	jobs, err := openJobs(ctx, store, riverjobs.Options{RescueAfter: time.Duration(cfg.Jobs.RescueAfter), Workers: cfg.Jobs.Workers},
		logger.With("component", "jobs"))
	if err != nil {
		return err
	}
	owner := replicaID()
	now := func() time.Time { return time.Now().UTC() }
	svc := newServices(cfg, store, ring, jobs, connectors, chains, owner, now, logger)
	defer svc.conns.Close()
	stopBackground, err := svc.start(ctx, jobs, logger)
	if err != nil {
		return err
	}
	defer stopBackground()

	committers := 1 // SQLite has one writer; more committers would only queue on it
	if kind == "postgres" {
		committers = 4
	}
	engine, conns, resolver, m := svc.engine, svc.conns, svc.resolver, svc.metrics
	router := ingest.Routing{Matcher: conns, Routes: engine, Held: resolver.Notify}
	pipeline := ingest.New(store, router, engine, m, logger.With("component", "ingest"), now, ingest.Config{
		Owner: owner, Lease: time.Duration(cfg.Delivery.Lease), BatchMax: cfg.Ingest.BatchMax, Committers: committers,
	})
	server := relayhttp.NewServer(store, srcs, pipeline, engine, m, logger.With("component", "http"), now,
		relayhttp.Config{MaxBodyBytes: cfg.Ingest.MaxBodyBytes, SecureCookies: strings.HasPrefix(cfg.BaseURL(), "https://"),
			RotationOverlap: time.Duration(cfg.Delivery.RotationOverlap)},
		relayhttp.WithConnections(store, conns), relayhttp.WithBackfills(svc.backfills), relayhttp.WithConnectSessions(conns))
	dash, err := newDashboard(cfg, store, svc, srcs, now, logger)
	if err != nil {
		return err
	}
	svc.resume(ctx, logger)
	return serveHTTP(ctx, cfg, dash.Handler(server), pipeline, engine, srcs, kind, owner, stdout, logger)
}

// startCPUProfile writes a CPU profile to path until the returned stop is
// called; with no path it does nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	pf, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(pf); err != nil {
		pf.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); pf.Close() }, nil
}

// lockSQLiteDataDir locks the data dir when the database is SQLite in it;
// PostgreSQL is shared by replicas, so there is nothing to lock.
func lockSQLiteDataDir(cfg *config.Config) (unlock func(), err error) {
	if usesPostgres(cfg) {
		return func() {}, nil
	}
	return lockDataDir(cfg.DataDir)
}

// prepareStore readies an opened store for serving: it gives back the
// leases a dead process left in a SQLite data dir, installs the admin key
// and saves the configured destinations.
func prepareStore(ctx context.Context, store Store, cfg *config.Config, stdout io.Writer, logger *slog.Logger) error {
	if s, ok := store.(*sqlite.Store); ok {
		// The data dir is ours alone (the lock), so every lease in it was
		// left by a process that died: waiting them out would hold its
		// acknowledged events back for a whole lease.
		n, err := s.ReleaseAllLeases(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			logger.Info("released the leases of a process that did not stop cleanly", "deliveries", n)
		}
	}
	if err := ensureAdminKey(ctx, store, cfg, stdout, logger); err != nil {
		return err
	}
	stored, err := store.ListDestinations(ctx)
	if err != nil {
		return err
	}
	for _, d := range cfg.Destinations() {
		d.ID, d.CreatedAt, d.UpdatedAt = relay.NewID("dst", time.Now()), time.Now(), time.Now()
		configured := d.Secret
		if d.ApplyConfigSecrets(destinationNamed(stored, d.Name), time.Now(), time.Duration(cfg.Delivery.RotationOverlap)) &&
			subtle.ConstantTimeCompare([]byte(configured), []byte(d.Secret)) != 1 {
			logger.Warn("config destination's secret was rotated through the API: the rotated secret is kept; put it in the config file",
				"destination", d.Name)
		}
		if err := store.UpsertDestination(ctx, d); err != nil {
			return fmt.Errorf("config destination %q: %w", d.Name, err)
		}
	}
	return nil
}

// destinationNamed returns the destination of ds named name, or nil.
func destinationNamed(ds []*relay.Destination, name string) *relay.Destination {
	for _, d := range ds {
		if d.Name == name {
			return d
		}
	}
	return nil
}

// stopJobs stops working jobs, waiting for running ones a while.
func stopJobs(jobs *riverjobs.Queue, logger *slog.Logger) {
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := jobs.Stop(sctx); err != nil {
		logger.Warn("jobs shutdown", "err", err)
	}
}

// serveHTTP listens, serves handler until ctx ends or serving fails, then
// shuts down gracefully: it stops accepting and lets in-flight webhooks
// finish (they are waiting on their commit), flushes the ingest queue, then
// lets deliveries in flight finish and gives back the leases of queued ones.
func serveHTTP(ctx context.Context, cfg *config.Config, handler http.Handler, pipeline *ingest.Pipeline, engine *delivery.Engine,
	srcs []relay.Provider, kind, owner string, stdout io.Writer, logger *slog.Logger) error {
	if err := engine.Start(ctx); err != nil {
		return err
	}
	pipelineDone := make(chan struct{})
	go func() { pipeline.Run(); close(pipelineDone) }()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	httpServer := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpServer.Serve(ln) }()

	names := make([]string, len(srcs))
	for i, s := range srcs {
		names[i] = s.Name()
	}
	logger.Info("relay started", "addr", ln.Addr().String(), "database", kind, "replica", owner,
		"version", relay.Version, "webhooks", names)
	fmt.Fprintf(stdout, "Relay %s listening on http://%s (database: %s)\n", relay.Version, ln.Addr(), kind)
	fmt.Fprintf(stdout, "Dashboard: http://%s/ (sign in with an API key)\n", ln.Addr())
	if len(names) == 0 {
		fmt.Fprintln(stdout, "No provider or source is configured yet: set e.g. RELAY_PROVIDERS_GITHUB_WEBHOOK_SECRET (see README).")
	}

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http server failed", "err", err)
		}
	}

	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	if err := httpServer.Shutdown(sctx); err != nil {
		logger.Warn("http shutdown", "err", err)
	}
	if err := pipeline.Close(sctx); err != nil {
		logger.Error("ingest shutdown", "err", err)
	}
	<-pipelineDone
	if err := engine.Stop(sctx); err != nil {
		logger.Warn("delivery shutdown cut short; unfinished deliveries will be retried", "err", err)
	}
	logger.Info("stopped")
	return nil
}

// ensureAdminKey installs the configured admin key, or on a database with no
// key at all creates one and prints it, once. Once admin_api_key is set,
// the key generated at first start is revoked (and the revocation logged):
// whoever saw it printed must not keep admin access.
func ensureAdminKey(ctx context.Context, store relay.Store, cfg *config.Config, stdout io.Writer, logger *slog.Logger) error {
	now := time.Now().UTC()
	if cfg.AdminAPIKey != "" {
		if err := store.SetAdminAPIKey(ctx, &relay.APIKey{ID: relay.NewID("key", now), Name: relay.ConfiguredAdminKeyName,
			Prefix: relay.APIKeyPrefix(cfg.AdminAPIKey), Hash: relay.HashAPIKey(cfg.AdminAPIKey), CreatedAt: now}); err != nil {
			return err
		}
		return revokeGeneratedAdminKeys(ctx, store, relay.HashAPIKey(cfg.AdminAPIKey), logger)
	}
	n, err := store.CountAPIKeys(ctx)
	if err != nil || n > 0 {
		return err
	}
	key := relay.NewAPIKeySecret()
	if err := store.CreateAPIKey(ctx, &relay.APIKey{ID: relay.NewID("key", now), Name: relay.GeneratedAdminKeyName,
		Prefix: relay.APIKeyPrefix(key), Hash: relay.HashAPIKey(key), CreatedAt: now}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nCreated the admin API key. It is shown only this once; store it now:\n\n    %s\n\n", key)
	return nil
}

// revokeGeneratedAdminKeys revokes the admin keys made at first start
// (those named relay.GeneratedAdminKeyName; the API refuses that name),
// except the one whose hash is configured, since an operator may well
// configure the key that was printed.
func revokeGeneratedAdminKeys(ctx context.Context, store relay.Store, configured string, logger *slog.Logger) error {
	keys, err := store.ListAPIKeys(ctx, "")
	if err != nil {
		return err
	}
	for _, k := range keys {
		if !k.IsAdmin() || k.Name != relay.GeneratedAdminKeyName ||
			subtle.ConstantTimeCompare([]byte(k.Hash), []byte(configured)) == 1 {
			continue
		}
		if _, err := store.RevokeAPIKey(ctx, k.ID, ""); err != nil && relay.ErrorCode(err) != relay.ENOTFOUND {
			return fmt.Errorf("revoke the generated admin key %s: %w", k.ID, err)
		}
		logger.Warn("revoked the admin API key generated at first start, since admin_api_key is set", "key_id", k.ID)
	}
	return nil
}

// replicaID names this process as a lease owner: host, pid and a random
// suffix, so a restarted process never mistakes an old lease for its own.
func replicaID() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

func durations[T ~int64](in []T) []time.Duration {
	out := make([]time.Duration, len(in))
	for i, d := range in {
		out[i] = time.Duration(d)
	}
	return out
}

// tuneGC trades some memory for CPU: the ingest path allocates a request's
// body and event per webhook, and at the default GOGC=100 the collector
// takes a fifth of the CPU under load. GOGC=400 measured +20 % webhooks/s;
// the 64 MiB soft limit on the Go heap keeps peak RSS near 150 MB while a
// large backlog drains, at no measured cost (BENCHMARKS.md). A process that
// must hold many large bodies at once should raise GOMEMLIMIT. GOGC or GOMEMLIMIT in the environment
// win, as the Go runtime documents.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(64 << 20)
	}
}
