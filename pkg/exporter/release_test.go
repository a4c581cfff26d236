package exporter

import (
	"context"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/eventide/eventide/internal/testenv/testevent"
	"github.com/eventide/eventide/pkg/exporter/config"
	"github.com/eventide/eventide/pkg/exporter/route"
	"github.com/eventide/eventide/pkg/kube/event"
)

// rvNamed is an event with name and resourceVersion rv.
func rvNamed(rv int) *event.EnhancedEvent {
	e := testevent.Named(fmt.Sprint(rv))
	e.ResourceVersion = fmt.Sprint(rv)
	return e
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
	tree := mustTree(t, route.Config{Routes: []route.Config{
		{Match: []route.Rule{{Reason: "^Both$", Receiver: "a"}, {Reason: "^Both$", Receiver: "b"}}},
		{Match: []route.Rule{{Reason: "^OnlyA$", Receiver: "a"}}},
	}})
	m := NewMetrics(prometheus.NewRegistry(), "")
	tr := NewTracker(testReceivers, false, map[string]map[string]uint64{"a": {StreamAll: 100}})
	enq := &recordingEnqueuer{tr: tr}
	p := NewPipeline(&config.Loaded{Tree: tree}, enq, m, PipelineOptions{Tracker: tr})
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
