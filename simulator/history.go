package simulator

import "time"

// HistoryItem is one object a simulator's SeedHistory generated, as a
// backfill should import it: the id the provider's API gives the object and
// the time a backfill filters on (its updated-at, or what stands for it).
type HistoryItem struct {
	ID        string
	UpdatedAt time.Time
}
