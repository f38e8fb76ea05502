// Package migrate applies numbered .sql migrations from an embedded FS. The
// rules that are not SQL (which files are migrations, in which order, which
// are still to apply) live here once; each store supplies its FS and a small
// Driver that speaks its dialect, as river keeps one runner over each
// driver's embedded migrations.
package migrate

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// Migration is one .sql file: its number, file name and text.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Driver applies migrations to one database.
type Driver interface {
	// Applied returns the versions already applied, creating the table that
	// records them when it does not exist.
	Applied(ctx context.Context) (map[int]bool, error)
	// Apply runs m and records its version in one transaction. It does
	// nothing when m was applied in the meantime (another replica migrating
	// the same database).
	Apply(ctx context.Context, m Migration) error
}

// Load reads the migrations in dir of fsys, ordered by version. Every file
// name must start with its number and an underscore ("0001_init.sql"); an
// error names the file that does not.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number", e.Name())
		}
		b, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Latest returns the highest version in dir of fsys: the schema version a
// store is ready at. It returns Load's errors, and one when dir holds no
// migration.
func Latest(fsys fs.FS, dir string) (int, error) {
	ms, err := Load(fsys, dir)
	if err != nil {
		return 0, err
	}
	if len(ms) == 0 {
		return 0, fmt.Errorf("migrations: none in %s", dir)
	}
	return ms[len(ms)-1].Version, nil
}

// Run applies the migrations in dir of fsys that d has not applied, in
// version order, each in its own transaction. It stops at the first error,
// which names the migration.
func Run(ctx context.Context, d Driver, fsys fs.FS, dir string) error {
	ms, err := Load(fsys, dir)
	if err != nil {
		return err
	}
	applied, err := d.Applied(ctx)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		if err := d.Apply(ctx, m); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	return nil
}
