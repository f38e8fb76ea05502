package relay_test

import (
	"testing"

	"github.com/relayhq/relay"
)

func TestPageLimit(t *testing.T) {
	for _, c := range []struct{ in, want int }{{0, 100}, {-5, 100}, {1, 1}, {1000, 1000}, {1001, 1000}} {
		if got := relay.PageLimit(c.in); got != c.want {
			t.Errorf("PageLimit(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestNewPage(t *testing.T) {
	id := func(s string) string { return s }
	p := relay.NewPage([]string{"c", "b", "a"}, 2, id)
	if len(p.Items) != 2 || p.Items[1] != "b" || p.Next != "b" {
		t.Fatalf("over the limit: %+v, want [c b] next b", p)
	}
	p = relay.NewPage([]string{"c", "b"}, 2, id)
	if len(p.Items) != 2 || p.Next != "" {
		t.Fatalf("at the limit: %+v, want both and no next", p)
	}
	p = relay.NewPage[string](nil, 2, id)
	if p.Items == nil || len(p.Items) != 0 || p.Next != "" {
		t.Fatalf("empty: %#v, want non-nil empty items", p)
	}
}
