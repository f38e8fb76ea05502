package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/sqlite"
	"github.com/relayhq/relay/vault"
)

// TestDestinationSecretCopiedToAnotherRowDoesNotOpen: a destination's
// sealed secret copied into another destination's row (by someone who can
// write the database but has no key) does not open there.
func TestDestinationSecretCopiedToAnotherRowDoesNotOpen(t *testing.T) {
	ctx := context.Background()
	ring, err := vault.New([][]byte{bytes.Repeat([]byte{1}, vault.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "relay.db")
	s, err := sqlite.Open(path, sqlite.WithSealer(ring))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var ids []string
	for _, name := range []string{"a", "b"} {
		d := &relay.Destination{ID: relay.NewID("dst", now), Name: name, URL: "http://127.0.0.1:9/" + name,
			Secret: relay.NewSecret(), CreatedAt: now, UpdatedAt: now}
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateDestination(ctx, d); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var secret string
	if err := db.QueryRow(`SELECT secret FROM destinations WHERE id = ?`, ids[0]).Scan(&secret); err != nil || secret != "" {
		t.Fatalf("secret column %q %v, want empty", secret, err)
	}
	if _, err := db.Exec(`UPDATE destinations SET (secret_key_id, secret_sealed) =
		(SELECT secret_key_id, secret_sealed FROM destinations WHERE id = ?) WHERE id = ?`, ids[0], ids[1]); err != nil {
		t.Fatal(err)
	}
	if d, err := s.GetDestination(ctx, ids[1]); relay.ErrorCode(err) != relay.EINTERNAL {
		t.Fatalf("%s's secret opened as %s's: %+v %v", ids[0], ids[1], d, err)
	}
	if _, err := s.GetDestination(ctx, ids[0]); err != nil {
		t.Fatalf("the secret in its own row: %v", err)
	}
}
