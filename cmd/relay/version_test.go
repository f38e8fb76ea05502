package main

import (
	"context"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/relayhq/relay"
)

// The version line carries the module version, the revision, whether the
// tree was modified, the commit and build times; a version set at link time
// wins over the module's, and without build info relay.Version is shown.
func TestVersionLine(t *testing.T) {
	bi := &debug.BuildInfo{
		Main: debug.Module{Path: "github.com/relayhq/relay", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "6d6f4a10f8ebff029cb07eba3bb381a3c2303ea7"},
			{Key: "vcs.time", Value: "2026-12-03T08:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	got := versionLine(bi)
	for _, want := range []string{"relay v1.4.0 (", "revision 6d6f4a10f8ebff029cb07eba3bb381a3c2303ea7 (modified)", "committed 2026-12-03T08:00:00Z"} {
		if !strings.Contains(got, want) {
			t.Errorf("versionLine = %q; want it to contain %q", got, want)
		}
	}

	bi.Settings[3].Value = "false"
	if got := versionLine(bi); strings.Contains(got, "modified") {
		t.Errorf("versionLine of an unmodified tree = %q", got)
	}

	defer func(v, b string) { relay.Version, buildTime = v, b }(relay.Version, buildTime)
	relay.Version, buildTime = "v1.5.0-rc1", "2026-12-03T09:00:00Z"
	if got := versionLine(bi); !strings.HasPrefix(got, "relay v1.5.0-rc1 (") || !strings.Contains(got, "built 2026-12-03T09:00:00Z") {
		t.Errorf("versionLine with link-time version and build time = %q", got)
	}

	relay.Version, buildTime = "dev", ""
	for _, bi := range []*debug.BuildInfo{nil, {Main: debug.Module{Version: "(devel)"}}} {
		if got := versionLine(bi); !strings.HasPrefix(got, "relay dev (") || strings.Contains(got, "revision") {
			t.Errorf("versionLine(%v) = %q; want relay dev without a revision", bi, got)
		}
	}
}

func TestVersionCommand(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"relay", "version"}, func(string) string { return "" }, strings.NewReader(""), &out, &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasPrefix(got, "relay ") || strings.Count(got, "\n") != 1 {
		t.Errorf("relay version printed %q; want one line", got)
	}
}
