package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/simulator"
)

// backupRun runs `relay backup` with args.
func backupRun(args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"relay", "backup"}, args...), func(string) string { return "" },
		strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

// relay backup copies the database of a running Relay under ingest load;
// restored into a new data dir with the same key, every event acknowledged
// before the backup started is there and is delivered.
func TestBackupUnderLoadRestores(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	sink := newCollector(t)
	cfg := destctlConfig(sink.URL, "")
	p := serveIn(t, dataDir, cfg, nil)

	// Ingest continuously until the backup is done.
	var mu sync.Mutex
	var acked []string // source message ids answered 202, in order
	stop := make(chan struct{})
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := fmt.Sprintf("msg_backup-%d", i)
			body := []byte(fmt.Sprintf(`{"type":"invoice.paid","data":{"id":%q}}`, id))
			req, _ := http.NewRequest(http.MethodPost, p.url+"/webhooks/billing", bytes.NewReader(body))
			req.Header = simulator.StandardWebhook(testBilling, id, time.Now(), body)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				continue
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusAccepted {
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
			}
		}
	}()
	waitUntil(t, "some events ingested", func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= 20 })

	backup := filepath.Join(t.TempDir(), "relay-backup.db")
	mu.Lock()
	before := append([]string(nil), acked...)
	mu.Unlock()
	out, errOut, err := backupRun("--data-dir", dataDir, backup)
	close(stop)
	<-loadDone
	if err != nil {
		t.Fatalf("relay backup: %v\n%s%s", err, out, errOut)
	}
	if !strings.Contains(out, "relay.key") {
		t.Errorf("relay backup does not remind to keep relay.key:\n%s", out)
	}
	fi, err := os.Stat(backup)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("backup has mode %04o, want 0600", fi.Mode().Perm())
	}
	// It never overwrites.
	if _, _, err := backupRun("--data-dir", dataDir, backup); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("a second backup to the same file: %v, want a refusal", err)
	}
	p.stop(t)

	// Restore into a new data dir, with the same key.
	restored := filepath.Join(t.TempDir(), "restored")
	if err := os.Mkdir(restored, 0o700); err != nil {
		t.Fatal(err)
	}
	copyFile(t, backup, filepath.Join(restored, "relay.db"))
	copyFile(t, filepath.Join(dataDir, keyFileName), filepath.Join(restored, keyFileName))
	sink2 := newCollector(t)
	q := serveIn(t, restored, destctlConfig(sink2.URL, ""), nil)
	checkAPISpec(t, q.url)
	waitSettled(t, q.url)

	// Every event acknowledged before the backup started is there, and
	// its delivery succeeded (before the backup, or from the restored dir).
	stored := map[string]*relay.Event{}
	cursor := ""
	for {
		var page relay.Page[*relay.Event]
		if code := apiGet(t, q.url+"/api/v1/events?limit=100&cursor="+cursor, &page); code != 200 {
			t.Fatalf("list events: %d", code)
		}
		for _, e := range page.Items {
			stored[e.DeliveryID] = e
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	for _, id := range before {
		e, ok := stored[id]
		if !ok {
			t.Errorf("event %s, acknowledged before the backup, is missing after the restore", id)
			continue
		}
		var full relay.Event
		if code := apiGet(t, q.url+"/api/v1/events/"+e.ID, &full); code != 200 {
			t.Fatalf("get event: %d", code)
		}
		if len(full.Deliveries) != 1 || full.Deliveries[0].Status != relay.DeliverySucceeded {
			t.Errorf("event %s after the restore: deliveries %+v, want one succeeded", id, full.Deliveries)
		}
	}
	if len(before) < 20 {
		t.Fatalf("only %d events before the backup", len(before))
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
