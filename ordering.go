package relay

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Ordering keys a destination can be given (Destination.Ordering); any
// other value is a JSON path into the payload, such as "$.issue.id".
const (
	OrderingNone       = "none"       // deliveries are sent as workers free up
	OrderingResource   = "resource"   // by the event's ResourceID
	OrderingAccount    = "account"    // by the event's AccountID
	OrderingConnection = "connection" // by the event's ConnectionID
)

// What happens to a key whose head-of-line delivery ends dead
// (Destination.OnDead).
const (
	OnDeadSkip  = "skip"  // the key moves on to its next delivery
	OnDeadBlock = "block" // the key waits until the dead delivery is replayed and succeeds
)

// BackfillOrderPrefix starts the order key of a backfilled event's
// deliveries. Backfilled items of a key form their own line, so a live
// event of the same key is never held back behind a backfill that may take
// hours, and a backfill never waits for live traffic.
const BackfillOrderPrefix = "backfill:"

// validateOrdering checks Ordering and OnDead and fills their defaults.
func (d *Destination) validateOrdering() error {
	switch d.Ordering {
	case "":
		d.Ordering = OrderingNone
	case OrderingNone, OrderingResource, OrderingAccount, OrderingConnection:
	default:
		if _, err := parseJSONPath(d.Ordering); err != nil {
			return Errorf(EINVALID, "ordering: must be none, resource, account, connection or a JSON path like $.issue.id")
		}
	}
	switch d.OnDead {
	case "":
		d.OnDead = OnDeadSkip
	case OnDeadSkip, OnDeadBlock:
	default:
		return Errorf(EINVALID, "on_dead: must be skip or block")
	}
	return nil
}

// OrderKey returns the key that orders e's delivery to d: "" when d is
// unordered or e has no value for d's key (such deliveries are unordered).
// A backfilled event's key carries BackfillOrderPrefix.
func (d *Destination) OrderKey(e *Event) string {
	var k string
	switch d.Ordering {
	case "", OrderingNone:
		return ""
	case OrderingResource:
		k = e.ResourceID
	case OrderingAccount:
		k = e.AccountID
	case OrderingConnection:
		k = e.ConnectionID
	default:
		k = jsonPathValue(e.Payload, d.Ordering)
	}
	if k == "" {
		return ""
	}
	if e.Source == SourceBackfill {
		return BackfillOrderPrefix + k
	}
	return k
}

// parseJSONPath splits "$.a.b.0" into its steps. Only dotted member names
// and array indexes are supported: keys are identifiers, not queries.
func parseJSONPath(p string) ([]string, error) {
	rest, ok := strings.CutPrefix(p, "$.")
	if !ok || rest == "" {
		return nil, Errorf(EINVALID, "JSON path must start with $.")
	}
	steps := strings.Split(rest, ".")
	for _, s := range steps {
		if s == "" || strings.ContainsAny(s, "[]*? ") {
			return nil, Errorf(EINVALID, "JSON path: bad step %q", s)
		}
	}
	return steps, nil
}

// jsonPathValue returns the value at path in payload as a key: a string as
// is, a number or boolean as written; "" when missing, null, or an object
// or array (which are not keys).
func jsonPathValue(payload json.RawMessage, path string) string {
	steps, err := parseJSONPath(path)
	if err != nil {
		return ""
	}
	cur := payload
	for _, s := range steps {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(cur, &obj); err == nil {
			if cur = obj[s]; cur == nil {
				return ""
			}
			continue
		}
		var arr []json.RawMessage
		i, err := strconv.Atoi(s)
		if json.Unmarshal(cur, &arr) != nil || err != nil || i < 0 || i >= len(arr) {
			return ""
		}
		cur = arr[i]
	}
	var v any
	if json.Unmarshal(cur, &v) != nil {
		return ""
	}
	switch v := v.(type) {
	case string:
		return v
	case float64, bool:
		return strings.TrimSpace(string(cur))
	}
	return ""
}

// Ordered reports whether the delivery waits its turn behind earlier
// deliveries of its (destination, key). Such deliveries are never written
// leased by InsertEvents: only ClaimDue, which checks the turn, hands them out.
func (d *Delivery) Ordered() bool { return d.OrderKey != "" }

// BlockedKey is an ordering key of a destination whose head-of-line
// delivery has failed at least once (or is dead, with on_dead block), so
// the deliveries behind it wait.
type BlockedKey struct {
	Key string `json:"key"`
	// Head is the earliest undelivered delivery of the key.
	Head     *Delivery `json:"head"`
	Attempts int       `json:"attempts"` // the head's attempts so far
	Waiting  int       `json:"waiting"`  // deliveries queued behind the head
	// Since is when the head was created: how long the key has waited.
	Since time.Time `json:"since"`
}
