package relay

import "math/rand/v2"

// ClaimFairly spreads a claim of up to limit deliveries over destinations.
// Each pass gives every candidate an equal share (at least one); a
// destination that fills its share stays a candidate for what the others
// left unused, so one destination's backlog neither starves the others nor
// is held back by their idleness. The starting destination rotates, so with
// more destinations than room none is always last. claim claims up to n
// for one destination and returns how many it got.
func ClaimFairly(ids []string, limit int, claim func(id string, n int) (int, error)) (int, error) {
	total := 0
	cands := append([]string(nil), ids...)
	if len(cands) > 1 {
		off := rand.IntN(len(cands))
		cands = append(cands[off:], cands[:off]...)
	}
	for len(cands) > 0 && total < limit {
		share := max((limit-total)/len(cands), 1)
		var full []string
		for _, id := range cands {
			n := min(share, limit-total)
			if n <= 0 {
				break
			}
			got, err := claim(id, n)
			if err != nil {
				return total, err
			}
			total += got
			if got == n {
				full = append(full, id)
			}
		}
		cands = full
	}
	return total, nil
}
