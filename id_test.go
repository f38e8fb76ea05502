package relay

import (
	"strings"
	"testing"
	"time"
)

// Ids made in the same millisecond keep the order they were made in:
// arrival order is id order (releasing held events relies on it).
func TestNewIDMonotonicWithinAMillisecond(t *testing.T) {
	now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	prev := NewID("evt", now)
	for i := range 10000 {
		id := NewID("evt", now)
		if id <= prev {
			t.Fatalf("id %d %s is not after %s", i, id, prev)
		}
		prev = id
	}
	// A later millisecond still sorts after, and the prefix and length hold.
	later := NewID("evt", now.Add(time.Millisecond))
	if later <= prev || !strings.HasPrefix(later, "evt_") || len(later) != len(prev) {
		t.Fatalf("later id %s after %s", later, prev)
	}
}
