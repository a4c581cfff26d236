package event

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A new occurrence moves the count, the last timestamp or the series; a
// resync or an update that only touches metadata does not.
func TestOccurrenceOf(t *testing.T) {
	t0 := metav1.NewTime(time.Unix(1000, 0))
	t1 := metav1.NewTime(time.Unix(1010, 0))
	base := corev1.Event{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "1"}, Count: 1, LastTimestamp: t0}
	for _, tc := range []struct {
		name string
		mod  func(*corev1.Event)
		want bool
	}{
		{"resync: same resourceVersion", func(e *corev1.Event) {}, false},
		{"metadata-only update", func(e *corev1.Event) { e.ResourceVersion = "2"; e.Labels = map[string]string{"a": "b"} }, false},
		{"count bumped", func(e *corev1.Event) { e.ResourceVersion = "2"; e.Count = 2 }, true},
		{"lastTimestamp moved", func(e *corev1.Event) { e.ResourceVersion = "2"; e.LastTimestamp = t1 }, true},
		{"series appeared", func(e *corev1.Event) {
			e.ResourceVersion = "2"
			e.Series = &corev1.EventSeries{Count: 2, LastObservedTime: metav1.NewMicroTime(t1.Time)}
		}, true},
	} {
		cur := *base.DeepCopy()
		tc.mod(&cur)
		if got := OccurrenceOf(&base) != OccurrenceOf(&cur); got != tc.want {
			t.Errorf("%s: %v", tc.name, got)
		}
	}
	// series.count moving on an events.k8s.io/v1 event
	a := corev1.Event{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "1"}, Series: &corev1.EventSeries{Count: 2}}
	b := *a.DeepCopy()
	b.ResourceVersion, b.Series.Count = "2", 3
	if OccurrenceOf(&a) == OccurrenceOf(&b) {
		t.Error("series.count change missed")
	}
}

func TestEventShapes(t *testing.T) {
	et := metav1.NewMicroTime(time.Unix(2000, 0))
	obs := metav1.NewMicroTime(time.Unix(2100, 0))
	ev := &corev1.Event{EventTime: et, Series: &corev1.EventSeries{Count: 4, LastObservedTime: obs}}
	if EventCount(ev) != 4 || !LastOccurrence(ev).Equal(obs.Time) {
		t.Errorf("series shape: count %d last %v", EventCount(ev), LastOccurrence(ev))
	}
	e := NewEnhancedEvent(ev, "")
	if e.GetTimestampMs() != 2000_000 || e.GetTimestampISO8601() != "1970-01-01T00:33:20.000Z" {
		t.Errorf("timestamps from eventTime: %d %s", e.GetTimestampMs(), e.GetTimestampISO8601())
	}
	if EventCount(&corev1.Event{}) != 1 {
		t.Error("count defaults to 1")
	}
}

// Field resolves route field names, labels.KEY and annotations.KEY;
// workload falls back to the object itself.
func TestField(t *testing.T) {
	ev := &EnhancedEvent{}
	ev.Reason = "BackOff"
	ev.InvolvedObject.Kind, ev.InvolvedObject.Name = "Pod", "api-1"
	ev.InvolvedObject.Labels = map[string]string{"owner": "team-a"}
	for name, want := range map[string]string{"reason": "BackOff", "labels.owner": "team-a", "labels.none": "", "workload": "Pod/api-1"} {
		get, ok := Field(name)
		if !ok || get(ev) != want {
			t.Errorf("%s: ok=%v, want %q", name, ok, want)
		}
	}
	ev.InvolvedObject.Workload = &WorkloadReference{Kind: "Deployment", Name: "api"}
	if get, _ := Field("workload"); get(ev) != "Deployment/api" {
		t.Errorf("workload %q", get(ev))
	}
	for _, bad := range []string{"labels.", "Reason", "count"} {
		if _, ok := Field(bad); ok {
			t.Errorf("%q resolved", bad)
		}
	}
}
