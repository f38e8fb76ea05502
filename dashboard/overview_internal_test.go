package dashboard

import (
	"testing"
	"time"

	"github.com/relayhq/relay"
)

func TestHourlyBucketsTheLastDayOldestFirst(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 10, 0, 0, time.UTC)
	at := func(ago time.Duration) *relay.Event { return &relay.Event{ReceivedAt: now.Add(-ago)} }
	bars, most := hourly([]*relay.Event{at(5 * time.Minute), at(8 * time.Minute), at(30 * time.Minute), at(25 * time.Hour)}, now)
	if len(bars) != 24 || most != 2 {
		t.Fatalf("%d bars, peak %d", len(bars), most)
	}
	if bars[23].N != 2 || bars[22].N != 1 || !bars[23].Hour.Equal(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("last bars %+v %+v", bars[22], bars[23])
	}
	if bars[23].H != 58 || bars[23].Y != 2 || bars[0].H != 0 || bars[22].H != 29 {
		t.Errorf("bar heights %d/%d/%d", bars[23].H, bars[22].H, bars[0].H)
	}
}
