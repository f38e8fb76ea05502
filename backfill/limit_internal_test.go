package backfill

import (
	"testing"
	"time"

	"github.com/relayhq/relay"
)

// When a known window has reset, tasks starting together do not all send:
// one request learns the new window's budget first.
func TestBudgetAfterResetIsProbedOneAtATime(t *testing.T) {
	s := &Service{limits: map[string]*connLimit{}}
	t0 := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	if _, ok := s.acquire("con", t0); !ok {
		t.Fatal("first request refused")
	}
	s.release("con", relay.RateLimit{Known: true, Limit: 2, Remaining: 0, Reset: t0.Add(3 * time.Second)}, time.Time{})
	if _, ok := s.acquire("con", t0.Add(time.Second)); ok {
		t.Fatal("a request went out with no budget left")
	}
	after := t0.Add(4 * time.Second) // the window has reset
	if _, ok := s.acquire("con", after); !ok {
		t.Fatal("the first request of the new window was refused")
	}
	if _, ok := s.acquire("con", after); ok {
		t.Fatal("a second request went out before the new window's budget was known")
	}
	s.release("con", relay.RateLimit{Known: true, Limit: 2, Remaining: 1, Reset: after.Add(3 * time.Second)}, time.Time{})
	if _, ok := s.acquire("con", after); !ok {
		t.Fatal("the budget of the new window was not used")
	}
	if _, ok := s.acquire("con", after); ok {
		t.Fatal("more requests than the new window's budget")
	}
}
