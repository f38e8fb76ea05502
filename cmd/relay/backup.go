package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/relayhq/relay/sqlite"
)

// cmdBackup runs `relay backup FILE`: a consistent copy of the SQLite
// database, safe while `relay serve` runs on the same data dir.
func cmdBackup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newServerFlags("backup FILE", "Writes a consistent copy of the SQLite database to FILE (created 0600; never\n"+
		"overwritten), also while relay serve runs. Keep the vault key (relay.key in the\n"+
		"data dir, or encryption.keys) with it: the copy cannot be read without it.\n"+
		"PostgreSQL is backed up with pg_dump (see docs/operations.md).", getenv, stderr)
	var file string
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		file, args = args[0], args[1:]
	}
	if err := f.fs.Parse(args); err != nil {
		return err
	}
	if file == "" && f.fs.NArg() == 1 {
		file = f.fs.Arg(0)
	} else if f.fs.NArg() > 0 || file == "" {
		f.fs.Usage()
		return errors.New("backup: give one FILE to write the copy to")
	}
	// The flags are parsed: load, given none more, only reads the config.
	cfg, err := f.load(nil, getenv)
	if err != nil {
		return err
	}
	if usesPostgres(cfg) {
		return errors.New("backup: the database is PostgreSQL; back it up with pg_dump --format=custom (see docs/operations.md), and keep encryption.keys with the dump")
	}
	db := filepath.Join(cfg.DataDir, "relay.db")
	size, err := sqlite.Backup(ctx, db, file)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Backed up %s to %s (%d bytes).\n", db, file, size)
	if len(cfg.Encryption.Keys) > 0 {
		fmt.Fprintln(stdout, "Keep the configured encryption.keys with this backup: the tokens and secrets in it cannot be read without them.")
	} else {
		fmt.Fprintf(stdout, "Keep %s with this backup: the tokens and secrets in it cannot be read without it.\n",
			filepath.Join(cfg.DataDir, keyFileName))
	}
	return nil
}
