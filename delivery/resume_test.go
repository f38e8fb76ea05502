package delivery_test

import (
	"context"
	"testing"

	"github.com/relayhq/relay"
)

// pausedFixture returns a fixture whose destination its circuit breaker
// paused, with n deliveries waiting, and their ids.
func pausedFixture(t *testing.T, n int) (*fixture, *sink, []string) {
	t.Helper()
	s := newSink(t, 503)
	f := newFixture(t, s.URL)
	ctx := context.Background()
	f.dst.MaxConcurrency = 1
	if err := f.store.UpdateDestination(ctx, f.dst); err != nil {
		t.Fatal(err)
	}
	if err := f.engine.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range n {
		_, d := f.addEvent(t)
		ids = append(ids, d.ID)
	}
	if _, err := f.engine.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		dst, _ := f.store.GetDestination(ctx, f.dst.ID)
		// The five failures are recorded (retrying) before anything resumes.
		page, _ := f.store.ListDeliveries(ctx, relay.DeliveryFilter{Status: relay.DeliveryRetrying})
		return dst != nil && !dst.PausedUntil.IsZero() && s.hits.Load() == 5 && page != nil && len(page.Items) == 5
	})
	return f, s, ids
}

// allSucceeded polls until every delivery of ids succeeded; the clock does
// not move, so the pause did not simply run out.
func allSucceeded(t *testing.T, f *fixture, ids []string) {
	t.Helper()
	ctx := context.Background()
	waitFor(t, func() bool {
		_, _ = f.engine.Poll(ctx)
		for _, id := range ids {
			if d, _ := f.store.GetDelivery(ctx, id, ""); d == nil || d.Status != relay.DeliverySucceeded {
				return false
			}
		}
		return true
	})
}

// Resume ends the pause in this replica's memory at once.
func TestResumeEndsPause(t *testing.T) {
	f, s, ids := pausedFixture(t, 7)
	s.setAnswers(200)
	if _, err := f.store.ResumeDestination(context.Background(), f.dst.ID, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	f.engine.Resume(f.dst.ID)
	allSucceeded(t, f, ids)
}

// A pause ended on another replica (the store says not paused) ends here at
// the next refresh.
func TestRefreshSeesResumeOfAnotherReplica(t *testing.T) {
	f, s, ids := pausedFixture(t, 7)
	s.setAnswers(200)
	ctx := context.Background()
	if _, err := f.store.ResumeDestination(ctx, f.dst.ID, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := f.engine.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	allSucceeded(t, f, ids)
}
