package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/relayhq/relay"
)

// backfillStore returns s as a BackfillStore, or skips the test.
func backfillStore(t *testing.T, s relay.Store) relay.BackfillStore {
	t.Helper()
	bs, ok := s.(relay.BackfillStore)
	if !ok {
		t.Skip("this store does not implement relay.BackfillStore")
	}
	return bs
}

func newBackfill(conn, org string, days int, types ...string) (*relay.Backfill, []*relay.BackfillTask) {
	n := seq.Add(1) // ids ordered by creation
	b := &relay.Backfill{ID: relay.NewID("bf", t0.Add(time.Duration(n)*time.Millisecond)), ConnectionID: conn, OrgID: org, Provider: "github", DepthDays: days,
		EntityTypes: types, Since: t0.AddDate(0, 0, -days), Status: relay.BackfillPending, CreatedAt: t0}
	var tasks []*relay.BackfillTask
	for _, res := range []string{"r1", "r2"} {
		for _, et := range types {
			tasks = append(tasks, &relay.BackfillTask{ID: relay.NewID("bft", t0), ResourceID: res, ResourceName: "o/" + res,
				EntityType: et, Status: relay.TaskPending})
		}
	}
	return b, tasks
}

func backfillItem(deliveryID string, dsts ...*relay.Destination) *relay.IngestItem {
	it := item("github", deliveryID, "issues.opened", "org_a", t0, dsts...)
	it.Event.Source, it.Event.ConnectionID, it.Event.Match = relay.SourceBackfill, "con_1", relay.MatchMatched
	for _, d := range it.Deliveries {
		d.Source = relay.SourceBackfill
	}
	return it
}

func testBackfillLifecycle(t *testing.T, s relay.Store) {
	bs := backfillStore(t, s)
	b, tasks := newBackfill("con_1", "org_a", 30, "issues", "releases")
	got, created, err := bs.CreateBackfill(ctx, b, tasks)
	must(t, err)
	if !created || got.ID != b.ID || len(got.Tasks) != 4 || got.Status != relay.BackfillPending || !got.Since.Equal(b.Since) {
		t.Fatalf("created %v: %+v", created, got)
	}
	// Same parameters (in another order) while active: the same run.
	again, _ := newBackfill("con_1", "org_a", 30, "releases", "issues")
	got2, created, err := bs.CreateBackfill(ctx, again, nil)
	must(t, err)
	if created || got2.ID != b.ID {
		t.Fatalf("second request: created %v id %s, want the first run %s", created, got2.ID, b.ID)
	}
	// Other parameters: a new run.
	other, otherTasks := newBackfill("con_1", "org_a", 7, "issues")
	_, created, err = bs.CreateBackfill(ctx, other, otherTasks)
	must(t, err)
	if !created {
		t.Fatal("a backfill with other parameters was not created")
	}
	if list, err := bs.ListBackfills(ctx, "con_1", ""); err != nil || len(list) != 2 || list[0].ID != other.ID {
		t.Fatalf("list: %v %+v", err, list)
	}
	if list, err := bs.ListBackfills(ctx, "con_1", "org_b"); err != nil || len(list) != 0 {
		t.Fatalf("another org's list: %v %d", err, len(list))
	}
	_, err = bs.GetBackfill(ctx, b.ID, "org_b")
	code(t, err, relay.ENOTFOUND)

	must(t, bs.StartBackfill(ctx, b.ID, t0))
	now := t0.Add(time.Minute)
	// Each task finishes one way or another; the last one completes the run.
	must(t, bs.UpdateBackfillTask(ctx, tasks[0].ID, relay.TaskWaiting, "", true, now))
	must(t, bs.UpdateBackfillTask(ctx, tasks[0].ID, relay.TaskRunning, "github: list issues: HTTP 502", false, now))
	must(t, bs.UpdateBackfillTask(ctx, tasks[0].ID, relay.TaskFailed, "github: list issues: HTTP 502", false, now))
	code(t, bs.UpdateBackfillTask(ctx, tasks[0].ID, relay.TaskRunning, "", false, now), relay.ECONFLICT)
	for _, tk := range tasks[1:] {
		must(t, bs.CommitBackfillPage(ctx, &relay.BackfillPage{TaskID: tk.ID, Last: true, Now: now}))
	}
	done, err := bs.GetBackfill(ctx, b.ID, "org_a")
	must(t, err)
	if done.Status != relay.BackfillCompleted || done.FinishedAt == nil || done.Failed != 1 || done.Pages != 3 {
		t.Fatalf("finished backfill: %+v", done)
	}
	tk, err := bs.GetBackfillTask(ctx, tasks[0].ID)
	must(t, err)
	if tk.Status != relay.TaskFailed || tk.Errors != 2 || tk.RateLimitWaits != 1 || tk.LastError != "github: list issues: HTTP 502" {
		t.Fatalf("failed task: %+v", tk)
	}
	// Finished: the same parameters start a new run.
	third, thirdTasks := newBackfill("con_1", "org_a", 30, "issues", "releases")
	_, created, err = bs.CreateBackfill(ctx, third, thirdTasks)
	must(t, err)
	if !created {
		t.Fatal("a finished run still blocks a new one")
	}
	active, err := bs.ActiveBackfills(ctx)
	must(t, err)
	if len(active) != 2 || active[0] != other.ID || active[1] != third.ID {
		t.Fatalf("active: %v", active)
	}
	// No tasks: done as soon as it starts.
	empty, _ := newBackfill("con_2", "org_a", 1, "issues")
	_, _, err = bs.CreateBackfill(ctx, empty, nil)
	must(t, err)
	must(t, bs.StartBackfill(ctx, empty.ID, now))
	if e, err := bs.GetBackfill(ctx, empty.ID, ""); err != nil || e.Status != relay.BackfillCompleted {
		t.Fatalf("empty backfill: %v %+v", err, e)
	}
}

