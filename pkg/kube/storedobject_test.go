package kube

import (
	"fmt"
	"maps"
	"runtime"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// realisticPod is pod p of workload w in a cluster of many teams: the
// labels and annotations a Deployment's pods carry (shared by the pods of
// one ReplicaSet, but for the CNI's own), and a controller owner.
func realisticPod(w, p int) *metav1.PartialObjectMetadata {
	hash := fmt.Sprintf("%08x", w*2654435761%(1<<32))[:8]
	app := fmt.Sprintf("svc-%d", w)
	yes := true
	return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Name: fmt.Sprintf("%s-%s-%05d", app, hash, p), GenerateName: app + "-" + hash + "-", Namespace: fmt.Sprintf("team-%d", w%50),
		UID: types.UID(fmt.Sprintf("0c6f7a2e-%04x-4d3c-9b1a-%012x", w%65536, w*100000+p)), ResourceVersion: fmt.Sprint(1000000 + w*100 + p),
		CreationTimestamp: metav1.NewTime(time.Date(2026, 11, 30, 8, 0, p%60, 0, time.UTC)),
		Labels: map[string]string{"app": app, "pod-template-hash": hash, "app.kubernetes.io/name": app,
			"app.kubernetes.io/part-of": fmt.Sprint("product-", w%40), "team": fmt.Sprint("team-", w%50),
			"version": fmt.Sprint("v1.", w%7), "environment": "production"},
		Annotations: map[string]string{"kubectl.kubernetes.io/restartedAt": "2026-11-30T08:00:00Z",
			"prometheus.io/scrape": "true", "prometheus.io/port": "8080",
			"checksum/config":              fmt.Sprintf("%064x", w),
			"cni.projectcalico.org/podIP":  fmt.Sprintf("10.%d.%d.%d/32", w%256, p/256, p%256),
			"cni.projectcalico.org/podIPs": fmt.Sprintf("10.%d.%d.%d/32", w%256, p/256, p%256)},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: app + "-" + hash,
			UID: types.UID(fmt.Sprintf("5b1e0f3c-%04x-4a7e-8c2d-%012x", w%65536, w)), Controller: &yes, BlockOwnerDeletion: &yes}},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager", Operation: "Update", APIVersion: "v1",
			Time: &metav1.Time{Time: time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)}, FieldsType: "FieldsV1"}},
	}}
}

// The stored object keeps what enrichment reads, drops kubectl's
// last-applied copy, shares equal maps between objects, and with
// enrich.annotations keeps only the keys asked for.
func TestStoredObject(t *testing.T) {
	a, b := realisticPod(7, 1), realisticPod(7, 2)
	a.Annotations[lastApplied] = `{"kind":"Pod"}`
	sa := newStoredObject(a, nil)
	sb := newStoredObject(b, nil)
	if sa.name != a.Name || sa.namespace != a.Namespace || sa.uid != a.UID || sa.resourceVersion != a.ResourceVersion {
		t.Errorf("identity not kept: %+v", sa)
	}
	if !maps.Equal(sa.Labels(), a.Labels) || sa.labels != sb.labels {
		t.Errorf("labels %v, shared %v; want %v, shared between the pods of one ReplicaSet", sa.Labels(), sa.labels == sb.labels, a.Labels)
	}
	delete(a.Annotations, lastApplied)
	if !maps.Equal(sa.Annotations(), a.Annotations) {
		t.Errorf("annotations %v, want %v without last-applied-configuration", sa.Annotations(), a.Annotations)
	}
	if c := metav1.GetControllerOfNoCopy(sa); c == nil || c.Name != a.OwnerReferences[0].Name || c.UID != a.OwnerReferences[0].UID {
		t.Errorf("controller %+v", c)
	}
	kept := newStoredObject(a, keepAnnotations([]string{"prometheus.io/*", "checksum/config"}))
	if got := kept.Annotations(); len(got) != 3 || got["prometheus.io/port"] != "8080" || got["checksum/config"] == "" {
		t.Errorf("enrich.annotations kept %v", got)
	}
	if none := newStoredObject(a, keepAnnotations([]string{"absent"})); none.annotations != nil {
		t.Errorf("kept %v, want none", none.Annotations())
	}
}

var keepPrometheus = keepAnnotations([]string{"prometheus.io/*"})

// BenchmarkMetadataStore fills an informer's store with 100 000 pods of
// 2 000 workloads and reports the heap each pod costs: as the metadata
// informers kept them before (a trimmed PartialObjectMetadata), as they
// keep them now, and with enrich.annotations: [prometheus.io/*].
func BenchmarkMetadataStore(b *testing.B) {
	const workloads, perWorkload = 2000, 50
	for _, tc := range []struct {
		name  string
		store func(*metav1.PartialObjectMetadata) any
	}{
		{"partial", func(m *metav1.PartialObjectMetadata) any { m.ManagedFields = nil; return m }},
		{"stored", func(m *metav1.PartialObjectMetadata) any { o, _ := toStoredObject(m, nil); return o }},
		{"stored-annotations-filtered", func(m *metav1.PartialObjectMetadata) any {
			o, _ := toStoredObject(m, keepPrometheus)
			return o
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var perPod float64
			for b.Loop() {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				store := cache.NewIndexer(cache.DeletionHandlingMetaNamespaceKeyFunc, cache.Indexers{})
				for w := range workloads {
					for p := range perWorkload {
						if err := store.Add(tc.store(realisticPod(w, p))); err != nil {
							b.Fatal(err)
						}
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perPod = float64(after.HeapAlloc-before.HeapAlloc) / (workloads * perWorkload)
				runtime.KeepAlive(store)
			}
			b.ReportMetric(perPod, "bytes/pod")
		})
	}
}
