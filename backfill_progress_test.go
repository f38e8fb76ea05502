package relay_test

import (
	"testing"

	"github.com/relayhq/relay"
)

func TestBackfillActiveKeyIgnoresEntityOrder(t *testing.T) {
	a := &relay.Backfill{ConnectionID: "con_1", DepthDays: 30, EntityTypes: []string{"issue", "comment"}}
	b := &relay.Backfill{ConnectionID: "con_1", DepthDays: 30, EntityTypes: []string{"comment", "issue"}}
	other := &relay.Backfill{ConnectionID: "con_2", DepthDays: 30, EntityTypes: []string{"comment", "issue"}}
	if a.ActiveKey() != b.ActiveKey() {
		t.Fatalf("same parameters, keys %q and %q", a.ActiveKey(), b.ActiveKey())
	}
	if a.ActiveKey() == other.ActiveKey() {
		t.Fatal("two connections share an active key")
	}
}

func TestBackfillPageTaskAfter(t *testing.T) {
	p := &relay.BackfillPage{PrevCursor: "p1", Cursor: "p2"}
	if status, cursor := p.TaskAfter(); status != relay.TaskRunning || cursor != "p2" {
		t.Fatalf("middle page: %s at %q, want running at p2", status, cursor)
	}
	p.Last = true
	if status, cursor := p.TaskAfter(); status != relay.TaskDone || cursor != "p1" {
		t.Fatalf("last page: %s at %q, want done at p1", status, cursor)
	}
}

func TestNewTaskUpdate(t *testing.T) {
	if u := relay.NewTaskUpdate(relay.TaskRunning, "", false); u != (relay.TaskUpdate{}) {
		t.Fatalf("plain running update = %+v", u)
	}
	if u := relay.NewTaskUpdate(relay.TaskRunning, "timeout", true); u.Errors != 1 || u.Waits != 1 || u.Finished {
		t.Fatalf("error and wait = %+v", u)
	}
	for _, s := range []string{relay.TaskDone, relay.TaskFailed, relay.TaskCancelled} {
		if !relay.NewTaskUpdate(s, "", false).Finished {
			t.Errorf("%s does not finish the task", s)
		}
	}
}

func TestSealedEqual(t *testing.T) {
	a := relay.Sealed{KeyID: "k1", Ciphertext: []byte{1, 2}}
	if !a.Equal(relay.Sealed{KeyID: "k1", Ciphertext: []byte{1, 2}}) {
		t.Fatal("same key and bytes not equal")
	}
	if a.Equal(relay.Sealed{KeyID: "k2", Ciphertext: []byte{1, 2}}) || a.Equal(relay.Sealed{KeyID: "k1", Ciphertext: []byte{1, 3}}) {
		t.Fatal("different key or bytes reported equal")
	}
}