func testBackfillPageCommit(t *testing.T, s relay.Store) {
	bs := backfillStore(t, s)
	dst := destination(t, s, "app")
	b, tasks := newBackfill("con_1", "org_a", 30, "issues")
	_, _, err := bs.CreateBackfill(ctx, b, tasks[:1])
	must(t, err)
	must(t, bs.StartBackfill(ctx, b.ID, t0))
	tk := tasks[0]

	// A live event with the same delivery id was stored before: skipped.
	insert(t, s, backfillItem("backfill:issues:1:x", dst))
	page := []*relay.IngestItem{backfillItem("backfill:issues:1:x", dst), backfillItem("backfill:issues:2:x", dst)}
	must(t, bs.CommitBackfillPage(ctx, &relay.BackfillPage{TaskID: tk.ID, Cursor: "c1", Items: page, Now: t0}))
	if !page[0].Duplicate || page[1].Duplicate {
		t.Fatalf("duplicates: %v %v", page[0].Duplicate, page[1].Duplicate)
	}
	// The same page again (a retried job that fetched it twice): refused, nothing stored.
	again := []*relay.IngestItem{backfillItem("backfill:issues:3:x", dst)}
	code(t, bs.CommitBackfillPage(ctx, &relay.BackfillPage{TaskID: tk.ID, Cursor: "c1", Items: again, Now: t0}), relay.ECONFLICT)
	if _, err := s.GetEvent(ctx, again[0].Event.ID, ""); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("an event of a refused page was stored: %v", err)
	}
	if n, err := bs.Undelivered(ctx, "con_1", 100); err != nil || n != 2 {
		t.Fatalf("undelivered: %d %v, want 2", n, err)
	}
	if n, err := bs.Undelivered(ctx, "con_1", 1); err != nil || n != 2 {
		t.Fatalf("undelivered capped at limit+1: %d %v", n, err)
	}
	if n, err := bs.Undelivered(ctx, "con_other", 100); err != nil || n != 0 {
		t.Fatalf("another connection's undelivered: %d %v", n, err)
	}
	must(t, bs.CommitBackfillPage(ctx, &relay.BackfillPage{TaskID: tk.ID, PrevCursor: "c1", Last: true,
		Items: []*relay.IngestItem{backfillItem("backfill:issues:4:x", dst)}, Now: t0}))
	got, err := bs.GetBackfill(ctx, b.ID, "")
	must(t, err)
	tg := got.Tasks[0]
	if got.Status != relay.BackfillCompleted || tg.Status != relay.TaskDone || tg.Pages != 2 || tg.Items != 3 || tg.Cursor != "c1" {
		t.Fatalf("after the last page: %+v %+v", got, tg)
	}
	code(t, bs.CommitBackfillPage(ctx, &relay.BackfillPage{TaskID: tk.ID, PrevCursor: "c1", Cursor: "c2", Now: t0}), relay.ECONFLICT)
}

