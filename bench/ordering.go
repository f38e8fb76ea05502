package bench

import (
	"context"
	"fmt"
	"io"
	"time"
)

// orderingKeys is how many distinct keys (repositories) the ordering mode
// spreads its events over.
const orderingKeys = 1000

// orderingFigures is one side of the ordering comparison.
type orderingFigures struct {
	accepted  float64 // accepted/s during the load
	delivered float64 // delivered/s from first send to last delivery
	lost      int
}

// runOrdering runs the closed-loop throughput load twice in one run, over
// 1,000 keys: once delivering unordered, once with the destination ordered
// by o.Ordering, and prints accepted/s and delivered/s side by side.
func runOrdering(ctx context.Context, o Options, out io.Writer) error {
	fmt.Fprintf(out, "## ordering: closed loop, %d concurrent senders, %s, %d keys; ordering none vs %s\n",
		o.Concurrency, o.Duration, orderingKeys, o.Ordering)
	payloads := Payloads(benchSecret, orderingKeys) // one repository (resource) per payload
	var figs [2]orderingFigures
	for i, ordering := range []string{"none", o.Ordering} {
		c, err := startCluster(o, "RELAY_DESTINATIONS_0_ORDERING="+ordering)
		if err != nil {
			return err
		}
		l := NewLoader(c.targets(), payloads, fmt.Sprintf("ord-%s-%d-", ordering, time.Now().UnixNano()), o.Concurrency)
		r := l.ClosedLoop(ctx, o.Concurrency, 0, o.Duration)
		lost, dups, last := c.waitDelivered(r.Acked, 5*time.Minute)
		c.close()
		e2e := last.Sub(r.FirstSend)
		figs[i] = orderingFigures{accepted: r.Rate(), delivered: float64(len(r.Acked)-lost) / e2e.Seconds(), lost: lost}
		fmt.Fprintf(out, "ordering %-10s %s\n", ordering+":", r)
		fmt.Fprintf(out, "  delivered %d of %d, lost %d, duplicates %d; first send → last delivery %s: %.0f delivered/s\n",
			len(r.Acked)-lost, len(r.Acked), lost, dups, e2e.Round(time.Millisecond), figs[i].delivered)
	}
	fmt.Fprintf(out, "ordered ÷ unordered: accepted/s %.2f, delivered/s %.2f\n\n",
		figs[1].accepted/figs[0].accepted, figs[1].delivered/figs[0].delivered)
	return nil
}
