package exporter

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// What operators alert on exists before the first event: the events
// received by type, the build (the receivers' own: pkg/exporter/runtime).
func TestMetricsExistBeforeTheFirstEvent(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry(), "")
	m.SetBuildInfo("v9.9.9")
	if n := testutil.CollectAndCount(m.EventsReceived); n != 3 {
		t.Errorf("events_received_total has %d series, want Normal, Warning and other", n)
	}
	if n := testutil.CollectAndCount(m.BuildInfo); n != 1 {
		t.Errorf("build_info has %d series, want 1", n)
	}
}
