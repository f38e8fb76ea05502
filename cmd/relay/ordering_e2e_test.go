package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"encoding/json"

	"github.com/relayhq/relay/simulator"
	"github.com/relayhq/relay/storetest"
)

// orderedSink is an app that fails a fifth of all attempts at random and
// records, per key, the order in which events were first received with
// success.
type orderedSink struct {
	*httptest.Server
	mu         sync.Mutex
	firstOK    map[string]bool   // delivery ids received with success
	order      map[string][]int  // key -> sequence numbers in order of first success
	webhookIDs map[string]string // delivery id -> the webhook-id it came with
	bad        []string          // inconsistencies seen
	received   atomic.Int64
}

func newOrderedSink(t *testing.T) *orderedSink {
	s := &orderedSink{firstOK: map[string]bool{}, order: map[string][]int{}, webhookIDs: map[string]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.received.Add(1)
		if rand.IntN(5) == 0 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		var env struct {
			DeliveryID string `json:"delivery_id"`
		}
		_ = json.Unmarshal(body, &env)
		key, seq, ok := strings.Cut(env.DeliveryID, "/") // "k<repo>/<seq>"
		n, err := strconv.Atoi(seq)
		s.mu.Lock()
		defer s.mu.Unlock()
		if !ok || err != nil {
			s.bad = append(s.bad, "unexpected delivery id "+env.DeliveryID)
		}
		wid := r.Header.Get("webhook-id")
		if prev, seen := s.webhookIDs[env.DeliveryID]; seen && prev != wid {
			s.bad = append(s.bad, fmt.Sprintf("%s came as webhook-id %s and %s", env.DeliveryID, prev, wid))
		}
		s.webhookIDs[env.DeliveryID] = wid
		if !s.firstOK[env.DeliveryID] {
			s.firstOK[env.DeliveryID] = true
			s.order[key] = append(s.order[key], n)
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(s.Close)
	return s
}

// tryPost posts a webhook and returns its status, or an error when the
// replica could not be reached (it was killed).
func tryPost(url string, header http.Header, body []byte) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// Two replicas on one PostgreSQL database deliver to a destination ordered
// by resource: 100 keys × 50 events, each key's events sent one after the
// other, a fifth of the attempts failing at random, and one replica
// SIGKILLed mid-run. For every key the order of first successful receipt
// is the arrival order; nothing is lost; a redelivery carries the
// webhook-id of the first.
func TestOrderedDeliveryTwoReplicasPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the relay binary; skipped with -short")
	}
	dbURL := storetest.PostgresSchemaURL(t)
	bin, err := buildRelay()
	if err != nil {
		t.Fatal(err)
	}
	sink := newOrderedSink(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "relay.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
admin_api_key: %q
log_level: warn
encryption: {keys: [%q]}
providers:
  github: {webhook_secret: %q}
destinations:
  - {name: app, url: %q, secret: %q, ordering: resource}
delivery:
  timeout: 2s
  lease: 30s
  poll_interval: 100ms
  retry_schedule: [0s, 50ms, 50ms, 50ms, 50ms, 50ms, 50ms, 50ms, 50ms, 50ms, 50ms, 50ms, 50ms, 50ms, 50ms, 50ms, 50ms, 50ms, 50ms, 50ms, 50ms, 50ms, 50ms, 50ms, 50ms]
`, testAdminKey, strings.Repeat("d5", 32), testGitHub, sink.URL, testDestination)), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func(i int) *proc {
		return startProcess(t, bin, []string{"serve", "--addr", "127.0.0.1:0", "--config", cfg,
			"--data-dir", filepath.Join(dir, fmt.Sprint("data", i)), "--database-url", dbURL}, nil)
	}
	replicas := []*proc{start(0), start(1)}

	const keys, perKey = 100, 50
	var killed atomic.Bool
	var acked atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, keys)
	sem := make(chan struct{}, 16) // senders at once
	for k := 1; k <= keys; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			for i := range perKey {
				id := fmt.Sprintf("k%d/%d", k, i)
				body := simulator.GitHubIssuesPayload(4242, int64(k), "edited")
				for try := 0; ; try++ {
					target := replicas[k%2]
					if killed.Load() {
						target = replicas[0]
					}
					code, err := tryPost(target.url+"/webhooks/github", simulator.GitHubWebhook(testGitHub, "issues", id, body), body)
					if err == nil && (code == http.StatusAccepted || code == http.StatusOK) {
						break
					}
					if try > 50 {
						errs <- fmt.Errorf("%s not acknowledged: %d %v", id, code, err)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
				if acked.Add(1) == keys*perKey/2 {
					// Half-way: SIGKILL the second replica, in flight.
					killed.Store(true)
					replicas[1].kill(t)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if !killed.Load() {
		t.Fatal("no replica was killed")
	}

	deadline := time.Now().Add(3 * time.Minute)
	for {
		sink.mu.Lock()
		n := len(sink.firstOK)
		sink.mu.Unlock()
		if n == keys*perKey {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events delivered", n, keys*perKey)
		}
		time.Sleep(50 * time.Millisecond)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for _, b := range sink.bad {
		t.Error(b)
	}
	for k := 1; k <= keys; k++ {
		got := sink.order[fmt.Sprintf("k%d", k)]
		for i, n := range got {
			if n != i {
				t.Fatalf("key k%d: first successful receipts in order %v, want 0..%d", k, got, perKey-1)
			}
		}
	}
	t.Logf("%d events over %d keys delivered in order; %d attempts received", keys*perKey, keys, sink.received.Load())
}