// testBackfillPageGroup commits the pages of several tasks together, as
// the backfill service's group commit does: each page moves its own task,
// and a page that conflicts or fails stores nothing while the others
// commit.
func testBackfillPageGroup(t *testing.T, s relay.Store) {
	bs := backfillStore(t, s)
	dst := destination(t, s, "app")
	b, tasks := newBackfill("con_1", "org_a", 30, "issues", "releases")
	_, _, err := bs.CreateBackfill(ctx, b, tasks)
	must(t, err)
	must(t, bs.StartBackfill(ctx, b.ID, t0))
	must(t, bs.UpdateBackfillTask(ctx, tasks[3].ID, relay.TaskFailed, "github: HTTP 404", false, t0))
	live := backfillItem("backfill:issues:g1:x", dst)
	insert(t, s, live)

	// A delivery id that is taken: a storage error of that page alone.
	broken := backfillItem("backfill:releases:g9:x", dst)
	broken.Deliveries[0].ID = live.Deliveries[0].ID
	pages := []*relay.BackfillPage{
		{TaskID: tasks[0].ID, Cursor: "a1", Now: t0, Items: []*relay.IngestItem{
			backfillItem("backfill:issues:g1:x", dst), backfillItem("backfill:issues:g2:x", dst)}},
		{TaskID: tasks[1].ID, PrevCursor: "elsewhere", Cursor: "b1", Now: t0, // fetched by a run that lost the race
			Items: []*relay.IngestItem{backfillItem("backfill:releases:g3:x", dst)}},
		{TaskID: tasks[2].ID, Cursor: "c1", Now: t0, Items: []*relay.IngestItem{backfillItem("backfill:issues:g4:x", dst), broken}},
		{TaskID: tasks[3].ID, Cursor: "d1", Now: t0, Items: []*relay.IngestItem{backfillItem("backfill:releases:g5:x", dst)}}, // failed meanwhile
		{TaskID: tasks[1].ID, Cursor: "b1", Now: t0, Items: []*relay.IngestItem{backfillItem("backfill:releases:g6:x", dst)}},
	}
	errs := bs.CommitBackfillPages(ctx, pages)
	if len(errs) != len(pages) {
		t.Fatalf("%d errors for %d pages", len(errs), len(pages))
	}
	must(t, errs[0])
	code(t, errs[1], relay.ECONFLICT)
	if errs[2] == nil || relay.ErrorCode(errs[2]) == relay.ECONFLICT {
		t.Fatalf("the page with a taken delivery id: %v, want a storage error", errs[2])
	}
	code(t, errs[3], relay.ECONFLICT)
	must(t, errs[4])
	if !pages[0].Items[0].Duplicate || pages[0].Items[1].Duplicate || pages[0].Items[0].Event.ID != live.Event.ID {
		t.Fatalf("de-duplication against the live event: %+v", pages[0].Items[0])
	}
	for i, want := range map[int]bool{1: false, 2: false, 3: false, 4: true} {
		for _, it := range pages[i].Items {
			if it.Duplicate {
				continue
			}
			_, err := s.GetEvent(ctx, it.Event.ID, "")
			if stored := err == nil; stored != want {
				t.Fatalf("page %d: event %s stored %v (%v), want %v", i, it.Event.DeliveryID, stored, err, want)
			}
		}
	}
	if _, err := s.GetEvent(ctx, pages[0].Items[1].Event.ID, ""); err != nil {
		t.Fatalf("the first page's new event: %v", err)
	}
	got, err := bs.GetBackfill(ctx, b.ID, "")
	must(t, err)
	want := map[string]struct {
		cursor       string
		pages, items int
	}{tasks[0].ID: {"a1", 1, 2}, tasks[1].ID: {"b1", 1, 1}, tasks[2].ID: {"", 0, 0}, tasks[3].ID: {"", 0, 0}}
	for _, tk := range got.Tasks {
		if w := want[tk.ID]; tk.Cursor != w.cursor || tk.Pages != w.pages || tk.Items != w.items {
			t.Fatalf("task %s: cursor %q pages %d items %d, want %+v", tk.EntityType, tk.Cursor, tk.Pages, tk.Items, w)
		}
	}
	if n, err := bs.Undelivered(ctx, "con_1", 100); err != nil || n != 3 {
		t.Fatalf("undelivered: %d %v, want the live event's and two backfilled", n, err)
	}

	// The failed page again, fixed, with the others' last pages: the
	// group's last page completes the backfill.
	broken.Deliveries[0].ID = relay.NewID("dlv", t0)
	errs = bs.CommitBackfillPages(ctx, []*relay.BackfillPage{
		{TaskID: tasks[0].ID, PrevCursor: "a1", Last: true, Now: t0},
		{TaskID: tasks[2].ID, Last: true, Now: t0, Items: []*relay.IngestItem{backfillItem("backfill:issues:g4:x", dst), broken}},
		{TaskID: tasks[1].ID, PrevCursor: "b1", Last: true, Now: t0},
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("last page %d: %v", i, err)
		}
	}
	got, err = bs.GetBackfill(ctx, b.ID, "")
	must(t, err)
	if got.Status != relay.BackfillCompleted || got.Pages != 5 || got.Items != 5 || got.Failed != 1 {
		t.Fatalf("after the last pages: %+v", got)
	}
	if errs := bs.CommitBackfillPages(ctx, nil); len(errs) != 0 {
		t.Fatalf("no pages: %v", errs)
	}
}

