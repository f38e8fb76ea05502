package jsoncolumn

import (
	"reflect"
	"testing"
)

func TestMapRoundTrip(t *testing.T) {
	for _, m := range []map[string]string{nil, {}, {"a": "1", "b": "x\"y"}} {
		s, err := Map(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseMap(s)
		if err != nil {
			t.Fatal(err)
		}
		if len(m) == 0 {
			if s != "{}" || got != nil {
				t.Fatalf("Map(%v) = %q, read back %v; want {} and nil", m, s, got)
			}
			continue
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("read back %v, want %v", got, m)
		}
	}
}

func TestListRoundTrip(t *testing.T) {
	if s := List(nil); s != "[]" {
		t.Fatalf("List(nil) = %q, want []", s)
	}
	got, err := ParseList(List([]string{"github", "linear"}))
	if err != nil || !reflect.DeepEqual(got, []string{"github", "linear"}) {
		t.Fatalf("ParseList = %v, %v", got, err)
	}
	if got, err := ParseList("[]"); err != nil || got == nil || len(got) != 0 {
		t.Fatalf(`ParseList("[]") = %#v, %v; want an empty list`, got, err)
	}
	if _, err := ParseList("{"); err == nil {
		t.Fatal("ParseList accepted bad JSON")
	}
}
