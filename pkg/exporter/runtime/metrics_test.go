package runtime

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/eventide/eventide/internal/testenv/testevent"
	"github.com/eventide/eventide/pkg/sinks"
)

// What operators alert on exists before the first event: the failure
// reasons at zero, the receiver's type.
func TestReceiverMetricsExistBeforeTheFirstEvent(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, "eventide")
	d, _ := Delivery{}.WithDefaults("test")
	if _, err := NewRuntime([]Receiver{{Name: "pager", Type: "opsgenie", Delivery: d, Sink: &fakeSink{}}}, m, zerolog.Nop(), Options{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	ch := make(chan prometheus.Metric, 100)
	m.Failed.Collect(ch)
	close(ch)
	for metric := range ch {
		var pb dto.Metric
		if err := metric.Write(&pb); err != nil {
			t.Fatal(err)
		}
		for _, l := range pb.GetLabel() {
			if l.GetName() == "reason" {
				got = append(got, l.GetValue())
			}
		}
	}
	slices.Sort(got)
	var classes []string
	for _, c := range sinks.FailureClasses {
		classes = append(classes, string(c))
	}
	if slices.Sort(classes); !slices.Equal(got, classes) {
		t.Errorf("receiver_failed_total reasons before any failure %q, want %q", got, classes)
	}
	want := `
# HELP eventide_receiver_info Always 1 for each configured receiver; the type label is its receiver type.
# TYPE eventide_receiver_info gauge
eventide_receiver_info{receiver="pager",type="opsgenie"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "eventide_receiver_info"); err != nil {
		t.Error(err)
	}
}

// The latency runs from the watch's hand-over to the acknowledgement, and
// the last success moves only on a delivery.
func TestDeliveryLatencyAndLastSuccess(t *testing.T) {
	sink := &fakeSink{script: []error{sinks.Permanent(sinks.ClassHTTP4xx, errors.New("400 bad request"))}}
	rt, m, _ := newTestRuntime(t, sink, Delivery{})
	failed, ok := testevent.Named("failed"), testevent.Named("ok")
	before := time.Now()
	failed.Received, ok.Received = before.Add(-2*time.Second), before.Add(-2*time.Second)
	rt.Enqueue("r", failed)
	rt.Enqueue("r", ok)
	drain(t, rt)
	if n := testutil.CollectAndCount(m.DeliveryLatency); n != 1 {
		t.Fatalf("latency series %d, want 1", n)
	}
	var metric dto.Metric
	if err := m.DeliveryLatency.WithLabelValues("r").(prometheus.Histogram).Write(&metric); err != nil {
		t.Fatal(err)
	}
	h := metric.GetHistogram()
	if h.GetSampleCount() != 1 || h.GetSampleSum() < 2 {
		t.Errorf("latency: %d observations summing %.2fs, want one of at least 2s (the failed event is not a delivery)", h.GetSampleCount(), h.GetSampleSum())
	}
	if last := testutil.ToFloat64(m.LastSuccess.WithLabelValues("r")); last < float64(before.Unix()) {
		t.Errorf("last success %v, before the delivery at %v", last, before.Unix())
	}
}
