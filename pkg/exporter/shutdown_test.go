package exporter

import (
	"context"
	"testing"
)

func TestStopsGracefully(t *testing.T) {
	live := context.Background()
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name         string
		lead, signal context.Context
		want         bool
	}{
		{"SIGTERM (lead ends with it)", ended, ended, true},
		{"the watch failed to start; still leading", live, live, true},
		{"the Lease was lost", ended, live, false},
	} {
		if got := stopsGracefully(tc.lead, tc.signal); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
