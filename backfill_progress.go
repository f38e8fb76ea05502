package relay

// How a store moves a backfill on as its tasks commit pages and finish.
// The rules are decided here once; each store writes them in its own SQL.

// ActiveKey is the value of the unique key a store keeps on an active
// backfill, so that two requests with the same parameters for the same
// connection make one run (CreateBackfill).
func (b *Backfill) ActiveKey() string {
	return b.ConnectionID + "|" + b.ParamsKey()
}

// TaskAfter returns the task's status and cursor once p is committed: still
// running at the next page's cursor, or done at the cursor the last page
// was fetched with.
func (p *BackfillPage) TaskAfter() (status, cursor string) {
	if p.Last {
		return TaskDone, p.PrevCursor
	}
	return TaskRunning, p.Cursor
}

// TaskUpdate is what UpdateBackfillTask adds to a task's counters: one error
// when errMsg is not "", one rate-limit wait when waited. Finished reports
// whether status ends the task, so that its backfill may complete.
type TaskUpdate struct {
	Errors, Waits int
	Finished      bool
}

// NewTaskUpdate returns the update of a task set to status.
func NewTaskUpdate(status, errMsg string, waited bool) TaskUpdate {
	u := TaskUpdate{Finished: (&BackfillTask{Status: status}).Finished()}
	if errMsg != "" {
		u.Errors = 1
	}
	if waited {
		u.Waits = 1
	}
	return u
}
