package kube

import (
	"context"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/eventide/eventide/pkg/kube/event"
)

// Services (enrich.services): an event about a Pod carries the Services
// whose selector matches the pod's cached labels; an event about a
// workload (Deployment, ReplicaSet, StatefulSet, DaemonSet) the union of
// those of its cached pods, found through their controller owners (pod
// template labels are not in the metadata caches). Selectors live in a
// Service's spec, which metadata informers do not carry, so a typed
// Service informer keeps them, trimmed by its transform to name,
// namespace and selector, indexed by namespace. A Service without a
// selector selects nothing. No request is made per event.

var podGVR = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

// workloadKinds are the kinds whose events get their pods' Services.
var workloadKinds = map[string]bool{"Deployment": true, "ReplicaSet": true, "StatefulSet": true, "DaemonSet": true}

// serviceIndex is the Service selectors of each watched namespace scope.
type serviceIndex struct {
	client corev1client.ServicesGetter

	mu        sync.Mutex
	informers map[string]cache.SharedIndexInformer // by scope ("" all namespaces)
	// gen counts Service changes; memo is the answer per pod (by UID, as
	// of its resourceVersion and a generation), so events about the same
	// pod do not match every selector again.
	gen  uint64
	memo map[types.UID]servicesMemo
}

type servicesMemo struct {
	gen             uint64
	resourceVersion string
	names           []string
}

// maxServicesMemo bounds the memo; past it, it starts afresh.
const maxServicesMemo = 10000

// remembered is pod's answer if neither it nor any Service changed since.
func (s *serviceIndex) remembered(pod *storedObject) ([]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.memo[pod.uid]
	return m.names, ok && m.gen == s.gen && m.resourceVersion == pod.resourceVersion
}

func (s *serviceIndex) remember(pod *storedObject, gen uint64, names []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.memo) >= maxServicesMemo {
		clear(s.memo)
	}
	s.memo[pod.uid] = servicesMemo{gen: gen, resourceVersion: pod.resourceVersion, names: names}
}

// generation is the current count of Service changes.
func (s *serviceIndex) generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

func (s *serviceIndex) changed() {
	s.mu.Lock()
	s.gen++
	s.mu.Unlock()
}

// start runs the informer of scope (a namespace, or "" for all) until
// ctx ends, once.
func (s *serviceIndex) start(ctx context.Context, scope string) cache.SharedIndexInformer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if inf, ok := s.informers[scope]; ok {
		return inf
	}
	svc := s.client.Services(scope)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return svc.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return svc.Watch(ctx, o)
		},
	}
	inf := cache.NewSharedIndexInformer(lw, &corev1.Service{}, 0, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	_ = inf.SetTransform(trimService)
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { s.changed() },
		UpdateFunc: func(any, any) { s.changed() },
		DeleteFunc: func(any) { s.changed() },
	})
	s.informers[scope] = inf
	go inf.RunWithContext(ctx)
	return inf
}

// trimService keeps what selecting needs: name, namespace, selector.
func trimService(obj any) (any, error) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return obj, nil
	}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace, ResourceVersion: svc.ResourceVersion},
		Spec:       corev1.ServiceSpec{Selector: svc.Spec.Selector},
	}, nil
}

// synced says whether scope's informer has listed.
func (s *serviceIndex) synced(scope string) bool {
	s.mu.Lock()
	inf, ok := s.informers[scope]
	s.mu.Unlock()
	return ok && inf.HasSynced()
}

// selecting appends to dst the names of the Services in namespace whose
// selector matches labels.
func (s *serviceIndex) selecting(dst []string, scope, namespace string, labels map[string]string) []string {
	s.mu.Lock()
	inf, ok := s.informers[scope]
	s.mu.Unlock()
	if !ok || len(labels) == 0 {
		return dst
	}
	items, _ := inf.GetIndexer().ByIndex(cache.NamespaceIndex, namespace)
	for _, item := range items {
		svc, ok := item.(*corev1.Service)
		if ok && selects(svc.Spec.Selector, labels) && !slices.Contains(dst, svc.Name) {
			dst = append(dst, svc.Name)
		}
	}
	return dst
}

// selects: a non-empty selector whose every pair the labels have.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if l, ok := labels[k]; !ok || l != v {
			return false
		}
	}
	return true
}

// servicesOf is the Services of obj, an object of kind in namespace:
// sorted, nil when none or when enrich.services is off.
func (c *MetadataCache) servicesOf(kind string, obj *storedObject, namespace string) []string {
	if c.services == nil || obj == nil || namespace == "" {
		return nil
	}
	scope := c.scope(namespace)
	var names []string
	switch {
	case kind == "Pod":
		if names, ok := c.services.remembered(obj); ok {
			return names
		}
		gen := c.services.generation()
		names = c.services.selecting(nil, scope, namespace, obj.Labels())
		slices.Sort(names)
		c.services.remember(obj, gen, names)
		return names
	case workloadKinds[kind]: // its pods change without it: not remembered
		for _, pod := range c.podsOf(kind, obj, namespace) {
			names = c.services.selecting(names, scope, namespace, pod.Labels())
		}
	}
	slices.Sort(names)
	return names
}

// podsOf is the cached pods whose controller is obj (a ReplicaSet's, a
// StatefulSet's) or whose workload is (a Deployment's, through its
// ReplicaSets).
func (c *MetadataCache) podsOf(kind string, obj *storedObject, namespace string) []*storedObject {
	items, _ := c.informerFor(podGVR, c.scope(namespace)).informer.GetIndexer().ByIndex(cache.NamespaceIndex, namespace)
	var pods []*storedObject
	for _, item := range items {
		pod, ok := item.(*storedObject)
		if !ok {
			continue
		}
		if owner := metav1.GetControllerOfNoCopy(pod); owner != nil && owner.UID == obj.uid {
			pods = append(pods, pod)
			continue
		}
		if w := c.workload(pod, namespace); w != nil && w.Kind == kind && w.UID == string(obj.uid) {
			pods = append(pods, pod)
		}
	}
	return pods
}

// servicesWait says an event about ref must wait for the Service
// informer's first list (for at most SyncTimeout after it started).
func (c *MetadataCache) servicesWait(ref *event.EnhancedObjectReference) bool {
	if c.services == nil || ref.Namespace == "" || (ref.Kind != "Pod" && !workloadKinds[ref.Kind]) {
		return false
	}
	return !c.services.synced(c.scope(ref.Namespace)) && c.now().Sub(c.servicesStarted) < c.opts.SyncTimeout
}
