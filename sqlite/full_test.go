package sqlite

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/github"
	relayhttp "github.com/relayhq/relay/http"
	"github.com/relayhq/relay/ingest"
	"github.com/relayhq/relay/metrics"
	"github.com/relayhq/relay/simulator"
)

// noRoutes routes no event anywhere and takes nothing to deliver.
type noRoutes struct{}

func (noRoutes) Route(*relay.Event) []*relay.Destination { return nil }
func (noRoutes) Routes() relay.Routes                    { return nil }
func (noRoutes) Reserve(int, []string) relay.Reservation { return nil }
func (noRoutes) Wake()                                   {}
func (noRoutes) Refresh(context.Context) error           { return nil }

// probeCounter counts the readiness probes the pipeline runs.
type probeCounter struct {
	*Store
	probes atomic.Int64
}

func (p *probeCounter) ProbeWrite(ctx context.Context) error {
	defer p.probes.Add(1)
	return p.Store.ProbeWrite(ctx)
}

// A full disk (here SQLite's page limit on the writer, which fails commits
// with SQLITE_FULL as a full disk does) fails webhooks with 503 and makes
// /readyz answer 503 too; with room again, /readyz comes back by itself
// (the probe), before any webhook succeeds.
func TestReadinessFollowsFullDisk(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "relay.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	store := &probeCounter{Store: s}
	now := func() time.Time { return time.Now().UTC() }
	m := metrics.New()
	logger := slog.New(slog.DiscardHandler)
	pipeline := ingest.New(store, ingest.Routing{Routes: noRoutes{}}, noRoutes{}, m, logger, now, ingest.Config{Owner: "me", ProbeInterval: 10 * time.Millisecond})
	done := make(chan struct{})
	go func() { pipeline.Run(); close(done) }()
	t.Cleanup(func() { _ = pipeline.Close(ctx); <-done })
	const secret = "gh-secret"
	srv := httptest.NewServer(relayhttp.NewServer(store, []relay.Provider{github.New(github.Config{WebhookSecret: secret})},
		pipeline, noRoutes{}, m, logger, now, relayhttp.Config{}))
	t.Cleanup(srv.Close)

	n := 0
	webhook := func() int {
		n++
		body := simulator.GitHubIssuesPayload(4242, int64(n), "opened")
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/github", bytes.NewReader(body))
		for k, v := range simulator.GitHubWebhook(secret, "issues", fmt.Sprint("full-", n), body) {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	readyz := func() int {
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := webhook(); code != http.StatusAccepted {
		t.Fatalf("webhook before the disk is full: %d", code)
	}
	if code := readyz(); code != http.StatusOK {
		t.Fatalf("readyz before the disk is full: %d", code)
	}

	// The disk fills up: no page beyond those the database has.
	var pages int
	if err := s.writer.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.writer.ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)); err != nil {
		t.Fatal(err)
	}
	failed := false
	for range 500 { // pages the database had free are used up first
		if code := webhook(); code == http.StatusServiceUnavailable {
			failed = true
			break
		} else if code != http.StatusAccepted {
			t.Fatalf("webhook on a filling disk: %d", code)
		}
	}
	if !failed {
		t.Fatal("no webhook failed on a full disk")
	}
	if code := readyz(); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz answered %d while webhooks get 503", code)
	}
	// The probe runs and finds the disk still full.
	seen := store.probes.Load()
	waitFor(t, "two probes", func() bool { return store.probes.Load() >= seen+2 || readyz() != http.StatusServiceUnavailable })
	if code := readyz(); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz answered %d after probes of a full disk", code)
	}

	// Room again: readiness comes back without a webhook, then webhooks work.
	if _, err := s.writer.ExecContext(ctx, `PRAGMA max_page_count = 1073741823`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ready again", func() bool { return readyz() == http.StatusOK })
	if code := webhook(); code != http.StatusAccepted {
		t.Fatalf("webhook after room was made: %d", code)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
