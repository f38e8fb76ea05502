package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/relayhq/relay/simulator"
	"github.com/relayhq/relay/storetest"
)

// buildRelay compiles the relay binary once per test run.
var buildRelay = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "relay-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "relay")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// proc is a relay binary running as a child process.
type proc struct {
	cmd    *exec.Cmd
	url    string
	stderr *syncBuffer
}

func startProcess(t *testing.T, bin string, args []string, env []string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
	}()
	p := &proc{cmd: cmd, stderr: stderr}
	select {
	case p.url = <-urls:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("relay did not start; stderr:\n%s", stderr)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return p
}

func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
}

// Acceptance 5: SIGKILL right after webhooks were acknowledged loses none of
// them: after a restart every acknowledged event is delivered. The lease is
// long (10 min), so the deliveries the killed process held must be released
// at start-up for this to happen within the poll's bound: 5 s on SQLite, 15 s
// on PostgreSQL (where the dead replica's heartbeat must first go stale).
func TestKillAfterAckLosesNothing(t *testing.T) { testKillAfterAck(t, "") }

// The same on PostgreSQL.
func TestKillAfterAckLosesNothingPostgres(t *testing.T) {
	testKillAfterAck(t, storetest.PostgresSchemaURL(t))
}

func testKillAfterAck(t *testing.T, databaseURL string) {
	if testing.Short() {
		t.Skip("builds and runs the relay binary; skipped with -short")
	}
	bin, err := buildRelay()
	if err != nil {
		t.Fatal(err)
	}
	sink := newCollector(t)
	sink.mu.Lock()
	// The app hangs while the webhooks arrive: at the kill, the process
	// holds leases on deliveries in flight and queued behind them.
	sink.delay = time.Minute
	sink.mu.Unlock()

	dir := t.TempDir()
	cfg := filepath.Join(dir, "relay.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
admin_api_key: %q
log_level: warn
providers:
  github: {webhook_secret: %q}
destinations:
  - {name: app, url: %q, secret: %q}
delivery:
  timeout: 1s
  lease: 10m
  poll_interval: 100ms
  retry_schedule: [0s, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms]
`, testAdminKey, testGitHub, sink.URL, testDestination)), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), "--config", cfg}
	env := []string{}
	if databaseURL != "" {
		args = append(args, "--database-url", databaseURL)
	}
	p := startProcess(t, bin, args, env)

	// Send webhooks from several clients at once; remember every one acknowledged.
	const n = 300
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				id := fmt.Sprintf("kill-%d", i)
				body := simulator.GitHubIssuesPayload(4242, int64(i), "opened")
				code, _ := post(t, p.url+"/webhooks/github", simulator.GitHubWebhook(testGitHub, "issues", id, body), body)
				if code == http.StatusAccepted {
					mu.Lock()
					acked[id] = true
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	p.kill(t) // no graceful shutdown: whatever is only in memory is gone
	if len(acked) != n {
		t.Fatalf("only %d of %d webhooks acknowledged before the kill", len(acked), n)
	}

	// The app is back; a new process on the same data delivers everything.
	sink.mu.Lock()
	sink.delay = 0
	sink.mu.Unlock()
	startProcess(t, bin, args, env)
	bound := 5 * time.Second
	if databaseURL != "" {
		bound = 15 * time.Second
	}
	delivered := func() map[string]bool {
		got := map[string]bool{}
		for _, d := range sink.all() {
			if s, ok := d.env["delivery_id"].(string); ok && strings.HasPrefix(s, "kill-") && d.code == http.StatusOK {
				got[s] = true
			}
		}
		return got
	}
	deadline := time.Now().Add(bound)
	for {
		got := delivered()
		missing := 0
		for id := range acked {
			if !got[id] {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged events not delivered within %s of the restart", missing, len(acked), bound)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Two replicas on one PostgreSQL database share the load; one is killed
// while it holds leased deliveries. The survivor takes its work over once
// the dead replica's heartbeat is stale, long before its 10-minute leases
// end: every acknowledged event is delivered (at least once) within 15 s of
// the kill.
func TestTwoReplicasKillOneLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the relay binary; skipped with -short")
	}
	dbURL := storetest.PostgresSchemaURL(t)
	bin, err := buildRelay()
	if err != nil {
		t.Fatal(err)
	}
	sink := newCollector(t)
	sink.mu.Lock()
	sink.delay = time.Minute // the app hangs: each replica holds leased work, in flight and queued
	sink.mu.Unlock()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "relay.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
admin_api_key: %q
log_level: warn
encryption: {keys: [%q]} # replicas share the vault's keys: each opens what the other sealed
providers:
  github: {webhook_secret: %q}
destinations:
  - {name: app, url: %q, secret: %q, max_concurrency: 4}
delivery:
  timeout: 1s
  lease: 10m
  poll_interval: 100ms
  retry_schedule: [0s, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms]
`, testAdminKey, strings.Repeat("d4", 32), testGitHub, sink.URL, testDestination)), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func(i int) *proc {
		return startProcess(t, bin, []string{"serve", "--addr", "127.0.0.1:0", "--config", cfg,
			"--data-dir", filepath.Join(dir, fmt.Sprint("data", i)), "--database-url", dbURL}, nil)
	}
	a, b := start(0), start(1)

	const n = 200
	acked := map[string]bool{}
	for i := range n {
		target := a
		if i%2 == 1 {
			target = b
		}
		id := fmt.Sprintf("rr-%d", i)
		body := simulator.GitHubIssuesPayload(4242, int64(i), "opened")
		if code, _ := post(t, target.url+"/webhooks/github", simulator.GitHubWebhook(testGitHub, "issues", id, body), body); code == http.StatusAccepted {
			acked[id] = true
		}
	}
	if len(acked) != n {
		t.Fatalf("%d of %d acknowledged", len(acked), n)
	}
	// Both replicas hold live leases (in flight or queued) when one dies.
	waitUntil(t, "both replicas holding leases", func() bool {
		return leaseHolders(t, dbURL) >= 2
	})
	b.kill(t) // mid-flight: its leased deliveries are now only in the database

	sink.mu.Lock()
	sink.delay = 0
	sink.mu.Unlock()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := map[string]int{}
		for _, d := range sink.all() {
			if s, ok := d.env["delivery_id"].(string); ok && d.code == http.StatusOK {
				got[s]++
			}
		}
		missing := 0
		for id := range acked {
			if got[id] == 0 {
				missing++
			}
		}
		if missing == 0 {
			dups := 0
			for _, c := range got {
				dups += c - 1
			}
			t.Logf("all %d acknowledged events delivered by the survivor; %d duplicate deliveries (at-least-once)", n, dups)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged events not delivered within 15 s of killing a replica", missing, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// leaseHolders counts the replicas holding a live lease on undelivered work.
func leaseHolders(t *testing.T, dbURL string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(DISTINCT lease_owner) FROM deliveries
		WHERE lease_until > now() AND status IN ('pending', 'retrying')`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A second `relay serve` on a SQLite data dir in use refuses to start: the
// release of every lease at start-up counts on one process per data dir.
// Once the first is killed, the lock is gone with it.
func TestSecondServeOnDataDirRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the relay binary; skipped with -short")
	}
	bin, err := buildRelay()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "relay.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("admin_api_key: %q\nlog_level: warn\n", testAdminKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), "--config", cfg}
	first := startProcess(t, bin, args, nil)

	// Bounded: a second serve that starts would run until killed.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use by another relay process") {
		t.Fatalf("second serve on the same data dir: %v\n%s", err, out)
	}
	first.kill(t)
	startProcess(t, bin, args, nil)
}
