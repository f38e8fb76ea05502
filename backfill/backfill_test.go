package backfill_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/backfill"
	"github.com/relayhq/relay/metrics"
	"github.com/relayhq/relay/sqlite"
)

var ctx = context.Background()

// pagedLister serves pages of a fixed history (4 items a page) and records
// each request; fail decides a request's error.
type pagedLister struct {
	mu    sync.Mutex
	items []*relay.BackfillItem
	calls []string // cursors asked for
	fail  func(n int, tok *relay.Token) error
	rl    func(n int) relay.RateLimit
}

func (l *pagedLister) BackfillEntities() map[string]string {
	return map[string]string{"issues": "repository", "releases": "repository"}
}

func (l *pagedLister) ListBackfillPage(ctx context.Context, c *relay.Connection, t *relay.Token, r *relay.Resource, entity string, since time.Time, cursor string) (*relay.BackfillResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, cursor)
	n := len(l.calls)
	if l.fail != nil {
		if err := l.fail(n, t); err != nil {
			return nil, err
		}
	}
	start, _ := strconv.Atoi(cursor)
	end := min(start+4, len(l.items))
	res := &relay.BackfillResult{Items: l.items[start:end]}
	if end < len(l.items) {
		res.Next = strconv.Itoa(end)
	}
	if l.rl != nil {
		res.RateLimit = l.rl(n)
	}
	return res, nil
}

func (l *pagedLister) requests() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

type tokens struct {
	mu        sync.Mutex
	current   string
	refreshes int
}

func (tk *tokens) Token(ctx context.Context, id, org string) (*relay.Token, error) {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	return &relay.Token{AccessToken: tk.current}, nil
}

func (tk *tokens) Refresh(ctx context.Context, id, rejected string) (*relay.Token, error) {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	if tk.current == rejected {
		tk.refreshes++
		tk.current = fmt.Sprintf("tok-%d", tk.refreshes)
	}
	return &relay.Token{AccessToken: tk.current}, nil
}

type queue struct {
	mu    sync.Mutex
	tasks []string
	runs  []string
}

func (q *queue) EnqueueBackfill(ctx context.Context, id string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.runs = append(q.runs, id)
	return nil
}

func (q *queue) EnqueueBackfillTask(ctx context.Context, id string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.tasks = append(q.tasks, id)
	return nil
}

type fixture struct {
	store  *sqlite.Store
	svc    *backfill.Service
	lister *pagedLister
	tokens *tokens
	queue  *queue
	conn   *relay.Connection
	dst    *relay.Destination
	now    time.Time
}

// newFixture builds the service on a real SQLite store, with one active
// GitHub connection of two repositories and one destination.
func newFixture(t *testing.T, cfg backfill.Config, items int) *fixture {
	t.Helper()
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "relay.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: store, lister: &pagedLister{}, tokens: &tokens{current: "tok-0"}, queue: &queue{},
		now: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	for i := range items {
		at := f.now.Add(-time.Duration(i) * 24 * time.Hour) // one a day, newest first
		f.lister.items = append(f.lister.items, &relay.BackfillItem{
			DeliveryID: relay.BackfillDeliveryID("issues", strconv.Itoa(i), at), EventType: "issues.opened",
			ResourceID: "1", UpdatedAt: at, Payload: json.RawMessage(fmt.Sprintf(`{"id":%d}`, i)),
		})
	}
	f.dst = &relay.Destination{ID: relay.NewID("dst", f.now), Name: "app", URL: "http://127.0.0.1:9/app", Secret: relay.NewSecret(),
		CreatedAt: f.now, UpdatedAt: f.now}
	if err := store.CreateDestination(ctx, f.dst); err != nil {
		t.Fatal(err)
	}
	f.conn = &relay.Connection{OrgID: "org_a", Provider: "github", ExternalID: "42", Status: relay.ConnectionActive, CreatedAt: f.now, UpdatedAt: f.now}
	if err := store.CreateOrg(ctx, &relay.Org{ID: "org_a", CreatedAt: f.now}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.UpsertConnection(ctx, f.conn, nil, []*relay.Resource{
		{Provider: "github", ExternalID: "1", Kind: "repository", Name: "o/one"},
		{Provider: "github", ExternalID: "2", Kind: "repository", Name: "o/two"},
	}); err != nil {
		t.Fatal(err)
	}
	route := func(e *relay.Event) []*relay.Destination { return []*relay.Destination{f.dst} }
	cfg.Queue = f.queue
	f.svc = backfill.New(store, f.tokens, []relay.BackfillLister{f.lister}, []string{"github"}, route, func() {}, metrics.New(),
		slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return f.now }, cfg)
	return f
}

