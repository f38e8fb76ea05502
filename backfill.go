package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Backfill statuses. A backfill is active while pending or running.
const (
	BackfillPending   = "pending"   // created; its tasks are not fanned out yet
	BackfillRunning   = "running"   // tasks are fetching pages
	BackfillCompleted = "completed" // every task finished; some may have failed (see Failed)
	BackfillCancelled = "cancelled" // cancelled by a user or by the connection's teardown
)

// Backfill task statuses.
const (
	TaskPending   = "pending"   // not started
	TaskRunning   = "running"   // fetching pages
	TaskWaiting   = "waiting"   // waiting for a rate limit to reset or for deliveries to drain
	TaskDone      = "done"      // the last page is committed
	TaskFailed    = "failed"    // gave up after repeated errors; LastError says why
	TaskCancelled = "cancelled" // its backfill was cancelled
)

// Backfill imports a connection's provider history of the last DepthDays
// as events. Since is fixed when it is created, so every retry and resume
// sees the same window: items updated in [Since, CreatedAt].
type Backfill struct {
	ID           string     `json:"id"` // "bf_…"
	ConnectionID string     `json:"connection_id"`
	OrgID        string     `json:"org_id"`
	Provider     string     `json:"provider"`
	DepthDays    int        `json:"depth_days"`
	EntityTypes  []string   `json:"entity_types"`
	Since        time.Time  `json:"since"`
	Status       string     `json:"status"`
	Reason       string     `json:"reason,omitempty"` // why it was cancelled
	Pages        int        `json:"pages"`            // committed pages, all tasks
	Items        int        `json:"items"`            // items committed as events (duplicates included)
	Failed       int        `json:"failed_tasks"`     // tasks that gave up
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	FinishedAt   *time.Time `json:"finished_at,omitempty"`

	// Tasks is filled by GetBackfill only.
	Tasks []*BackfillTask `json:"tasks,omitempty"`
}

// Active reports whether the backfill may still fetch pages.
func (b *Backfill) Active() bool {
	return b.Status == BackfillPending || b.Status == BackfillRunning
}

// ParamsKey identifies what a backfill imports: two requests with the same
// key while one is active are the same run.
func (b *Backfill) ParamsKey() string {
	t := slices.Clone(b.EntityTypes)
	slices.Sort(t)
	return fmt.Sprintf("%d:%s", b.DepthDays, strings.Join(t, ","))
}

