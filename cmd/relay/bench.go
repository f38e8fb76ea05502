package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/relayhq/relay/bench"
	"github.com/relayhq/relay/sqlite"
)

// cmdBench runs the benchmark harness against this very binary.
func cmdBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "reference" {
		return cmdBenchReference(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("relay bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modes := fs.String("modes", "throughput,rate", "comma-separated: throughput, rate, backlog, kill, backfill, retention, ordering")
	ordering := fs.String("ordering", "", "run the ordering mode only: deliveries/s unordered vs ordered by this `key` (resource, account, connection, $.json.path), 1,000 keys")
	dbURL := fs.String("database-url", "", "postgres://… to run Relay on PostgreSQL (default: SQLite in a temp dir)")
	replicas := fs.Int("replicas", 1, "relay serve processes, load spread round-robin (use 2 with PostgreSQL)")
	conc := fs.Int("concurrency", 64, "closed-loop concurrent senders")
	dur := fs.Duration("duration", 10*time.Second, "closed-loop run length")
	rate := fs.Int("rate", 2000, "open-loop requests per second")
	rateFor := fs.Duration("rate-duration", 10*time.Second, "open-loop run length")
	rateRuns := fs.Int("rate-runs", 1, "open-loop runs (reference then Relay each time); with more than one, counts the runs whose p99 meets 10 ms and 3× the reference's")
	backlog := fs.Int("backlog", 100000, "events queued while the destination is down (backlog mode)")
	bfItems := fs.Int("backfill-items", 60000, "history items the backfill mode imports from the GitHub simulator")
	keep := fs.Bool("keep", false, "keep the temporary data directory")
	serveBin := fs.String("serve-binary", "", "run the Relay under test from this binary (e.g. an older build, to compare in one harness); default this one")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the (first) relay serve process of each mode to `file`.<mode>")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: relay bench [flags]\n\nRuns this relay binary as a child process on loopback with a sink destination and a\nload generator sending signed ~2 KB GitHub webhooks, and prints accepted/s, ack\nlatency percentiles, delivered/s, losses, duplicates, peak RSS, database size (on SQLite\nalso bytes on disk per event after a checkpoint) and CPU time (user+sys) per event, next\nto a reference ceiling (a bare net/http server that only checks the HMAC) and its CPU\ntime per request.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	ms := strings.Split(*modes, ",")
	if *ordering != "" {
		ms = []string{"ordering"}
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	return bench.Run(ctx, bench.Options{
		RelayBin: bin, Modes: ms, Ordering: *ordering, DatabaseURL: *dbURL, Replicas: *replicas,
		Concurrency: *conc, Duration: *dur, Rate: *rate, RateFor: *rateFor, RateRuns: *rateRuns, Backlog: *backlog, BackfillItems: *bfItems, KeepDir: *keep,
		CPUProfile: *cpuProfile, ServeBin: *serveBin, CheckpointedSize: sqlite.CheckpointedSize,
	}, stdout)
}

// cmdBenchReference serves the reference ceiling for `relay bench`.
func cmdBenchReference(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("relay bench reference", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	secret := fs.String("secret", "bench-github-secret", "GitHub webhook secret")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: bench.ReferenceHandler(*secret), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "reference listening on http://%s\n", ln.Addr())
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