// start creates a one-task backfill (issues of repository 1) and returns its task.
func (f *fixture) start(t *testing.T, days int) (*relay.Backfill, *relay.BackfillTask) {
	t.Helper()
	b, created, err := f.svc.Start(ctx, f.conn.ID, "org_a", days, []string{"issues"})
	if err != nil || !created {
		t.Fatalf("start: %v %v", created, err)
	}
	if err := f.svc.RunBackfill(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	return b, b.Tasks[0]
}

// runToEnd runs the task's job until it stops asking to run again.
func (f *fixture) runToEnd(t *testing.T, taskID string) (waits []time.Duration) {
	t.Helper()
	for range 100 {
		again, after, err := f.svc.RunTask(ctx, taskID, 1)
		if err != nil {
			t.Fatal(err)
		}
		if !again {
			return waits
		}
		waits = append(waits, after)
		f.now = f.now.Add(after)
	}
	t.Fatal("the task never finished")
	return nil
}

func (f *fixture) events(t *testing.T) []*relay.Event {
	t.Helper()
	page, err := f.store.ListEvents(ctx, relay.EventFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return page.Items
}

func TestStartValidates(t *testing.T) {
	f := newFixture(t, backfill.Config{}, 0)
	_, _, err := f.svc.Start(ctx, f.conn.ID, "org_a", 0, []string{"issues", "wikis"})
	if relay.ErrorCode(err) != relay.EINVALID || relay.ErrorMessage(err) != `unknown entity type "wikis" for github; valid: issues, releases` {
		t.Fatalf("unknown type: %v", err)
	}
	for _, d := range []int{-1, 366} {
		if _, _, err := f.svc.Start(ctx, f.conn.ID, "org_a", d, nil); relay.ErrorCode(err) != relay.EINVALID {
			t.Fatalf("depth %d: %v", d, err)
		}
	}
	if _, _, err := f.svc.Start(ctx, f.conn.ID, "org_b", 0, nil); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("another org's connection: %v", err)
	}
	b, created, err := f.svc.Start(ctx, f.conn.ID, "org_a", 0, nil)
	if err != nil || !created || b.DepthDays != 30 || !b.Since.Equal(f.now.AddDate(0, 0, -30)) ||
		!slices.Equal(b.EntityTypes, []string{"issues", "releases"}) || len(b.Tasks) != 4 {
		t.Fatalf("defaults: %v %v %+v", created, err, b)
	}
	again, created, err := f.svc.Start(ctx, f.conn.ID, "org_a", 30, []string{"releases", "issues"})
	if err != nil || created || again.ID != b.ID {
		t.Fatalf("same parameters while active: %v %v %s", created, err, again.ID)
	}
	if len(f.queue.runs) != 1 {
		t.Fatalf("queued runs: %v", f.queue.runs)
	}
}

// Every item inside the window becomes one event, delivered to the org;
// nothing outside; a second run stores nothing new.
func TestWindowAndDeduplication(t *testing.T) {
	f := newFixture(t, backfill.Config{}, 40) // 40 days of one item a day
	b, task := f.start(t, 30)
	if f.queue.tasks[0] != task.ID {
		t.Fatalf("queued tasks: %v", f.queue.tasks)
	}
	f.now = f.now.Add(time.Minute)
	f.runToEnd(t, task.ID)
	evs := f.events(t)
	if len(evs) != 31 { // days 0..30: updated at or after since
		t.Fatalf("events: %d, want 31", len(evs))
	}
	for _, e := range evs {
		if e.Source != relay.SourceBackfill || e.OrgID != "org_a" || e.ConnectionID != f.conn.ID || e.AccountID != "42" {
			t.Fatalf("event: %+v", e)
		}
	}
	got, err := f.svc.Get(ctx, f.conn.ID, b.ID, "org_a")
	if err != nil {
		t.Fatal(err)
	}
	tk := got.Tasks[0]
	if tk.Status != relay.TaskDone || tk.Pages != 10 || tk.Items != 31 {
		t.Fatalf("task: %+v", tk)
	}
	// The other tasks are queued as this one finishes (concurrency 2).
	if len(f.queue.tasks) < 3 {
		t.Fatalf("next tasks not queued: %v", f.queue.tasks)
	}
	if _, err := f.svc.Cancel(ctx, f.conn.ID, b.ID, "org_a"); err != nil {
		t.Fatal(err)
	}
	// A new run over the same history stores nothing twice.
	_, task2 := f.start(t, 30)
	f.runToEnd(t, task2.ID)
	if n := len(f.events(t)); n != 31 {
		t.Fatalf("events after a second run: %d", n)
	}
}

// A rate limit that runs out makes the task wait for the reset without a
// request past the limit.
func TestRateLimitWaitsForReset(t *testing.T) {
	f := newFixture(t, backfill.Config{}, 30)
	reset := f.now.Add(30 * time.Second)
	f.lister.rl = func(n int) relay.RateLimit {
		return relay.RateLimit{Known: true, Limit: 3, Remaining: max(3-n, 0), Reset: reset}
	}
	_, task := f.start(t, 30)
	// Three requests use the budget; the task snoozes until the reset.
	again, after, err := f.svc.RunTask(ctx, task.ID, 1)
	if err != nil || !again || after <= 0 || after > 31*time.Second {
		t.Fatalf("first run: %v %v %v", again, after, err)
	}
	if n := len(f.lister.requests()); n != 3 {
		t.Fatalf("requests before the wait: %d, want 3", n)
	}
	got, _ := f.store.GetBackfillTask(ctx, task.ID)
	if got.Status != relay.TaskWaiting || got.RateLimitWaits != 1 || got.Pages != 3 {
		t.Fatalf("waiting task: %+v", got)
	}
	f.now = reset.Add(time.Second)
	f.lister.rl = nil
	f.runToEnd(t, task.ID)
	if got, _ := f.store.GetBackfillTask(ctx, task.ID); got.Status != relay.TaskDone || got.Items != 30 {
		t.Fatalf("after the reset: %+v", got)
	}
}

// A provider that names a retry time (429 Retry-After) makes the task
// snooze until then.
func TestRetryAtSnoozes(t *testing.T) {
	f := newFixture(t, backfill.Config{}, 10)
	f.lister.fail = func(n int, _ *relay.Token) error {
		if n == 2 {
			e := relay.Errorf(relay.EUNAVAILABLE, "github: list issues: HTTP 429 (rate limited)")
			e.RetryAt = f.now.Add(7 * time.Second)
			return e
		}
		return nil
	}
	_, task := f.start(t, 30)
	waits := f.runToEnd(t, task.ID)
	if len(waits) != 1 || waits[0] != 7*time.Second {
		t.Fatalf("waits: %v", waits)
	}
	if got, _ := f.store.GetBackfillTask(ctx, task.ID); got.Status != relay.TaskDone || got.Items != 10 || got.RateLimitWaits != 1 {
		t.Fatalf("task: %+v", got)
	}
}

// A 401 refreshes the token once and retries with the new one.
func TestUnauthorizedRefreshesOnce(t *testing.T) {
	f := newFixture(t, backfill.Config{}, 5)
	f.lister.fail = func(n int, tok *relay.Token) error {
		if tok.AccessToken == "tok-0" {
			return relay.Errorf(relay.EUNAUTHORIZED, "github: list issues: HTTP 401")
		}
		return nil
	}
	_, task := f.start(t, 30)
	f.runToEnd(t, task.ID)
	if f.tokens.refreshes != 1 {
		t.Fatalf("refreshes: %d", f.tokens.refreshes)
	}
	if got, _ := f.store.GetBackfillTask(ctx, task.ID); got.Status != relay.TaskDone || got.Items != 5 {
		t.Fatalf("task: %+v", got)
	}

	// A token the provider keeps rejecting fails the task after one refresh.
	f2 := newFixture(t, backfill.Config{}, 5)
	f2.lister.fail = func(int, *relay.Token) error {
		return relay.Errorf(relay.EUNAUTHORIZED, "github: list issues: HTTP 401")
	}
	_, task2 := f2.start(t, 30)
	again, _, err := f2.svc.RunTask(ctx, task2.ID, 1)
	if err != nil || again {
		t.Fatalf("run: %v %v", again, err)
	}
	if got, _ := f2.store.GetBackfillTask(ctx, task2.ID); got.Status != relay.TaskFailed || got.LastError != "github: list issues: HTTP 401" || f2.tokens.refreshes != 1 {
		t.Fatalf("task: %+v (refreshes %d)", got, f2.tokens.refreshes)
	}
}

// Repeated failures are retried by the job until MaxAttempts, then the
// task fails with the error recorded and the backfill completes.
func TestRepeatedFailuresFailTheTask(t *testing.T) {
	f := newFixture(t, backfill.Config{MaxAttempts: 3}, 5)
	f.lister.fail = func(int, *relay.Token) error {
		return relay.Errorf(relay.EUNAVAILABLE, "github: list issues: HTTP 502")
	}
	b, task := f.start(t, 30)
	for attempt := 1; attempt <= 2; attempt++ {
		if _, _, err := f.svc.RunTask(ctx, task.ID, attempt); relay.ErrorCode(err) != relay.EUNAVAILABLE {
			t.Fatalf("attempt %d: %v", attempt, err)
		}
	}
	again, _, err := f.svc.RunTask(ctx, task.ID, 3)
	if err != nil || again {
		t.Fatalf("last attempt: %v %v", again, err)
	}
	got, _ := f.store.GetBackfillTask(ctx, task.ID)
	if got.Status != relay.TaskFailed || got.Errors != 3 || got.LastError != "github: list issues: HTTP 502" {
		t.Fatalf("task: %+v", got)
	}
	// The run goes on with its other tasks.
	bb, _ := f.svc.Get(ctx, f.conn.ID, b.ID, "")
	if bb.Status != relay.BackfillRunning || bb.Failed != 1 {
		t.Fatalf("backfill: %+v", bb)
	}
}

// Cancelling stops a task before its next page.
func TestCancelStopsWithinOnePage(t *testing.T) {
	f := newFixture(t, backfill.Config{}, 20)
	var b *relay.Backfill
	f.lister.fail = func(n int, _ *relay.Token) error {
		if n == 2 { // the cancel lands while the second page is in flight
			if _, err := f.svc.Cancel(ctx, f.conn.ID, b.ID, ""); err != nil {
				t.Error(err)
			}
		}
		return nil
	}
	b, task := f.start(t, 30)
	again, _, err := f.svc.RunTask(ctx, task.ID, 1)
	if err != nil || again {
		t.Fatalf("run: %v %v", again, err)
	}
	if n := len(f.lister.requests()); n != 2 {
		t.Fatalf("requests: %d, want 2 (the cancel lands during the second)", n)
	}
	got, _ := f.svc.Get(ctx, f.conn.ID, b.ID, "")
	if got.Status != relay.BackfillCancelled || got.Tasks[0].Status != relay.TaskCancelled || got.Tasks[0].Pages != 1 {
		t.Fatalf("after cancel: %+v %+v", got, got.Tasks[0])
	}
}

// Backpressure: with more undelivered deliveries than the bound, the task
// waits instead of fetching.
func TestBackpressure(t *testing.T) {
	f := newFixture(t, backfill.Config{MaxUndelivered: 8}, 30)
	_, task := f.start(t, 30)
	again, after, err := f.svc.RunTask(ctx, task.ID, 1)
	if err != nil || !again || after != 2*time.Second {
		t.Fatalf("run: %v %v %v", again, after, err)
	}
	// 3 pages (12 deliveries, over 8) are committed, then it waits.
	if n := len(f.lister.requests()); n != 3 {
		t.Fatalf("requests: %d", n)
	}
	got, _ := f.store.GetBackfillTask(ctx, task.ID)
	if got.Status != relay.TaskWaiting || got.Items != 12 {
		t.Fatalf("task: %+v", got)
	}
}

// resourceLister serves each resource's own history of 10 items, 4 a page.
type resourceLister struct{ now time.Time }

func (l *resourceLister) BackfillEntities() map[string]string {
	return map[string]string{"issues": "repository", "releases": "repository"}
}

func (l *resourceLister) ListBackfillPage(ctx context.Context, c *relay.Connection, t *relay.Token, r *relay.Resource, entity string, since time.Time, cursor string) (*relay.BackfillResult, error) {
	start, _ := strconv.Atoi(cursor)
	res := &relay.BackfillResult{}
	for i := start; i < min(start+4, 10); i++ {
		at := l.now.Add(-time.Duration(i) * time.Hour)
		id := r.ExternalID + "-" + strconv.Itoa(i)
		res.Items = append(res.Items, &relay.BackfillItem{DeliveryID: relay.BackfillDeliveryID(entity, id, at),
			EventType: "issues.opened", ResourceID: r.ExternalID, UpdatedAt: at, Payload: json.RawMessage(`{"id":"` + id + `"}`)})
	}
	if start+4 < 10 {
		res.Next = strconv.Itoa(start + 4)
	}
	return res, nil
}

// failOnce fails the commit of one page (the task's page after cursor
// after) the first time it is asked, and passes the rest of its group on.
type failOnce struct {
	*sqlite.Store
	task, after string

	mu     sync.Mutex
	failed bool
}

func (s *failOnce) CommitBackfillPages(ctx context.Context, pages []*relay.BackfillPage) []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	errs := make([]error, len(pages))
	var rest []*relay.BackfillPage
	var at []int
	for i, p := range pages {
		if !s.failed && p.TaskID == s.task && p.PrevCursor == s.after {
			s.failed = true
			errs[i] = relay.Errorf(relay.EUNAVAILABLE, "disk I/O error")
			continue
		}
		rest, at = append(rest, p), append(at, i)
	}
	for i, err := range s.Store.CommitBackfillPages(ctx, rest) {
		errs[at[i]] = err
	}
	return errs
}

