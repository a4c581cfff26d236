package exporter

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// rvNamed is an event with name and resourceVersion rv.
func rvNamed(rv int) *event.EnhancedEvent {
	e := named(fmt.Sprint(rv))
	e.ResourceVersion = fmt.Sprint(rv)
	return e
}

// runTracked runs receiver "r" with a real tracker, hands it events with
// RVs first..last as the pipeline does, and waits until the receiver has
// finished every one of them (nothing pending): an event it never finishes
// pins the checkpoint and fails the test.
func runTracked(t *testing.T, sink sinks.Sink, d DeliveryConfig, opts RuntimeOptions, first, last int, beforeStart func(*Runtime)) (*Tracker, *Metrics) {
	t.Helper()
	d, errs := d.withDefaults("test")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	m := NewMetrics(prometheus.NewRegistry(), "")
	tr := NewTracker([]string{"r"}, false, nil)
	opts.Tracker = tr
	rt, err := NewRuntime([]Receiver{{Name: "r", Delivery: d, Sink: sink}}, m, zerolog.Nop(), opts)
	if err != nil {
		t.Fatal(err)
	}
	rt.workers["r"].sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	if beforeStart != nil {
		beforeStart(rt)
	}
	for rv := first; rv <= last; rv++ {
		ev := rvNamed(rv)
		tr.Add("r", ev)
		rt.Enqueue("r", ev)
		tr.Received(ev)
		tr.Routed(ev)
	}
	rt.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = testenv.PollUntil(ctx, 5*time.Millisecond, func() bool { return tr.Pending("r") == 0 })
	rt.Shutdown(ctx)
	if err != nil {
		t.Fatalf("%d events still pending: they pin the checkpoint (%v)", tr.Pending("r"), err)
	}
	if got := tr.Checkpoints()["r"][StreamAll]; got != uint64(last) {
		t.Errorf("checkpoint %d, want %d", got, last)
	}
	return tr, m
}

// A dead-lettered event is finished: it releases the checkpoint.
func TestDeadLetteredEventReleasesCheckpoint(t *testing.T) {
	sink := &fakeSink{script: []error{sinks.Permanent("http_4xx", errors.New("HTTP 400"))}}
	_, m := runTracked(t, sink, DeliveryConfig{}, RuntimeOptions{}, 10, 12, nil)
	if got := testutil.ToFloat64(m.DeadLetters.WithLabelValues("r")); got != 1 {
		t.Errorf("dead letters %v, want 1", got)
	}
}

// Events dropped because the spool was full, or the memory queue without a
// spool, are finished too.
func TestDroppedEventsReleaseCheckpoint(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   RuntimeOptions
		reason string
	}{
		{"spool full", RuntimeOptions{SpoolDir: t.TempDir(), SpoolMaxBytes: 3000}, "spool_full"},
		{"queue full, no spool", RuntimeOptions{}, "queue_full"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, m := runTracked(t, &fakeSink{}, DeliveryConfig{QueueSize: 1}, tc.opts, 100, 160, nil)
			if got := testutil.ToFloat64(m.Dropped.WithLabelValues("r", tc.reason)); got == 0 {
				t.Errorf("nothing dropped for %s: the test did not fill it", tc.reason)
			}
		})
	}
}

// recordingEnqueuer checks, as each event is enqueued, that the tracker
// already counts it pending.
type recordingEnqueuer struct {
	tr        *Tracker
	got       []string
	untracked []string
}

func (r *recordingEnqueuer) Enqueue(receiver string, ev *event.EnhancedEvent) {
	r.got = append(r.got, receiver+":"+ev.Name)
	if r.tr.Pending(receiver) == 0 {
		r.untracked = append(r.untracked, ev.Name)
	}
	r.tr.Done(receiver, ev) // delivered at once
}

// Pipeline.Run: an event is tracked before it is enqueued (else a fast
// receiver finishes it before it is pending and the checkpoint sticks),
// every event is marked dispatched (routed or not), and "discarded" counts
// an event only when no receiver got it.
func TestPipelineTracksAndCountsDiscards(t *testing.T) {
	tree := mustTree(t, RouteConfig{Routes: []RouteConfig{
		{Match: []RuleConfig{{Reason: "^Both$", Receiver: "a"}, {Reason: "^Both$", Receiver: "b"}}},
		{Match: []RuleConfig{{Reason: "^OnlyA$", Receiver: "a"}}},
	}})
	m := NewMetrics(prometheus.NewRegistry(), "")
	tr := NewTracker(testReceivers, false, map[string]map[string]uint64{"a": {StreamAll: 100}})
	enq := &recordingEnqueuer{tr: tr}
	p := NewPipeline(tree, enq, m, PipelineOptions{Tracker: tr})
	ev := func(rv int, reason string) *event.EnhancedEvent {
		e := rvNamed(rv)
		e.Reason = reason
		return e
	}
	go func() {
		p.Handle(ev(50, "Both"))    // a has it already; b gets it: not discarded
		p.Handle(ev(60, "OnlyA"))   // a has it already, nobody else: discarded
		p.Handle(ev(70, "Nowhere")) // routed nowhere: unrouted, still dispatched
		p.Close()
	}()
	p.Run(context.Background())
	if want := []string{"b:50"}; fmt.Sprint(enq.got) != fmt.Sprint(want) {
		t.Errorf("enqueued %v, want %v", enq.got, want)
	}
	if len(enq.untracked) > 0 {
		t.Errorf("enqueued before the tracker had them: %v", enq.untracked)
	}
	if got := testutil.ToFloat64(m.EventsDiscarded.WithLabelValues(DiscardDelivered)); got != 1 {
		t.Errorf("discarded %v, want 1 (only the event no receiver got)", got)
	}
	if got := testutil.ToFloat64(m.EventsUnrouted); got != 1 {
		t.Errorf("unrouted %v, want 1", got)
	}
	if got := tr.Checkpoints()["b"][StreamAll]; got != 70 {
		t.Errorf("b's checkpoint %d, want 70: every event must be marked dispatched", got)
	}
}
