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

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/pkg/kube/event"
)

var podsGVR = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

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

// newFakeCache is a started MetadataCache on a fake metadata client holding
// objs, with a REST mapper that knows pods, replicasets and deployments.
// results counts the answers by result.
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
	c := newMetadataCache(ctx, client, client, mapper, zerolog.Nop(), MetadataCacheOptions{
		SyncTimeout: 30 * time.Second, LookupGrace: time.Second, NegativeTTL: time.Hour, MaxDeleted: 16,
		TombstoneMaxAge: time.Hour, OnLookup: func(r string) { results[r]++ }})
	c.Start(ctx)
	return c, client, results
}

func podEvent(name, uid string) *event.EnhancedEvent {
	return event.NewEnhancedEvent(&corev1.Event{InvolvedObject: corev1.ObjectReference{
		APIVersion: "v1", Kind: "Pod", Namespace: "shop", Name: name, UID: types.UID(uid)}}, "")
}

// resolve does what the pipeline does for one event that has waited
// waited: it asks the caches until they answer, fetching when told to.
func resolve(t *testing.T, c *MetadataCache, ev *event.EnhancedEvent, waited time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := testenv.PollUntil(ctx, 5*time.Millisecond, func() bool {
		m, a := c.Cached(&ev.InvolvedObject, waited)
		if a == NeedFetch {
			m, a = c.Fetch(ctx, &ev.InvolvedObject)
		}
		if a == Known {
			m.Apply(&ev.InvolvedObject)
		}
		return a == Known
	})
	if err != nil {
		t.Fatal(err)
	}
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
	resolve(t, c, ev, 0)
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
	resolve(t, c, ev, time.Hour)
	if !ev.InvolvedObject.Deleted || ev.InvolvedObject.Labels != nil {
		t.Errorf("involved object %+v: want deleted, without the new pod's labels", ev.InvolvedObject)
	}
}

// An object a synced, watching informer has not shown within the grace is
// gone: no GET is made, and the answer is remembered, so the next event
// about it does not wait.
func TestEnrichAbsentAfterGraceWithoutRequest(t *testing.T) {
	c, client, results := newFakeCache(t, partial("v1", "Pod", "other", "o-1", nil))
	ev := podEvent("gone", "g-1")
	if _, a := c.Cached(&ev.InvolvedObject, 0); a != Wait {
		t.Fatalf("within the grace: answer %v, want Wait", a)
	}
	resolve(t, c, ev, time.Second)
	next := podEvent("gone", "g-1")
	if _, a := c.Cached(&next.InvolvedObject, 0); a != Known {
		t.Fatalf("second event: answer %v, want Known at once", a)
	}
	if !ev.InvolvedObject.Deleted || gets(client) != 0 || results["deleted"] != 2 {
		t.Errorf("deleted %v, %d GETs, lookups %v: want deleted twice, no GET", ev.InvolvedObject.Deleted, gets(client), results)
	}
}

// A deleted object's metadata is kept: a later event about it gets its
// labels, owners and workload, marked deleted, with no request.
func TestEnrichDeletedObjectFromTombstone(t *testing.T) {
	deploy := partial("apps/v1", "Deployment", "web", "d-1", nil)
	rs := partial("apps/v1", "ReplicaSet", "web-7f9", "rs-1", deploy)
	pod := partial("v1", "Pod", "web-7f9-x2", "p-1", rs)
	c, client, results := newFakeCache(t, deploy, rs, pod)
	if err := client.Resource(podsGVR).Namespace("shop").Delete(context.Background(), pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := testenv.PollUntil(ctx, 5*time.Millisecond, func() bool { return c.tombs.len() == 1 }); err != nil {
		t.Fatal("no tombstone:", err)
	}
	ev := podEvent("web-7f9-x2", "p-1")
	resolve(t, c, ev, time.Hour)
	ref := ev.InvolvedObject
	if !ref.Deleted || ref.Labels["owner"] != "payments" || ref.Workload == nil || ref.Workload.Name != "web" {
		t.Errorf("involved object %+v: want deleted, with its labels and workload", ref)
	}
	if results["tombstone"] != 1 || gets(client) != 0 {
		t.Errorf("lookups %v, %d GETs: want a tombstone answer and no GET", results, gets(client))
	}
}

// When the informer cannot be trusted (its watch is failing), a miss is
// confirmed by one GET, then remembered.
func TestEnrichFetchWhenWatchFailing(t *testing.T) {
	c, client, results := newFakeCache(t, partial("v1", "Pod", "other", "o-1", nil))
	c.informerFor(podsGVR, "").failing.Store(true)
	for i := 0; i < 3; i++ {
		ev := podEvent("gone", "g-1")
		resolve(t, c, ev, 0)
		if !ev.InvolvedObject.Deleted {
			t.Fatalf("event %d: not marked deleted", i)
		}
	}
	if n := gets(client); n != 1 || results["deleted"] != 3 {
		t.Errorf("%d GETs, lookups %v: want one GET and three deleted", n, results)
	}
}

// A kind the cache has not seen is learned through Fetch (discovery), not
// on the caller's goroutine; a kind the API server does not serve is
// answered unknown_kind.
func TestEnrichUnknownKind(t *testing.T) {
	c, _, results := newFakeCache(t)
	ev := event.NewEnhancedEvent(&corev1.Event{InvolvedObject: corev1.ObjectReference{
		APIVersion: "example.com/v1", Kind: "Widget", Namespace: "shop", Name: "w"}}, "")
	if _, a := c.Cached(&ev.InvolvedObject, 0); a != NeedFetch {
		t.Fatalf("unseen kind: answer %v, want NeedFetch", a)
	}
	resolve(t, c, ev, 0)
	if results["unknown_kind"] != 1 {
		t.Errorf("lookups %v: want unknown_kind", results)
	}
}

var replicaSetsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}