func testBackfillCancel(t *testing.T, s relay.Store) {
	bs := backfillStore(t, s)
	b1, t1 := newBackfill("con_1", "org_a", 30, "issues")
	b2, t2 := newBackfill("con_1", "org_a", 7, "issues")
	b3, t3 := newBackfill("con_2", "org_a", 7, "issues")
	for _, p := range []struct {
		b *relay.Backfill
		t []*relay.BackfillTask
	}{{b1, t1}, {b2, t2}, {b3, t3}} {
		_, _, err := bs.CreateBackfill(ctx, p.b, p.t)
		must(t, err)
	}
	must(t, bs.CommitBackfillPage(ctx, &relay.BackfillPage{TaskID: t1[0].ID, Last: true, Now: t0}))
	n, err := bs.CancelBackfills(ctx, "con_1", b1.ID, "cancelled by user", t0)
	must(t, err)
	if n != 1 {
		t.Fatalf("cancelled %d, want 1", n)
	}
	got, err := bs.GetBackfill(ctx, b1.ID, "")
	must(t, err)
	if got.Status != relay.BackfillCancelled || got.Reason != "cancelled by user" || got.Tasks[0].Status != relay.TaskDone ||
		got.Tasks[1].Status != relay.TaskCancelled {
		t.Fatalf("cancelled: %+v %+v %+v", got, got.Tasks[0], got.Tasks[1])
	}
	code(t, bs.CommitBackfillPage(ctx, &relay.BackfillPage{TaskID: t1[1].ID, Cursor: "c", Now: t0}), relay.ECONFLICT)
	// Teardown: every active backfill of the connection, not another's.
	if n, err := bs.CancelBackfills(ctx, "con_1", "", "connection deleted", t0); err != nil || n != 1 {
		t.Fatalf("cancel connection's: %d %v", n, err)
	}
	if got, _ := bs.GetBackfill(ctx, b3.ID, ""); got.Status != relay.BackfillPending {
		t.Fatalf("another connection's backfill: %s", got.Status)
	}
	if n, err := bs.CancelBackfills(ctx, "con_1", "", "again", t0); err != nil || n != 0 {
		t.Fatalf("cancel twice: %d %v", n, err)
	}
}

func testBackfillConcurrentCreate(t *testing.T, s relay.Store) {
	bs := backfillStore(t, s)
	var wg sync.WaitGroup
	ids := make([]string, 8)
	errs := make([]error, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, tasks := newBackfill("con_1", "org_a", 30, "issues")
			got, _, err := bs.CreateBackfill(ctx, b, tasks)
			if err == nil {
				ids[i] = got.ID
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("request %d: %v %s, want %s", i, errs[i], ids[i], ids[0])
		}
	}
	if list, _ := bs.ListBackfills(ctx, "con_1", ""); len(list) != 1 {
		t.Fatal(fmt.Sprint("runs created: ", len(list)))
	}
}
