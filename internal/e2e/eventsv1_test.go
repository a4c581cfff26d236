package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/kubeenv"
)

// An event written through events.k8s.io/v1 (the scheduler's
// FailedScheduling, every client of the new API) counts in series.count
// and leaves count at 0; .Count in a layout is the effective count: 1 when
// created, 5 once its series says 5.
func TestEventsV1CountReachesTemplates(t *testing.T) {
	ns := "e2e-eventsv1"
	w := setupNamespace(t, ns)
	rec := testenv.NewRecorder()
	defer rec.Close()
	startEventide(t, kubeenv.HookConfig(ns, rec.URL, `        count: !int "{{ .Count }}"
        getcount: !int "{{ .GetCount }}"
`, ""))
	ctx := context.Background()
	pod := w.Pods[0]
	ev := &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: "v1-series", Namespace: ns},
		EventTime:  metav1.NewMicroTime(time.Now()), ReportingController: "default-scheduler", ReportingInstance: "scheduler-1",
		Action: "Scheduling", Reason: "FailedScheduling", Type: corev1.EventTypeWarning,
		Note:      "0/3 nodes are available: 3 Insufficient memory.",
		Regarding: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: pod.Name, UID: pod.UID, APIVersion: "v1"},
	}
	created, err := cluster.CS.EventsV1().Events(ns).Create(ctx, ev, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Series = &eventsv1.EventSeries{Count: 5, LastObservedTime: metav1.NewMicroTime(time.Now())}
	if _, err := cluster.CS.EventsV1().Events(ns).Update(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	type body struct{ Count, GetCount int }
	reqs, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return len(r) >= 2 })
	if err != nil {
		t.Fatalf("%d deliveries, want 2: %v", len(rec.Requests()), err)
	}
	for i, want := range []int{1, 5} {
		var b body
		if err := json.Unmarshal(reqs[i].Body, &b); err != nil {
			t.Fatal(err)
		}
		if b.Count != want || b.GetCount != want {
			t.Errorf("delivery %d: count %d, getcount %d; want both %d", i+1, b.Count, b.GetCount, want)
		}
	}
}