// The workload above a controller is remembered: once found, a change of
// the ReplicaSet's owner shows only after workloadMemoTTL (see the
// workloadMemo test), and the chain is not walked again per event.
func TestEnrichRemembersWorkloadAboveController(t *testing.T) {
	deploy := partial("apps/v1", "Deployment", "web", "d-1", nil)
	other := partial("apps/v1", "Deployment", "web-v2", "d-2", nil)
	rs := partial("apps/v1", "ReplicaSet", "web-7f9", "rs-1", deploy)
	pod := partial("v1", "Pod", "web-7f9-x2", "p-1", rs)
	c, client, _ := newFakeCache(t, deploy, other, rs, pod)
	first := podEvent("web-7f9-x2", "p-1")
	resolve(t, c, first, 0)
	if w := first.InvolvedObject.Workload; w == nil || w.Name != "web" {
		t.Fatalf("workload %+v, want web", w)
	}
	adopted := partial("apps/v1", "ReplicaSet", "web-7f9", "rs-1", other)
	if err := client.Tracker().Update(replicaSetsGVR, adopted, "shop"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	k := objectKey{gvr: replicaSetsGVR, namespace: "shop", name: "web-7f9"}
	if err := testenv.PollUntil(ctx, 5*time.Millisecond, func() bool {
		o := c.informerFor(replicaSetsGVR, c.scope("shop")).get(k)
		return o != nil && metav1.GetControllerOfNoCopy(o).Name == "web-v2"
	}); err != nil {
		t.Fatal("the informer never saw the new owner:", err)
	}
	second := podEvent("web-7f9-x2", "p-1")
	resolve(t, c, second, 0)
	if w := second.InvolvedObject.Workload; w == nil || w.Name != "web" {
		t.Errorf("workload %+v, want the remembered web", w)
	}
}

// A chain cut short by an owner no cache holds yet is not remembered: the
// next event finds the whole chain once the owner shows up.
func TestEnrichDoesNotRememberAnIncompleteChain(t *testing.T) {
	deploy := partial("apps/v1", "Deployment", "web", "d-1", nil)
	rs := partial("apps/v1", "ReplicaSet", "web-7f9", "rs-1", deploy)
	pod := partial("v1", "Pod", "web-7f9-x2", "p-1", rs)
	c, client, _ := newFakeCache(t, deploy, pod)
	first := podEvent("web-7f9-x2", "p-1")
	resolve(t, c, first, 0)
	if w := first.InvolvedObject.Workload; w == nil || w.Kind != "ReplicaSet" {
		t.Fatalf("workload %+v, want the ReplicaSet, the top the caches know", w)
	}
	if err := client.Tracker().Add(rs); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := testenv.PollUntil(ctx, 5*time.Millisecond, func() bool {
		ev := podEvent("web-7f9-x2", "p-1")
		resolve(t, c, ev, 0)
		return ev.InvolvedObject.Workload != nil && ev.InvolvedObject.Workload.Name == "web"
	}); err != nil {
		t.Fatal("the Deployment never showed once the ReplicaSet did:", err)
	}
}

func TestWorkloadMemoBounds(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	m := newWorkloadMemo(2, time.Minute)
	web := &event.WorkloadReference{Kind: "Deployment", Name: "web"}
	m.put("rs-1", web, now)
	if got, ok := m.get("rs-1", now.Add(59*time.Second)); !ok || got != web {
		t.Errorf("within the TTL: %v %v", got, ok)
	}
	if _, ok := m.get("rs-1", now.Add(time.Minute)); ok {
		t.Error("kept past its TTL")
	}
	m.put("rs-2", web, now)
	m.put("rs-3", web, now) // full: starts afresh
	if _, ok := m.get("rs-1", now); ok || len(m.entries) != 1 {
		t.Errorf("over its bound: %d entries", len(m.entries))
	}
}
