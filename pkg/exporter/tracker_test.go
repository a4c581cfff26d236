package exporter

import (
	"reflect"
	"testing"
	"time"

	"github.com/eventide/eventide/pkg/kube"
	"github.com/eventide/eventide/pkg/kube/event"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func rvEvent(ns, rv string) *event.EnhancedEvent {
	e := testEvent()
	e.Namespace, e.ResourceVersion = ns, rv
	return e
}

func TestCheckpointIsOldestPendingMinusOne(t *testing.T) {
	tr := NewTracker([]string{"a", "b"}, false, nil)
	e10, e11, e12 := rvEvent("a", "10"), rvEvent("b", "11"), rvEvent("a", "12")
	for _, e := range []*event.EnhancedEvent{e10, e11, e12} {
		tr.Add("a", e)
		tr.Received(e)
		tr.Routed(e)
	}
	tr.Add("b", e11) // receiver 1 only gets e11
	tr.Done("a", e11)
	tr.Done("b", e11)
	want := kube.Checkpoints{"a": {StreamAll: 9}, "b": {StreamAll: 12}}
	if got := tr.Checkpoints(); !reflect.DeepEqual(got, want) {
		t.Errorf("checkpoints %v, want %v (a still has 10 pending; b has nothing)", got, want)
	}
	tr.Done("a", e10)
	if got := tr.Checkpoints()["a"][StreamAll]; got != 11 {
		t.Errorf("after 10 is done: %d, want 11 (12 still pending)", got)
	}
	tr.Done("a", e12)
	if got := tr.Checkpoints()["a"][StreamAll]; got != 12 || tr.Pending("a") != 0 {
		t.Errorf("all done: %d, pending %d", got, tr.Pending("a"))
	}
}

func TestCheckpointPerStreamAndRestored(t *testing.T) {
	restored := kube.Checkpoints{"a": {"quiet": 5, "busy": 7}, "removed": {"busy": 3}}
	tr := NewTracker([]string{"a"}, true, restored)
	e := rvEvent("busy", "20")
	tr.Add("a", e)
	tr.Received(e)
	tr.Routed(e)
	want := map[string]uint64{"quiet": 5, "busy": 19}
	if got := tr.Checkpoints()["a"]; !reflect.DeepEqual(got, want) {
		t.Errorf("%v, want %v: a quiet stream keeps its restored checkpoint", got, want)
	}
	if cp, ok := tr.Restored("a", rvEvent("quiet", "1")); !ok || cp != 5 {
		t.Errorf("restored %d %v", cp, ok)
	}
	// An RV that is not a number is not tracked.
	tr.Add("a", rvEvent("busy", "abc"))
	if tr.Pending("a") != 1 {
		t.Errorf("pending %d", tr.Pending("a"))
	}
}

func TestPipelineSkipRules(t *testing.T) {
	restored := kube.Checkpoints{"a": {StreamAll: 100}}
	p := &Pipeline{tracker: NewTracker([]string{"a", "b"}, false, restored), maxAge: time.Minute,
		now: func() time.Time { return time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC) }}
	old := func(rv string, initial bool) *event.EnhancedEvent {
		e := rvEvent("ns", rv)
		e.LastTimestamp = metav1.NewTime(time.Date(2026, 1, 1, 11, 0, 0, 0, time.UTC)) // an hour before "now"
		e.InitialList = initial
		return e
	}
	for _, tc := range []struct {
		name     string
		receiver string
		ev       *event.EnhancedEvent
		want     string
	}{
		{"at the checkpoint: delivered before", "a", old("100", true), DiscardDelivered},
		{"above the checkpoint, old: happened while down", "a", old("101", true), ""},
		{"no checkpoint, listed at start, old", "b", old("101", true), DiscardBeforeStart},
		{"no checkpoint, seen happen", "b", old("101", false), ""},
		{"RV not a number: age rule even with a checkpoint", "a", old("x7", true), DiscardBeforeStart},
	} {
		if got := p.skip(tc.receiver, tc.ev); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// An event the watch handed on but the pipeline has not routed yet (it
// waits for a lookup) holds every checkpoint back, though a later event was
// routed and delivered: a crash then sends it after the restart instead of
// skipping it.
func TestCheckpointHeldByUnroutedEvent(t *testing.T) {
	tr := NewTracker([]string{"a"}, false, nil)
	parked, later := rvEvent("ns", "10"), rvEvent("ns", "11")
	tr.Received(parked)
	tr.Received(later)
	tr.Add("a", later)
	tr.Routed(later)
	tr.Done("a", later)
	if got := tr.Checkpoints()["a"][StreamAll]; got != 9 {
		t.Fatalf("checkpoint %d while RV 10 waits to be routed, want 9", got)
	}
	tr.Add("a", parked)
	tr.Routed(parked)
	tr.Done("a", parked)
	if got := tr.Checkpoints()["a"][StreamAll]; got != 11 {
		t.Errorf("checkpoint %d once both are delivered, want 11", got)
	}
}
