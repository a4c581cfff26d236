package buildinfo

import (
	"strings"
	"testing"
)

// The version command says what it knows and says so when it does not.
func TestString(t *testing.T) {
	full := Info{Version: "v0.1.0", Revision: "5ac36d1", Time: "2026-12-03T00:44:08Z", GoVersion: "go1.26.8", Platform: "linux/arm64"}.String()
	for _, want := range []string{"eventide v0.1.0\n", "revision:   5ac36d1\n", "build date: 2026-12-03T00:44:08Z", "go:         go1.26.8 linux/arm64"} {
		if !strings.Contains(full, want) {
			t.Errorf("%q lacks %q", full, want)
		}
	}
	bare := Info{Version: "dev", GoVersion: "go1.26.8", Platform: "darwin/arm64"}.String()
	if !strings.Contains(bare, "revision:   unknown (not built from a git checkout)") || strings.Contains(bare, "build date") {
		t.Errorf("without VCS stamp: %q", bare)
	}
	if dirty := (Info{Version: "v1", Revision: "abc", Modified: true}).String(); !strings.Contains(dirty, "abc (with uncommitted changes)") {
		t.Errorf("a modified tree: %q", dirty)
	}
	if got := Read("v9"); got.Version != "v9" || got.GoVersion == "" || got.Platform == "" {
		t.Errorf("Read: %+v", got)
	}
}
