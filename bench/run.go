package bench

import (
	"context"
	"fmt"
	"io"
	neturl "net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options selects what a benchmark run does.
type Options struct {
	RelayBin string // the relay binary to run (its own path for `relay bench`)
	// ServeBin, when set, is the binary the Relay under test is run from
	// (another build, e.g. the previous release, measured by this harness
	// against the same reference); RelayBin still runs the reference.
	ServeBin    string
	Modes       []string      // throughput, rate, backlog, kill, backfill, retention
	DatabaseURL string        // postgres://… to bench PostgreSQL (modes run on it instead of SQLite)
	Replicas    int           // relay processes behind the load generator, round-robin
	Concurrency int           // closed-loop workers
	Duration    time.Duration // closed-loop run length
	Rate        int           // open-loop requests per second
	RateFor     time.Duration // open-loop run length
	RateRuns    int           // open-loop runs, each of the reference then of Relay
	Backlog     int           // events queued while the destination is down
	// BackfillItems is how many history items the backfill mode imports.
	BackfillItems int
	KeepDir       bool   // keep the temp data dir
	CPUProfile    string // if set, replica 0 of each mode writes a CPU profile to CPUProfile.<mode>
	// Ordering is the destination ordering the ordering mode compares with
	// none (resource, account, connection or a JSON path).
	Ordering string
	// CheckpointedSize, when set, moves a stopped replica's SQLite WAL into
	// its database file and returns the file's size, for the bytes on disk
	// per event (the WAL's size at any moment depends on when the last
	// checkpoint ran; the file after a checkpoint does not).
	CheckpointedSize func(ctx context.Context, path string) (int64, error)
	mode             string
	ref              *reference // the closed-loop reference figures, once measured in this run
	live             *float64   // Relay's accepted/s in the throughput mode, once measured in this run
}

// reference is what the reference server measured in a closed loop.
type reference struct {
	rate float64       // accepted requests per second
	cpu  time.Duration // user+sys CPU per accepted request
}

const benchSecret = "bench-github-secret"
const benchDestSecret = "whsec_YmVuY2gtZGVzdGluYXRpb24tc2VjcmV0LWJlbmNoLTEyMzQ="

// Run runs the selected modes and prints a report to out.
func Run(ctx context.Context, o Options, out io.Writer) error {
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	o.ref = &reference{}
	o.live = new(float64)
	fmt.Fprintf(out, "# relay bench — %s, %d CPUs (GOMAXPROCS %d), %s\n", time.Now().UTC().Format(time.RFC3339),
		runtime.NumCPU(), runtime.GOMAXPROCS(0), memTotal())
	backend := "sqlite"
	if o.DatabaseURL != "" {
		backend = "postgres"
		url, drop, err := freshSchema(ctx, o.DatabaseURL)
		if err != nil {
			return err
		}
		if !o.KeepDir {
			defer drop()
		}
		o.DatabaseURL = url
	}
	fmt.Fprintf(out, "# backend %s, replicas %d, concurrency %d\n\n", backend, o.Replicas, o.Concurrency)
	payloads := Payloads(benchSecret, 64)
	fmt.Fprintf(out, "payload: GitHub issues.opened, %d bytes, unique delivery id per request\n\n", len(payloads[0].body))

	for _, mode := range o.Modes {
		var err error
		o.mode = mode
		switch mode {
		case "throughput":
			err = runThroughput(ctx, o, payloads, out)
		case "rate":
			err = runRate(ctx, o, payloads, out)
		case "backlog":
			err = runBacklog(ctx, o, payloads, out)
		case "kill":
			err = runKill(ctx, o, payloads, out)
		case "backfill":
			err = runBackfill(ctx, o, payloads, out)
		case "retention":
			err = runRetention(ctx, o, payloads, out)
		case "ordering":
			if o.Ordering == "" {
				o.Ordering = "resource"
			}
			err = runOrdering(ctx, o, out)
		default:
			err = fmt.Errorf("unknown mode %q (throughput, rate, backlog, kill, backfill, retention, ordering)", mode)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", mode, err)
		}
	}
	return nil
}

// cluster is the relay processes of one mode, with their sink.
type cluster struct {
	procs   []*Process
	sink    *Sink
	dir     string
	keep    bool
	stopped bool // the relay processes were stopped
}

func startCluster(o Options, extraEnv ...string) (*cluster, error) {
	sink, err := NewSink()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "relay-bench-")
	if err != nil {
		return nil, err
	}
	c := &cluster{sink: sink, dir: dir, keep: o.KeepDir}
	env := append(clusterEnv(o, sink.URL()), extraEnv...)
	for i := range o.Replicas {
		dataDir := filepath.Join(dir, fmt.Sprintf("replica-%d", i))
		args := []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir}
		if o.DatabaseURL != "" {
			args = append(args, "--database-url", o.DatabaseURL)
		}
		if o.CPUProfile != "" && i == 0 {
			args = append(args, "--cpuprofile", o.CPUProfile+"."+o.mode)
		}
		bin := o.RelayBin
		if o.ServeBin != "" {
			bin = o.ServeBin
		}
		p, err := Start(bin, args, env, dataDir)
		if err != nil {
			c.close()
			return nil, err
		}
		c.procs = append(c.procs, p)
	}
	return c, nil
}

