//go:build !unix

package main

// lockDataDir does nothing where flock is not available: running two
// processes on one data dir is then the operator's to avoid.
func lockDataDir(string) (func(), error) { return func() {}, nil }
