// Package testevent builds the enriched events unit tests route, queue and
// render. It is a leaf: a unit test that imports it links no control plane
// helper and no sink server.
package testevent

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eventide/eventide/pkg/kube/event"
)

// Pod is a Warning BackOff event about pod web-1 in shop (count 3, from
// the kubelet on node-7), labelled owner=payments, version=dev, annotated
// pager=on, owned by Deployment web; each mod then changes it.
func Pod(mod ...func(*event.EnhancedEvent)) *event.EnhancedEvent {
	ev := event.NewEnhancedEvent(&corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "web-1.abc", Namespace: "shop"},
		InvolvedObject: corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Name: "web-1", Namespace: "shop"},
		Reason:         "BackOff", Message: "Back-off restarting failed container", Type: "Warning",
		Source: corev1.EventSource{Component: "kubelet", Host: "node-7"},
		Count:  3,
	}, "c1")
	ev.InvolvedObject.Labels = map[string]string{"owner": "payments", "version": "dev"}
	ev.InvolvedObject.Annotations = map[string]string{"pager": "on"}
	ev.InvolvedObject.Workload = &event.WorkloadReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}
	for _, m := range mod {
		m(ev)
	}
	return ev
}

// Named is Pod named name.
func Named(name string) *event.EnhancedEvent {
	return Pod(func(e *event.EnhancedEvent) { e.Name = name })
}