// benchEncryptionKey is the vault key of replicas sharing a PostgreSQL
// database (64 hex digits, as encryption.keys takes them).
const benchEncryptionKey = "62656e63682d7661756c742d6b65792d6f6e6c792d666f722d62656e63686573"

// clusterEnv is the environment of every relay serve process of a mode,
// delivering to the sink at sinkURL.
func clusterEnv(o Options, sinkURL string) []string {
	env := []string{
		"RELAY_PROVIDERS_GITHUB_WEBHOOK_SECRET=" + benchSecret,
		"RELAY_DESTINATIONS_0_NAME=sink",
		"RELAY_DESTINATIONS_0_URL=" + sinkURL,
		"RELAY_DESTINATIONS_0_SECRET=" + benchDestSecret,
		"RELAY_DESTINATIONS_0_MAX_CONCURRENCY=64",
		"RELAY_ADMIN_API_KEY=rk_bench_admin_0123456789abcdef",
		"RELAY_LOG_LEVEL=warn",
	}
	if o.DatabaseURL != "" {
		// Replicas read each other's destination secrets from the shared
		// database, so they need one key; a key file per data dir would
		// make every replica after the first refuse to start.
		env = append(env, "RELAY_ENCRYPTION_KEYS="+benchEncryptionKey)
	}
	return env
}

func (c *cluster) targets() []string {
	var t []string
	for _, p := range c.procs {
		t = append(t, p.URL+"/webhooks/github")
	}
	return t
}

// stop stops the relay processes, gracefully.
func (c *cluster) stop() {
	if c.stopped {
		return
	}
	c.stopped = true
	for _, p := range c.procs {
		_ = p.Stop()
	}
}

func (c *cluster) close() {
	c.stop()
	c.sink.Close()
	if !c.keep {
		os.RemoveAll(c.dir)
	}
}

