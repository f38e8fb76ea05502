package relay_test

import (
	"testing"

	"github.com/relayhq/relay"
)

func TestClaimFairly(t *testing.T) {
	tests := []struct {
		name      string
		available map[string]int
		limit     int
		want      map[string]int // exact per destination, or nil to check the total only
		total     int
	}{
		{"one busy, others idle: the busy one gets all the room", map[string]int{"a": 1000, "b": 0, "c": 2}, 512, map[string]int{"a": 510, "b": 0, "c": 2}, 512},
		{"two busy share equally", map[string]int{"a": 1000, "b": 1000}, 100, map[string]int{"a": 50, "b": 50}, 100},
		{"less work than room", map[string]int{"a": 3, "b": 4}, 100, map[string]int{"a": 3, "b": 4}, 7},
		{"more destinations than room: never over the limit", map[string]int{"a": 5, "b": 5, "c": 5, "d": 5, "e": 5}, 3, nil, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			left := map[string]int{}
			var ids []string
			for id, n := range tc.available {
				left[id] = n
				ids = append(ids, id)
			}
			got := map[string]int{}
			total, err := relay.ClaimFairly(ids, tc.limit, func(id string, n int) (int, error) {
				k := min(n, left[id])
				left[id] -= k
				got[id] += k
				return k, nil
			})
			if err != nil || total != tc.total {
				t.Fatalf("total %d (%v), want %d", total, err, tc.total)
			}
			for id, want := range tc.want {
				if got[id] != want {
					t.Errorf("%s got %d, want %d (all: %v)", id, got[id], want, got)
				}
			}
		})
	}
}
