package config

import "time"

// Retention configures how long Relay keeps what it received.
type Retention struct {
	// MaxAge is how long events are kept once every delivery of theirs is
	// succeeded or dead (or they have none); 0 keeps them forever. Events
	// with a pending or retrying delivery are kept whatever their age.
	MaxAge Duration `yaml:"max_age"`
	// HeldMaxAge is how long events held for an account no connection
	// knows are kept before they expire unreleased; 0 keeps them forever.
	HeldMaxAge Duration `yaml:"held_max_age"`
	// Interval is how often a retention pass runs.
	Interval Duration `yaml:"interval"`
}

// defaultRetention: a month of history, a week for held events (identity
// repair has had many sweeps by then), checked every minute so each pass
// is small.
var defaultRetention = Retention{
	MaxAge:     Duration(720 * time.Hour),
	HeldMaxAge: Duration(168 * time.Hour),
	Interval:   Duration(time.Minute),
}

// validateRetention checks the retention settings.
func (c *Config) validateRetention(bad func(path, format string, args ...any)) {
	r := c.Retention
	if r.MaxAge < 0 {
		bad("retention.max_age", "must be 0 (keep forever) or positive")
	}
	if r.HeldMaxAge < 0 {
		bad("retention.held_max_age", "must be 0 (keep forever) or positive")
	}
	if r.Interval < Duration(time.Second) {
		bad("retention.interval", "must be at least 1s")
	}
}
