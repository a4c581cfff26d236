package kube

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/eventide/eventide/pkg/kube/event"
)

// heldEvent is an Event as kubelet writes one, with managed fields.
func heldEvent(i int) *corev1.Event {
	now := metav1.Now()
	return &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("checkout-7d9f8c6b5-x%04d.17a3c4e5f6a%05d", i%10000, i), Namespace: "shop",
			ResourceVersion: fmt.Sprint(1000000 + i), UID: "0f6c8a52-5f1e-4a53-9d0b-3f1f2f0e9c11", CreationTimestamp: now,
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubelet", Operation: "Update", APIVersion: "v1"}}},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "checkout-7d9f8c6b5-x2k4q",
			UID: "5b1f0a2e-8c3d-4e5f-9a6b-7c8d9e0f1a2b", APIVersion: "v1", ResourceVersion: "99812", FieldPath: "spec.containers{app}"},
		Reason: "BackOff", Message: "Back-off restarting failed container app in pod checkout-7d9f8c6b5-x2k4q_shop",
		Source: corev1.EventSource{Component: "kubelet", Host: "node-1"}, FirstTimestamp: now, LastTimestamp: now,
		Count: 1, Type: "Warning", ReportingController: "kubelet", ReportingInstance: "node-1",
	}
}

// runEventInformer runs the event watcher's informer (its transform and
// handlers) over a list of n events and returns it once every event was
// handed on.
func runEventInformer(ctx context.Context, b *testing.B, n int) cache.SharedIndexInformer {
	var handed atomic.Int64
	w := &EventWatcher{opts: WatcherOptions{OnEvent: func(*event.EnhancedEvent) { handed.Add(1) }}, log: zerolog.Nop()}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(context.Context, metav1.ListOptions) (kruntime.Object, error) {
			l := &corev1.EventList{ListMeta: metav1.ListMeta{ResourceVersion: "1"}}
			for i := range n {
				l.Items = append(l.Items, *heldEvent(i))
			}
			return l, nil
		},
		WatchFuncWithContext: func(context.Context, metav1.ListOptions) (watch.Interface, error) {
			return watch.NewFake(), nil
		},
	}
	inf := cache.NewSharedIndexInformerWithOptions(cache.ToListWatcherWithWatchListSemantics(lw, listOnly{}), &corev1.Event{}, cache.SharedIndexInformerOptions{})
	if err := inf.SetTransform(toStored); err != nil {
		b.Fatal(err)
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{AddFunc: w.onAdd, UpdateFunc: w.onUpdate}); err != nil {
		b.Fatal(err)
	}
	go inf.RunWithContext(ctx)
	for handed.Load() < int64(n) {
		runtime.Gosched()
	}
	return inf
}

// listOnly tells client-go that the benchmark's list-watch lists (no
// streaming watch-list).
type listOnly struct{}

func (listOnly) IsWatchListSemanticsUnSupported() bool { return true }

// BenchmarkEventStoreHeap reports the heap the event informer keeps per
// event it holds (heap-B/event), with 100 000 events listed: what grows
// with the events the API server holds.
func BenchmarkEventStoreHeap(b *testing.B) {
	const n = 100_000
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var kept []cache.SharedIndexInformer
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for b.Loop() {
		inf := runEventInformer(ctx, b, n)
		if got := len(inf.GetStore().ListKeys()); got != n {
			b.Fatalf("store holds %d events, want %d", got, n)
		}
		kept = append(kept, inf)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n*len(kept)), "heap-B/event")
	runtime.KeepAlive(kept)
}

// The store keeps no whole event once the handler has taken it.
func TestStoredEventDropsTheEvent(t *testing.T) {
	obj, err := toStored(heldEvent(1))
	if err != nil {
		t.Fatal(err)
	}
	s := obj.(*storedEvent)
	if ev := s.take(); ev == nil || ev.Reason != "BackOff" || ev.ManagedFields != nil {
		t.Fatalf("first take: %+v, want the event without managed fields", ev)
	}
	if s.take() != nil {
		t.Error("second take returned the event again: the store would keep it")
	}
	if again, _ := toStored(s); again != s {
		t.Error("a stored event was transformed again")
	}
}
