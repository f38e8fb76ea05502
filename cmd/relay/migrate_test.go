package main

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/relayhq/relay/storetest"
	_ "modernc.org/sqlite"
)

// relay migrate leaves a database that needs nothing more at start: River's
// tables included, so replicas started after it never race to create them.
func TestMigrateAppliesRiverMigrations(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	args := []string{"relay", "migrate", "--data-dir", filepath.Join(dir, "data")}
	if err := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &errOut); err != nil {
		t.Fatalf("migrate: %v\n%s", err, errOut.String())
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "data", "relay.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM river_migration`).Scan(&n); err != nil {
		t.Fatalf("River's migrations were not applied: %v", err)
	}
	if n == 0 {
		t.Fatal("river_migration is empty")
	}
	if err := db.QueryRow(`SELECT count(*) FROM river_job`).Scan(&n); err != nil {
		t.Fatalf("river_job missing: %v", err)
	}
}

func TestMigrateAppliesRiverMigrationsPostgres(t *testing.T) {
	url := storetest.PostgresSchemaURL(t)
	var out, errOut bytes.Buffer
	args := []string{"relay", "migrate", "--data-dir", t.TempDir(), "--database-url", url}
	if err := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &errOut); err != nil {
		t.Fatalf("migrate: %v\n%s", err, errOut.String())
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM river_migration`).Scan(&n); err != nil {
		t.Fatalf("River's migrations were not applied: %v", err)
	}
	if n == 0 {
		t.Fatal("river_migration is empty")
	}
}
