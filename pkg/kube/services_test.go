package kube

import (
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// A Service selects the pods whose labels hold its whole selector; one
// without a selector selects nothing; only the pod's namespace counts;
// the transform keeps name, namespace and selector only.
func TestServicesSelecting(t *testing.T) {
	inf := cache.NewSharedIndexInformer(&cache.ListWatch{}, &corev1.Service{}, 0, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	s := &serviceIndex{informers: map[string]cache.SharedIndexInformer{"": inf}}
	add := func(ns, name string, sel map[string]string) {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"big": "label"}},
			Spec: corev1.ServiceSpec{Selector: sel, Ports: []corev1.ServicePort{{Port: 80}}}}
		trimmed, _ := trimService(svc)
		if tr := trimmed.(*corev1.Service); tr.Labels != nil || tr.Spec.Ports != nil || tr.Spec.Selector == nil && sel != nil {
			t.Fatalf("transform kept %+v", tr)
		}
		if err := inf.GetIndexer().Add(trimmed); err != nil {
			t.Fatal(err)
		}
	}
	add("shop", "checkout", map[string]string{"app": "checkout"})
	add("shop", "web", map[string]string{"tier": "web", "app": "checkout"})
	add("shop", "api", map[string]string{"tier": "api"})
	add("shop", "external", nil)
	add("other", "checkout-elsewhere", map[string]string{"app": "checkout"})
	for _, tc := range []struct {
		labels map[string]string
		want   string
	}{
		{map[string]string{"app": "checkout", "tier": "web"}, "[checkout web]"},
		{map[string]string{"app": "checkout"}, "[checkout]"},
		{map[string]string{"app": "lonely"}, "[]"},
		{nil, "[]"},
	} {
		got := s.selecting(nil, "", "shop", tc.labels)
		if fmt.Sprint(slices.Sorted(slices.Values(got))) != tc.want {
			t.Errorf("labels %v: %v, want %s", tc.labels, got, tc.want)
		}
	}
}
