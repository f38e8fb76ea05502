package simulator

import "sync"

// calls counts each simulated endpoint's requests and holds the failures
// a test asked it to inject; every provider simulator embeds one.
type calls struct {
	cmu   sync.Mutex
	count map[string]int
	fail  map[string][]int
}

// Calls returns how many requests the named endpoint answered.
func (c *calls) Calls(endpoint string) int {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	return c.count[endpoint]
}

// FailNext makes the named endpoint answer status to its next n requests.
func (c *calls) FailNext(endpoint string, status, n int) {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	if c.fail == nil {
		c.fail = map[string][]int{}
	}
	for range n {
		c.fail[endpoint] = append(c.fail[endpoint], status)
	}
}

// take counts a request and returns the failure status to answer, or 0.
func (c *calls) take(endpoint string) int {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	if c.count == nil {
		c.count = map[string]int{}
	}
	c.count[endpoint]++
	if f := c.fail[endpoint]; len(f) > 0 {
		c.fail[endpoint] = f[1:]
		return f[0]
	}
	return 0
}
