// Package buildinfo says which eventide this is: the version stamped at
// build time (-X main.version, from the git tag), and what Go recorded in
// the binary: the commit, its time (the build date of a release: the same
// source gives the same binary), whether the tree had changes, and the Go
// version. `eventide version`, the status page and eventide_build_info
// read it.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Info describes the running binary.
type Info struct {
	Version   string `json:"version"`
	Revision  string `json:"revision,omitempty"` // "" when not built from a git checkout
	Time      string `json:"buildTime,omitempty"`
	Modified  bool   `json:"modified,omitempty"` // built from a tree with uncommitted changes
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Read is this binary's Info for version.
func Read(version string) Info {
	i := Info{Version: version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return i
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			i.Revision = s.Value
		case "vcs.time":
			i.Time = s.Value
		case "vcs.modified":
			i.Modified = s.Value == "true"
		}
	}
	return i
}

// String is the version command's output.
func (i Info) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "eventide %s\n", i.Version)
	rev := i.Revision
	switch {
	case rev == "":
		rev = "unknown (not built from a git checkout)"
	case i.Modified:
		rev += " (with uncommitted changes)"
	}
	fmt.Fprintf(&b, "  revision:   %s\n", rev)
	if i.Time != "" {
		fmt.Fprintf(&b, "  build date: %s (the commit's time)\n", i.Time)
	}
	fmt.Fprintf(&b, "  go:         %s %s\n", i.GoVersion, i.Platform)
	return b.String()
}
