package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/sqlite"
	"github.com/relayhq/relay/storetest"
)

func TestRetention(t *testing.T) {
	storetest.RunRetention(t, func(t *testing.T) storetest.RetentionStore { return openStore(t) })
}

func pragma(t *testing.T, path, name string) int {
	t.Helper()
	return queryInt(t, path, `PRAGMA `+name)
}

func queryInt(t *testing.T, path, query string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int
	if err := db.QueryRow(query).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestIncrementalVacuumExistingFile: a database created without
// auto_vacuum (as every file before retention was) is switched to
// incremental vacuum by Migrate, and a new one is created with it.
func TestIncrementalVacuumExistingFile(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.db")
	db, err := sql.Open("sqlite", "file:"+old)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE leftover (x INTEGER); INSERT INTO leftover VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if got := pragma(t, old, "auto_vacuum"); got != 0 {
		t.Fatalf("setup: auto_vacuum %d", got)
	}
	for _, path := range []string{old, filepath.Join(dir, "new.db")} {
		s, err := sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if got := pragma(t, path, "auto_vacuum"); got != 2 {
			t.Fatalf("%s: auto_vacuum %d after Migrate, want 2 (incremental)", filepath.Base(path), got)
		}
	}
	if got := queryInt(t, old, `SELECT count(*) FROM leftover`); got != 1 {
		t.Fatalf("the existing file lost rows: %d", got)
	}
}

// TestCompactShrinksFile: after pruning, Compact gives every freed page
// back and truncates the WAL, so the file shrinks.
func TestCompactShrinksFile(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	// Random padding: stored payloads are compressed, and a run of one
	// letter would shrink to nothing.
	pad := make([]byte, 6000)
	rand.NewChaCha8([32]byte{1}).Read(pad)
	payload, _ := json.Marshal(map[string]string{"pad": base64.StdEncoding.EncodeToString(pad)})
	for b := 0; b < 10; b++ {
		var items []*relay.IngestItem
		for i := 0; i < 200; i++ {
			e := &relay.Event{ID: relay.NewID("evt", at), Provider: "github", DeliveryID: fmt.Sprintf("c-%d-%d", b, i),
				EventType: "push", Source: relay.SourceLive, Payload: payload, ReceivedAt: at}
			items = append(items, &relay.IngestItem{Event: e})
		}
		if err := s.InsertEvents(ctx, items); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Compact(ctx); err != nil { // checkpoint everything into the file
		t.Fatal(err)
	}
	full, err := s.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for {
		got, err := s.PruneEvents(ctx, relay.Prune{Before: at.Add(time.Second), Now: at})
		if err != nil {
			t.Fatal(err)
		}
		if !got.More(0) {
			break
		}
	}
	if err := s.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if free := pragma(t, s.Path(), "freelist_count"); free != 0 {
		t.Fatalf("%d free pages left after Compact", free)
	}
	after, err := s.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after > full/4 {
		t.Fatalf("database and WAL %d bytes after pruning everything, %d before", after, full)
	}
}
