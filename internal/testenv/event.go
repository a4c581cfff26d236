package testenv

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/eventide/eventide/pkg/kube/event"
)

// SampleEvent is an enriched BackOff event of a pod owned by the payments
// team, the same every call: golden files are rendered from it.
func SampleEvent() *event.EnhancedEvent {
	ts := metav1.NewTime(time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC))
	ev := event.NewEnhancedEvent(&corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "web-1.17a", Namespace: "shop", UID: "ev-uid"},
		InvolvedObject: corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Name: "web-1", Namespace: "shop", UID: "pod-uid"},
		Reason:         "BackOff", Message: `Back-off restarting failed container "app" <x>`, Type: "Warning",
		Source: corev1.EventSource{Component: "kubelet", Host: "node-7"},
		Count:  3, FirstTimestamp: ts, LastTimestamp: ts,
	}, "prod-eu-1")
	ev.InvolvedObject.Labels = map[string]string{"owner": "payments", "app.kubernetes.io/name": "web"}
	ev.InvolvedObject.Workload = &event.WorkloadReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}
	return ev
}

// SampleEvents is n copies of SampleEvent with distinct names and UIDs.
func SampleEvents(n int) []*event.EnhancedEvent {
	var evs []*event.EnhancedEvent
	for i := 0; i < n; i++ {
		ev := SampleEvent()
		ev.Name = fmt.Sprintf("ev-%d", i)
		ev.UID = types.UID(fmt.Sprintf("%s-%d", ev.UID, i))
		evs = append(evs, ev)
	}
	return evs
}
