package storetest

import (
	"testing"
	"time"

	"github.com/relayhq/relay"
)

// testStaleReplicaLeases: the leases of a replica whose heartbeat stopped
// are released once the heartbeat is stale, not before, and only its own.
func testStaleReplicaLeases(t *testing.T, s relay.Store) {
	rs, ok := s.(relay.ReplicaStore)
	if !ok {
		t.Skip("a single-process store: no replica heartbeats")
	}
	d := destination(t, s, "app")
	must(t, rs.Heartbeat(ctx, "replica-a", t0))
	must(t, rs.Heartbeat(ctx, "replica-b", t0))
	lease := 10 * time.Minute
	a := item("github", "sr-a", "push", "", t0, d)
	a.LeaseOwner, a.LeaseUntil = "replica-a", t0.Add(lease)
	b := item("github", "sr-b", "push", "", t0, d)
	b.LeaseOwner, b.LeaseUntil = "replica-b", t0.Add(lease)
	claimedByA := item("github", "sr-claimed", "push", "", t0, d)
	insert(t, s, a, b)
	insert(t, s, claimedByA)
	if c, err := s.ClaimDue(ctx, "replica-a", t0, lease, 10); err != nil || len(c) != 1 {
		t.Fatalf("claim by replica-a: %v %v", claimed(c), err)
	}
	// replica-b keeps beating; replica-a dies.
	must(t, rs.Heartbeat(ctx, "replica-b", t0.Add(20*time.Second)))

	// While replica-a's heartbeat is recent, its leases hold.
	n, err := rs.ReleaseStaleLeases(ctx, t0.Add(-time.Second))
	must(t, err)
	if n != 0 {
		t.Fatalf("released %d leases of a replica whose heartbeat is recent", n)
	}
	if c, err := s.ClaimDue(ctx, "replica-c", t0.Add(9*time.Second), lease, 10); err != nil || len(c) != 0 {
		t.Fatalf("claimed %v (%v) while their owner is alive", claimed(c), err)
	}

	// Once it is stale, they are released and due at once; replica-b's stay.
	n, err = rs.ReleaseStaleLeases(ctx, t0.Add(15*time.Second))
	must(t, err)
	if n != 2 {
		t.Fatalf("released %d leases of the dead replica, want 2", n)
	}
	c, err := s.ClaimDue(ctx, "replica-c", t0.Add(25*time.Second), lease, 10)
	must(t, err)
	got := map[string]bool{}
	for _, x := range c {
		got[x.Delivery.ID] = true
	}
	if len(c) != 2 || !got[a.Deliveries[0].ID] || !got[claimedByA.Deliveries[0].ID] {
		t.Fatalf("claimed %v after the stale replica's leases were released, want its two", claimed(c))
	}

	// The dead replica is forgotten: nothing more to release. One that
	// comes back registers again, and a clean stop forgets it too.
	if n, err := rs.ReleaseStaleLeases(ctx, t0.Add(15*time.Second)); err != nil || n != 0 {
		t.Fatalf("second release: %d %v", n, err)
	}
	must(t, rs.Heartbeat(ctx, "replica-a", t0.Add(30*time.Second)))
	must(t, rs.RemoveReplica(ctx, "replica-b"))
	if n, err := rs.ReleaseStaleLeases(ctx, t0.Add(25*time.Second)); err != nil || n != 0 {
		t.Fatalf("released %d leases of a replica that stopped cleanly or beats (%v)", n, err)
	}
}

// testProbeWrite: the readiness probe succeeds on a healthy store, again
// and again, and leaves the data alone.
func testProbeWrite(t *testing.T, s relay.Store) {
	p, ok := s.(relay.WriteProber)
	if !ok {
		t.Skip("the store has no write probe")
	}
	d := destination(t, s, "app")
	insert(t, s, item("github", "probe-1", "push", "", t0, d))
	for range 3 {
		must(t, p.ProbeWrite(ctx))
	}
	if n, err := s.QueueDepth(ctx); err != nil || n != 1 {
		t.Fatalf("queue depth %d (%v) after probes, want 1", n, err)
	}
	must(t, s.Ready(ctx))
}
