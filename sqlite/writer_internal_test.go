package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
)

// An unsynced transaction runs with synchronous NORMAL and leaves the
// writer's connection at FULL afterwards, whether it commits or fails, so
// an ingest commit that follows on the same connection is fsynced.
func TestUnsyncedTransactionRestoresFullSync(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "relay.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	level := func(q interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}) int {
		t.Helper()
		var n int
		if err := q.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	const normal, full = 1, 2
	if got := level(s.writer); got != full {
		t.Fatalf("writer starts at synchronous %d, want FULL (%d)", got, full)
	}
	boom := errors.New("boom")
	for _, fail := range []bool{false, true} {
		err := s.inTxUnsynced(ctx, "test", func(tx *sql.Tx) error {
			if got := level(tx); got != normal {
				t.Errorf("inside: synchronous %d, want NORMAL (%d)", got, normal)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO orgs (id, name, created_at) VALUES ('org_x', 'x', 0) ON CONFLICT DO NOTHING`); err != nil {
				return err
			}
			if fail {
				return boom
			}
			return nil
		})
		if fail != errors.Is(err, boom) || (!fail && err != nil) {
			t.Fatalf("fail=%v: err %v", fail, err)
		}
		if got := level(s.writer); got != full {
			t.Fatalf("fail=%v: after: synchronous %d, want FULL (%d)", fail, got, full)
		}
		err = s.inTx(ctx, "test", func(tx *sql.Tx) error {
			if got := level(tx); got != full {
				t.Errorf("fail=%v: the next transaction runs at synchronous %d, want FULL (%d)", fail, got, full)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
