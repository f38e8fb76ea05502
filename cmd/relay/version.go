package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/relayhq/relay"
)

// buildTime is when the binary was built (RFC 3339), set at link time with
// -ldflags "-X main.buildTime=…": the Go toolchain records the commit's
// time but not the build's, so that reproducible builds stay identical.
var buildTime = ""

// versionLine describes this build in one line: version, VCS revision (and
// whether the tree had uncommitted changes), commit time, build time when
// it was set at link time, Go version and platform. The version is relay.Version when it was set at link time
// (-ldflags -X, as release builds do), else the module version the Go
// toolchain stamped (a tag or a pseudo-version), else relay.Version ("dev").
// bi is nil when the binary carries no build information.
func versionLine(bi *debug.BuildInfo) string {
	version := relay.Version
	var revision, modified, vcsTime string
	if bi != nil {
		if version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				modified = s.Value
			case "vcs.time":
				vcsTime = s.Value
			}
		}
	}
	var details []string
	if revision != "" {
		r := "revision " + revision
		if modified == "true" {
			r += " (modified)"
		}
		details = append(details, r)
	}
	if vcsTime != "" {
		details = append(details, "committed "+vcsTime)
	}
	if buildTime != "" {
		details = append(details, "built "+buildTime)
	}
	details = append(details, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
	return fmt.Sprintf("relay %s (%s)", version, strings.Join(details, ", "))
}

// buildInfo is this binary's build information, or nil when it has none.
func buildInfo() *debug.BuildInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	return bi
}