// BackfillTask is the progress of one (resource, entity type) of a backfill:
// the cursor of the next page to fetch, committed together with the events
// of the page before it.
type BackfillTask struct {
	ID             string    `json:"id"` // "bft_…"
	BackfillID     string    `json:"backfill_id"`
	ResourceID     string    `json:"resource_id"`
	ResourceName   string    `json:"resource_name,omitempty"`
	EntityType     string    `json:"entity_type"`
	Status         string    `json:"status"`
	Cursor         string    `json:"cursor,omitempty"` // "" before the first page
	Pages          int       `json:"pages"`
	Items          int       `json:"items"`
	RateLimitWaits int       `json:"rate_limit_waits"`
	Errors         int       `json:"errors"` // failed fetches, retried or not
	LastError      string    `json:"last_error,omitempty"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// Finished reports whether the task will fetch no more pages.
func (t *BackfillTask) Finished() bool {
	return t.Status == TaskDone || t.Status == TaskFailed || t.Status == TaskCancelled
}

// BackfillPage is one page of a task, committed atomically by
// BackfillStore.CommitBackfillPage: the events and their deliveries, and the
// task's new cursor.
type BackfillPage struct {
	TaskID string
	// PrevCursor is the cursor the page was fetched with: the commit applies
	// only while the task's cursor is still PrevCursor and the task is not
	// finished, so a page fetched twice (a retried job) is committed once.
	PrevCursor string
	Cursor     string // the next page's cursor; with Last, ignored
	Last       bool   // no more pages: the task is done
	Items      []*IngestItem
	Now        time.Time
}

// BackfillStore stores backfills and their tasks. Implemented by sqlite and
// postgres; storetest checks both.
type BackfillStore interface {
	// CreateBackfill stores b and its tasks, unless an active backfill of
	// the connection has the same ParamsKey: then it stores nothing and
	// returns that one with created false.
	CreateBackfill(ctx context.Context, b *Backfill, tasks []*BackfillTask) (got *Backfill, created bool, err error)
	// GetBackfill returns a backfill with its tasks. When orgID is not "",
	// another org's backfill is ENOTFOUND.
	GetBackfill(ctx context.Context, id, orgID string) (*Backfill, error)
	// ListBackfills returns a connection's backfills, newest first.
	ListBackfills(ctx context.Context, connectionID, orgID string) ([]*Backfill, error)
	// GetBackfillTask returns one task (ENOTFOUND).
	GetBackfillTask(ctx context.Context, id string) (*BackfillTask, error)
	// CommitBackfillPage stores the page's events (duplicates skipped, as
	// InsertEvents does) and moves the task's cursor, counting the page and
	// its items, in one transaction. ECONFLICT, with nothing stored, when
	// the task's cursor is no longer p.PrevCursor or the task is finished.
	// The last page marks the task done and, when it was the backfill's
	// last unfinished task, completes the backfill.
	CommitBackfillPage(ctx context.Context, p *BackfillPage) error
	// CommitBackfillPages commits several pages (of different tasks, as
	// concurrent tasks queue them) in one transaction, each page on its own
	// as CommitBackfillPage would: it returns one error per page, and a
	// page that fails (ECONFLICT, or any other error) stores nothing while
	// the others are still committed. When the transaction itself fails,
	// every page has its error and nothing is stored.
	CommitBackfillPages(ctx context.Context, pages []*BackfillPage) []error
	// UpdateBackfillTask sets an unfinished task's status and, when errMsg is
	// not "", counts an error and records it; waited adds one rate-limit
	// wait. Setting a finished status completes the backfill when it was
	// its last unfinished task. ECONFLICT when the task is already finished.
	UpdateBackfillTask(ctx context.Context, id, status, errMsg string, waited bool, now time.Time) error
	// StartBackfill moves a pending backfill to running (no-op otherwise).
	StartBackfill(ctx context.Context, id string, now time.Time) error
	// CancelBackfills cancels the active backfills of the connection (one
	// when backfillID is not ""), their unfinished tasks with them, and
	// returns how many it cancelled.
	CancelBackfills(ctx context.Context, connectionID, backfillID, reason string, now time.Time) (int, error)
	// ActiveBackfills returns the ids of every active backfill (to resume
	// their jobs at start-up).
	ActiveBackfills(ctx context.Context) ([]string, error)
	// Undelivered counts the connection's events' deliveries that are
	// pending or retrying, counting at most limit+1.
	Undelivered(ctx context.Context, connectionID string, limit int) (int, error)
}

// BackfillItem is one provider object as a backfill imports it.
type BackfillItem struct {
	// DeliveryID is deterministic: derived from the entity type, the
	// object's id and its updated-at, so re-runs and retries de-duplicate.
	DeliveryID string
	EventType  string // named as the provider's live webhook for the object's state
	ResourceID string
	UpdatedAt  time.Time
	Payload    json.RawMessage // the API object, unchanged
}

// BackfillResult is one page a BackfillLister fetched.
type BackfillResult struct {
	Items []*BackfillItem
	// Next is the cursor of the following page, "" when this was the last
	// one (the lister stops early once items are older than since).
	Next string
	// RateLimit is what the answer's rate-limit headers said.
	RateLimit RateLimit
}

// RateLimit is a provider's rate-limit state read from an answer's headers.
type RateLimit struct {
	Known     bool // the answer carried the headers
	Limit     int
	Remaining int
	Reset     time.Time // when Remaining is restored
}

// BackfillLister is the optional capability of providers whose history can
// be imported. Errors are *Error values as Connector returns them: code
// EUNAUTHORIZED when the provider rejected the token (refresh and retry
// once), EUNAVAILABLE when it failed, timed out or rate-limited (RetryAt
// set when it said until when), EINVALID when it refused the request.
type BackfillLister interface {
	// BackfillEntities returns the entity types the provider can import
	// ("issues", "pull_requests", …) and the resource kind each is listed
	// per (Resource.Kind).
	BackfillEntities() map[string]string
	// ListBackfillPage fetches one page of entity items of resource r
	// updated at or after since, starting at cursor ("" for the first page).
	ListBackfillPage(ctx context.Context, c *Connection, t *Token, r *Resource, entity string, since time.Time, cursor string) (*BackfillResult, error)
}

// BackfillDeliveryID returns the deterministic delivery id of a backfilled
// object: "backfill:<entity>:<object id>:<updated-at in RFC 3339, UTC>".
func BackfillDeliveryID(entity, objectID string, updatedAt time.Time) string {
	return "backfill:" + entity + ":" + objectID + ":" + updatedAt.UTC().Format(time.RFC3339Nano)
}