// waitDelivered waits until every acked id reached the sink, or timeout.
// A full tally walks every id under the sink's lock, so it runs only when the
// distinct count says everything may be there (or once a second): tallying
// on every tick would itself slow the sink down on large runs.
func (c *cluster) waitDelivered(acked []string, timeout time.Duration) (lost, dups int, last time.Time) {
	deadline := time.Now().Add(timeout)
	var tallied time.Time
	for {
		if c.sink.Unique() >= int64(len(acked)) || time.Since(tallied) > time.Second || time.Now().After(deadline) {
			lost, dups, last = c.sink.Tally(acked)
			tallied = time.Now()
			if lost == 0 || time.Now().After(deadline) {
				return lost, dups, last
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "memory unknown"
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.Join(strings.Fields(line), " ")
}

// measureReference loads the reference server like Relay and returns its
// rate and CPU per request, which it also keeps in o.ref for the modes that
// do not load the reference themselves.
func measureReference(ctx context.Context, o Options, payloads []webhook, out io.Writer) (reference, error) {
	p, err := Start(o.RelayBin, []string{"bench", "reference", "--addr", "127.0.0.1:0"}, nil, "")
	if err != nil {
		return reference{}, err
	}
	defer p.Kill()
	l := NewLoader([]string{p.URL + "/webhooks/github"}, payloads, "ref-", o.Concurrency)
	l.ClosedLoop(ctx, o.Concurrency, 0, time.Second) // warm up connections
	cpu := meterCPU(p)
	r := l.ClosedLoop(ctx, o.Concurrency, 0, o.Duration)
	ref := reference{rate: r.Rate(), cpu: perEvent(cpu.Used(), r.Accepted)}
	fmt.Fprintf(out, "reference ceiling (net/http + HMAC only): %s\n", r)
	fmt.Fprintf(out, "reference CPU per request %s (%s ÷ %d accepted)\n", us(ref.cpu), cpu.Used().Round(10*time.Millisecond), r.Accepted)
	if o.ref != nil {
		*o.ref = ref
	}
	return ref, nil
}

// referenceCPU returns the reference's CPU per request from this run,
// measuring it first (closed loop, --duration) when no earlier mode did, so
// every mode's CPU per event has its ratio.
func referenceCPU(ctx context.Context, o Options, payloads []webhook, out io.Writer) (time.Duration, error) {
	if o.ref != nil && o.ref.cpu > 0 {
		return o.ref.cpu, nil
	}
	ref, err := measureReference(ctx, o, payloads, out)
	return ref.cpu, err
}

// measureReferenceOpen loads the reference server with the rate mode's open
// loop and returns its CPU per request: at a fixed rate below the ceiling a
// server batches less work per wake-up than in a closed loop, so Relay's CPU
// per event in that mode is compared with the reference under the same load.
func measureReferenceOpen(ctx context.Context, o Options, payloads []webhook, out io.Writer) (time.Duration, *Result, error) {
	p, err := Start(o.RelayBin, []string{"bench", "reference", "--addr", "127.0.0.1:0"}, nil, "")
	if err != nil {
		return 0, nil, err
	}
	defer p.Kill()
	l := NewLoader([]string{p.URL + "/webhooks/github"}, payloads, "ref-open-", 256)
	cpu := meterCPU(p)
	r := l.OpenLoop(ctx, o.Rate, o.RateFor, 256)
	used := cpu.Used()
	fmt.Fprintf(out, "reference: %s\n", r)
	fmt.Fprintf(out, "reference CPU per request %s (%s ÷ %d accepted)\n", us(perEvent(used, r.Accepted)), used.Round(10*time.Millisecond), r.Accepted)
	return perEvent(used, r.Accepted), r, nil
}

func runThroughput(ctx context.Context, o Options, payloads []webhook, out io.Writer) error {
	fmt.Fprintf(out, "## throughput: closed loop, %d concurrent senders, %s\n", o.Concurrency, o.Duration)
	ref, err := measureReference(ctx, o, payloads, out)
	if err != nil {
		return err
	}
	c, err := startCluster(o)
	if err != nil {
		return err
	}
	defer c.close()
	l := NewLoader(c.targets(), payloads, fmt.Sprintf("tp-%d-", time.Now().UnixNano()), o.Concurrency)
	cpu := meterCPU(c.procs...)
	r := l.ClosedLoop(ctx, o.Concurrency, 0, o.Duration)
	loadCPU := cpu.Used()
	fmt.Fprintf(out, "relay:                                    %s\n", r)
	fmt.Fprintf(out, "ratio to reference:                       %.2f\n", r.Rate()/ref.rate)
	if o.live != nil {
		*o.live = r.Rate()
	}
	lost, dups, last := c.waitDelivered(r.Acked, 5*time.Minute)
	totalCPU := cpu.Used()
	e2e := last.Sub(r.FirstSend)
	fmt.Fprintf(out, "delivered: %d of %d acknowledged, lost %d, duplicates %d; first send → last delivery %s (%.0f delivered/s)\n",
		int64(len(r.Acked))-int64(lost), len(r.Acked), lost, dups, e2e.Round(time.Millisecond), float64(len(r.Acked)-lost)/e2e.Seconds())
	fmt.Fprintf(out, "ingest and delivery: %s\n", cpuLine(totalCPU, r.Accepted, "accepted", ref.cpu))
	fmt.Fprintf(out, "during the load only: %s\n", cpuLine(loadCPU, r.Accepted, "accepted", ref.cpu))
	for i, p := range c.procs {
		fmt.Fprintf(out, "replica %d peak RSS %s\n", i, mb(p.PeakRSS()))
	}
	if o.DatabaseURL == "" {
		fmt.Fprintf(out, "database size %s (of which WAL %s)\n", mb(DirSize(c.dir)), mb(walSize(c.dir)))
		fmt.Fprintf(out, "%s\n", c.checkpointedLine(ctx, o, r.Accepted))
	}
	fmt.Fprintln(out)
	return nil
}

// checkpointedLine stops the cluster, checkpoints each replica's SQLite
// database and reports the files' size per stored event (every accepted
// webhook is one event, its delivery and its attempt).
func (c *cluster) checkpointedLine(ctx context.Context, o Options, events int64) string {
	if o.CheckpointedSize == nil {
		return "on disk after a checkpoint: n/a"
	}
	c.stop()
	var total int64
	for i := range c.procs {
		n, err := o.CheckpointedSize(ctx, filepath.Join(c.dir, fmt.Sprintf("replica-%d", i), "relay.db"))
		if err != nil {
			return fmt.Sprintf("on disk after a checkpoint: %v", err)
		}
		total += n
	}
	return fmt.Sprintf("on disk after a checkpoint: %s, %.0f bytes per event (%d events)", mb(total), float64(total)/float64(max(events, 1)), events)
}

// rateTarget is the open loop's p99 ack latency goal, and rateRefFactor
// how many times the reference's p99 in the same run it may be at most.
const (
	rateTarget    = 10 * time.Millisecond
	rateRefFactor = 3
)

// runRate runs the open loop RateRuns times, each time the reference first
// and then a fresh Relay, and counts the runs whose p99 meets rateTarget
// and rateRefFactor: a tail is judged over several runs, not one.
func runRate(ctx context.Context, o Options, payloads []webhook, out io.Writer) error {
	runs := max(o.RateRuns, 1)
	fmt.Fprintf(out, "## rate: open loop, %d/s for %s, %d run(s)\n", o.Rate, o.RateFor, runs)
	var underTarget, underRef int
	var p99s []string
	for i := range runs {
		if runs > 1 {
			fmt.Fprintf(out, "run %d:\n", i+1)
		}
		p99, refP99, err := rateRun(ctx, o, payloads, out)
		if err != nil {
			return err
		}
		if p99 <= rateTarget {
			underTarget++
		}
		if p99 <= rateRefFactor*refP99 {
			underRef++
		}
		p99s = append(p99s, fmt.Sprintf("%s (reference %s)", p99.Round(10*time.Microsecond), refP99.Round(10*time.Microsecond)))
	}
	if runs > 1 {
		fmt.Fprintf(out, "p99 per run: %s\n", strings.Join(p99s, ", "))
		fmt.Fprintf(out, "p99 ≤ %s in %d of %d runs; p99 ≤ %d× the reference's in %d of %d runs\n\n",
			rateTarget, underTarget, runs, rateRefFactor, underRef, runs)
	}
	return nil
}

// rateRun is one open-loop run of the reference and then of Relay; it
// returns both p99 ack latencies.
func rateRun(ctx context.Context, o Options, payloads []webhook, out io.Writer) (p99, refP99 time.Duration, err error) {
	refCPU, ref, err := measureReferenceOpen(ctx, o, payloads, out)
	if err != nil {
		return 0, 0, err
	}
	c, err := startCluster(o)
	if err != nil {
		return 0, 0, err
	}
	defer c.close()
	l := NewLoader(c.targets(), payloads, fmt.Sprintf("rate-%d-", time.Now().UnixNano()), 256)
	cpu := meterCPU(c.procs...)
	r := l.OpenLoop(ctx, o.Rate, o.RateFor, 256)
	fmt.Fprintf(out, "relay: %s\n", r)
	lost, dups, _ := c.waitDelivered(r.Acked, 2*time.Minute)
	fmt.Fprintf(out, "ingest and delivery: %s\n", cpuLine(cpu.Used(), r.Accepted, "accepted", refCPU))
	fmt.Fprintf(out, "lost %d, duplicates %d; peak RSS %s", lost, dups, mb(c.procs[0].PeakRSS()))
	if o.DatabaseURL == "" {
		fmt.Fprintf(out, "; database %s (of which WAL %s)\n", mb(DirSize(c.dir)), mb(walSize(c.dir)))
		fmt.Fprint(out, c.checkpointedLine(ctx, o, r.Accepted))
	}
	fmt.Fprint(out, "\n\n")
	return r.Percentile(99), ref.Percentile(99), nil
}

func runBacklog(ctx context.Context, o Options, payloads []webhook, out io.Writer) error {
	fmt.Fprintf(out, "## backlog: destination down while %d events arrive, then up\n", o.Backlog)
	refCPU, err := referenceCPU(ctx, o, payloads, out)
	if err != nil {
		return err
	}
	c, err := startCluster(o)
	if err != nil {
		return err
	}
	defer c.close()
	c.sink.SetDown(true)
	l := NewLoader(c.targets(), payloads, fmt.Sprintf("bl-%d-", time.Now().UnixNano()), o.Concurrency)
	fillCPU := meterCPU(c.procs...)
	r := l.ClosedLoop(ctx, o.Concurrency, int64(o.Backlog), 0)
	fmt.Fprintf(out, "filled: %s\n", r)
	// Deliveries refused while the destination is down are part of the
	// fill's cost, as they would be in production.
	fmt.Fprintf(out, "fill: %s\n", cpuLine(fillCPU.Used(), r.Accepted, "accepted", refCPU))
	rssBefore := c.procs[0].RSS()
	c.sink.Reset()
	c.sink.SetDown(false)
	drainCPU := meterCPU(c.procs...)
	up := time.Now()
	var peak int64
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				peak = max(peak, c.procs[0].RSS())
			}
		}
	}()
	lost, dups, last := c.waitDelivered(r.Acked, 30*time.Minute)
	drained := drainCPU.Used()
	close(stop)
	first := c.sink.First()
	drain := last.Sub(first)
	// The destination is found healthy again by the circuit breaker's next
	// probe, so the wait before the first delivery is bounded by the pause
	// then in force; the drain rate is measured from that first delivery.
	fmt.Fprintf(out, "destination up → first delivery %s (circuit breaker probe); drained %d in %s (%.0f/s); lost %d, duplicates %d\n",
		first.Sub(up).Round(time.Millisecond), len(r.Acked)-lost, drain.Round(time.Millisecond), float64(len(r.Acked)-lost)/drain.Seconds(), lost, dups)
	fmt.Fprintf(out, "drain: %s\n", cpuLine(drained, int64(len(r.Acked)-lost), "delivered", refCPU))
	fmt.Fprintf(out, "RSS before drain %s, peak during drain %s; database %s\n\n", mb(rssBefore), mb(peak), mb(DirSize(c.dir)))
	return nil
}