// Tasks running at once commit their pages through one group committer:
// each moves its own cursor, and one task's failed page neither loses nor
// blocks the others' pages; its job's retry resumes at its last commit.
func TestConcurrentTasksCommitTheirOwnPages(t *testing.T) {
	f := newFixture(t, backfill.Config{Concurrency: 4}, 0)
	lister := &resourceLister{now: f.now}
	b, _, err := f.svc.Start(ctx, f.conn.ID, "org_a", 30, []string{"issues", "releases"})
	if err != nil || len(b.Tasks) != 4 {
		t.Fatalf("start: %v %+v", err, b)
	}
	store := &failOnce{Store: f.store, task: b.Tasks[1].ID, after: "4"}
	route := func(e *relay.Event) []*relay.Destination { return []*relay.Destination{f.dst} }
	svc := backfill.New(store, f.tokens, []relay.BackfillLister{lister}, []string{"github"}, route, func() {}, metrics.New(),
		slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return f.now }, backfill.Config{Concurrency: 4, Queue: f.queue})
	if err := svc.RunBackfill(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	failures := make([]int, len(b.Tasks))
	for i, task := range b.Tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for attempt := 1; attempt < 5; attempt++ {
				again, _, err := svc.RunTask(ctx, task.ID, attempt)
				if err != nil {
					failures[i]++
					continue
				}
				if !again {
					return
				}
			}
		}()
	}
	wg.Wait()
	got, err := f.svc.Get(ctx, f.conn.ID, b.ID, "org_a")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != relay.BackfillCompleted || got.Items != 40 || got.Pages != 12 {
		t.Fatalf("backfill: %+v", got)
	}
	for i, tk := range got.Tasks {
		if tk.Status != relay.TaskDone || tk.Pages != 3 || tk.Items != 10 || tk.Cursor != "8" {
			t.Fatalf("task %d: %+v", i, tk)
		}
		want := 0
		if tk.ID == store.task {
			want = 1
		}
		if failures[i] != want {
			t.Fatalf("task %d failed %d runs, want %d", i, failures[i], want)
		}
	}
	if !store.failed {
		t.Fatal("the page meant to fail was never committed")
	}
	// Each resource and entity type's items once: 2 × 2 × 10.
	seen := map[string]bool{}
	for _, e := range f.events(t) {
		if seen[e.DeliveryID] {
			t.Fatalf("stored twice: %s", e.DeliveryID)
		}
		seen[e.DeliveryID] = true
	}
	if len(seen) != 40 {
		t.Fatalf("events: %d, want 40", len(seen))
	}
}
