package main

import (
	"slices"
	"testing"

	"github.com/relayhq/relay/config"
)

// Every provider section of the config has one registration, and every
// registration a section: config validation reserves the names of the
// sections, serving and connect read the registrations.
func TestRegistryMatchesConfig(t *testing.T) {
	var names []string
	for _, r := range registry {
		if r.webhook == nil {
			t.Errorf("provider %s: no webhook adapter", r.name)
		}
		names = append(names, r.name)
	}
	if !slices.Equal(names, config.BuiltinProviders) {
		t.Fatalf("registered providers %v, config sections %v", names, config.BuiltinProviders)
	}
}
