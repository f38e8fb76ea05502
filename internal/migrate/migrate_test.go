package migrate

import (
	"context"
	"errors"
	"testing"
	"testing/fstest"
)

type fakeDriver struct {
	applied map[int]bool
	ran     []string
	fail    string
}

func (d *fakeDriver) Applied(context.Context) (map[int]bool, error) { return d.applied, nil }

func (d *fakeDriver) Apply(_ context.Context, m Migration) error {
	if m.Name == d.fail {
		return errors.New("boom")
	}
	d.ran = append(d.ran, m.Name)
	return nil
}

func TestRunAppliesPendingInVersionOrder(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0010_ten.sql": {Data: []byte("ten")},
		"m/0002_two.sql": {Data: []byte("two")},
		"m/0001_one.sql": {Data: []byte("one")},
	}
	d := &fakeDriver{applied: map[int]bool{1: true}}
	if err := Run(context.Background(), d, fsys, "m"); err != nil {
		t.Fatal(err)
	}
	if got := len(d.ran); got != 2 || d.ran[0] != "0002_two.sql" || d.ran[1] != "0010_ten.sql" {
		t.Fatalf("ran %v, want [0002_two.sql 0010_ten.sql]", d.ran)
	}
	if v, err := Latest(fsys, "m"); err != nil || v != 10 {
		t.Fatalf("Latest = %d, %v; want 10", v, err)
	}
}

func TestRunStopsAtFailureNamingIt(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0001_one.sql":   {Data: []byte("one")},
		"m/0002_two.sql":   {Data: []byte("two")},
		"m/0003_three.sql": {Data: []byte("three")},
	}
	d := &fakeDriver{applied: map[int]bool{}, fail: "0002_two.sql"}
	err := Run(context.Background(), d, fsys, "m")
	if err == nil || err.Error() != "migration 0002_two.sql: boom" {
		t.Fatalf("err = %v, want the failing migration named", err)
	}
	if len(d.ran) != 1 {
		t.Fatalf("ran %v after a failure, want only the first", d.ran)
	}
}

func TestLoadRejectsUnnumberedFile(t *testing.T) {
	fsys := fstest.MapFS{"m/init.sql": {Data: []byte("x")}}
	if _, err := Load(fsys, "m"); err == nil {
		t.Fatal("Load accepted a file without a number")
	}
}
