package kube

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	metadatafake "k8s.io/client-go/metadata/fake"

	"github.com/eventide/eventide/pkg/kube/event"
)

func partial(apiVersion, kind, name, uid string, owner *metav1.PartialObjectMetadata) *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: apiVersion, Kind: kind},
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, UID: types.UID(uid), Labels: map[string]string{"owner": "payments"}},
	}
	if owner != nil {
		m.OwnerReferences = []metav1.OwnerReference{{APIVersion: owner.APIVersion, Kind: owner.Kind,
			Name: owner.Name, UID: owner.UID, Controller: func() *bool { b := true; return &b }()}}
	}
	return m
}

// newFakeCache is a MetadataCache on a fake metadata client holding objs,
// with a REST mapper that knows pods, replicasets and deployments. results
// counts the lookups by result.
func newFakeCache(t *testing.T, objs ...runtime.Object) (*MetadataCache, *metadatafake.FakeMetadataClient, map[string]int) {
	t.Helper()
	scheme := metadatafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	client := metadatafake.NewSimpleMetadataClient(scheme, objs...)
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, meta.RESTScopeNamespace)
	mapper.Add(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "ReplicaSet"}, meta.RESTScopeNamespace)
	mapper.Add(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, meta.RESTScopeNamespace)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	results := map[string]int{}
	c := &MetadataCache{
		opts: MetadataCacheOptions{SyncTimeout: 30 * time.Second, NegativeTTL: time.Hour, MaxMissing: 16,
			OnLookup: func(r string) { results[r]++ }},
		client: client, mapper: mapper, log: zerolog.Nop(), ctx: ctx,
		informers: map[informerKey]*kindInformer{}, mappings: map[schema.GroupVersionKind]mappingResult{},
		missing: map[objectKey]time.Time{}, denied: map[schema.GroupVersionResource]time.Time{}, now: time.Now,
	}
	return c, client, results
}

func podEvent(name, uid string) *event.EnhancedEvent {
	return event.NewEnhancedEvent(&corev1.Event{InvolvedObject: corev1.ObjectReference{
		APIVersion: "v1", Kind: "Pod", Namespace: "shop", Name: name, UID: types.UID(uid)}}, "")
}

func gets(client *metadatafake.FakeMetadataClient) int {
	n := 0
	for _, a := range client.Actions() {
		if a.GetVerb() == "get" {
			n++
		}
	}
	return n
}

// The workload chain Pod -> ReplicaSet -> Deployment is followed from the
// caches to the Deployment.
func TestEnrichFollowsWorkloadChain(t *testing.T) {
	deploy := partial("apps/v1", "Deployment", "web", "d-1", nil)
	rs := partial("apps/v1", "ReplicaSet", "web-7f9", "rs-1", deploy)
	pod := partial("v1", "Pod", "web-7f9-x2", "p-1", rs)
	c, client, results := newFakeCache(t, deploy, rs, pod)
	ev := podEvent("web-7f9-x2", "p-1")
	c.Enrich(context.Background(), ev)
	w := ev.InvolvedObject.Workload
	if w == nil || w.Kind != "Deployment" || w.Name != "web" || w.UID != "d-1" {
		t.Fatalf("workload %+v, want the Deployment web", w)
	}
	if ev.InvolvedObject.Labels["owner"] != "payments" || ev.InvolvedObject.Deleted {
		t.Errorf("involved object %+v", ev.InvolvedObject)
	}
	if results["hit"] != 1 || gets(client) != 0 {
		t.Errorf("lookups %v, %d GETs: want a cache hit and no GET", results, gets(client))
	}
}

// A name that now belongs to a new object (another UID) means the object
// the event is about was deleted: it gets the deleted flag, not the new
// object's labels.
func TestEnrichNameReusedByNewUIDIsDeleted(t *testing.T) {
	c, _, _ := newFakeCache(t, partial("v1", "Pod", "web-0", "new-uid", nil))
	ev := podEvent("web-0", "old-uid")
	c.Enrich(context.Background(), ev)
	if !ev.InvolvedObject.Deleted || ev.InvolvedObject.Labels != nil {
		t.Errorf("involved object %+v: want deleted, without the new pod's labels", ev.InvolvedObject)
	}
}

// A miss is confirmed by one GET, then remembered: the next event about the
// same deleted object is answered from the negative cache, with no request.
func TestEnrichNegativeCache(t *testing.T) {
	c, client, results := newFakeCache(t, partial("v1", "Pod", "other", "o-1", nil))
	for i := 0; i < 3; i++ {
		ev := podEvent("gone", "g-1")
		c.Enrich(context.Background(), ev)
		if !ev.InvolvedObject.Deleted {
			t.Fatalf("event %d: not marked deleted", i)
		}
	}
	if n := gets(client); n != 1 || results["deleted"] != 3 {
		t.Errorf("%d GETs, lookups %v: want one GET and three deleted", n, results)
	}
}