func runKill(ctx context.Context, o Options, payloads []webhook, out io.Writer) error {
	if o.Replicas < 2 {
		return fmt.Errorf("needs --replicas 2 (and --database-url for a shared PostgreSQL)")
	}
	fmt.Fprintf(out, "## kill: %d replicas, SIGKILL replica 1 mid-run\n", o.Replicas)
	refCPU, err := referenceCPU(ctx, o, payloads, out)
	if err != nil {
		return err
	}
	c, err := startCluster(o, "RELAY_DELIVERY_LEASE=5s", "RELAY_DELIVERY_TIMEOUT=2s")
	if err != nil {
		return err
	}
	defer c.close()
	l := NewLoader(c.targets(), payloads, fmt.Sprintf("kill-%d-", time.Now().UnixNano()), o.Concurrency)
	cpu := meterCPU(c.procs...)
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		time.Sleep(o.Duration / 2)
		c.procs[1].Kill()
		fmt.Fprintf(out, "replica 1 killed at %s\n", (o.Duration / 2))
	}()
	r := l.ClosedLoop(ctx, o.Concurrency, 0, o.Duration)
	fmt.Fprintf(out, "combined: %s (requests to the killed replica fail and are not acknowledged)\n", r)
	lost, dups, _ := c.waitDelivered(r.Acked, 3*time.Minute)
	// The killed replica's CPU is its rusage, read once Kill has waited for it.
	<-killed
	fmt.Fprintf(out, "acknowledged %d, lost %d, duplicates %d (at-least-once: same webhook-id)\n", len(r.Acked), lost, dups)
	fmt.Fprintf(out, "all replicas, ingest and delivery: %s\n\n", cpuLine(cpu.Used(), int64(len(r.Acked)), "acknowledged", refCPU))
	c.procs = c.procs[:1]
	if lost > 0 {
		return fmt.Errorf("%d acknowledged events lost", lost)
	}
	return nil
}

// walSize sums the SQLite WAL files under dir.
func walSize(dir string) int64 {
	matches, _ := filepath.Glob(filepath.Join(dir, "*", "*-wal"))
	var n int64
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// freshSchema creates an empty schema for one run, so runs neither see nor
// leave each other's rows, and returns a URL selecting it and its cleanup.
func freshSchema(ctx context.Context, base string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("connect to %s: %w", redact(base), err)
	}
	defer conn.Close(ctx)
	schema := fmt.Sprintf("relay_bench_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, err
	}
	u, err := neturl.Parse(base)
	if err != nil {
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop := func() {
		c, err := pgx.Connect(context.Background(), base)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	}
	return u.String(), drop, nil
}

// redact hides a URL's password.
func redact(s string) string {
	u, err := neturl.Parse(s)
	if err != nil {
		return "database URL"
	}
	return u.Redacted()
}
