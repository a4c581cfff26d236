package search

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/eventide/eventide/pkg/sinks"
)

func TestIndexNames(t *testing.T) {
	at := time.Date(2026, 11, 29, 23, 59, 0, 0, time.FixedZone("CET", 3600))
	for _, c := range []struct{ index, format, want, err string }{
		{"kube-events", "", "kube-events", ""},
		{"", "kube-events-{2006-01-02}", "kube-events-2026-11-29", ""}, // UTC: 22:59
		{"", "{2006}.{01}-events", "2026.11-events", ""},
		{"", "kube-{2006", "", "{ without }"},
		{"", "kube-}x", "", "} without {"},
		{"a", "b-{2006}", "b-2026", ""}, // indexFormat wins, as in the old tool
		{"", "", "", "index: required"},
		{"kube-{2006}", "", "", "use indexFormat"},
	} {
		n, err := parseIndex(c.index, c.format)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q %q: %v, want %q", c.index, c.format, err, c.err)
			}
		case err != nil:
			t.Errorf("%q %q: %v", c.index, c.format, err)
		case n.at(at) != c.want:
			t.Errorf("%q %q: %s, want %s", c.index, c.format, n.at(at), c.want)
		}
	}
}

// Both index and indexFormat (the old tool's README example) load, with a
// warning that says indexFormat wins.
func TestIndexAndIndexFormatWarns(t *testing.T) {
	var logs bytes.Buffer
	c := Config{Index: "kube-events", IndexFormat: "kube-events-{2006-01-02}"}
	if _, err := c.Transport("receivers[0].elasticsearch", sinks.Deps{Log: zerolog.New(&logs)}, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "indexFormat wins") {
		t.Errorf("no warning saying which wins: %s", logs.String())
	}
}
