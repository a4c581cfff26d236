package kube

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
)

// kindInformer is the metadata-only informer of one kind in one namespace
// scope, with what Cached needs to know about it: synced, forbidden, or
// failing to watch.
type kindInformer struct {
	informer cache.SharedIndexInformer
	started  time.Time
	stop     context.CancelFunc
	done     chan struct{} // closed once synced or denied
	doneOnce sync.Once
	denied   atomic.Bool
	failing  atomic.Bool // the last list or watch call failed
}

type informerState int

const (
	informerOK       informerState = iota // synced, watching
	informerFailing                       // synced, but its last list or watch failed
	informerSyncing                       // first list not done, within SyncTimeout
	informerUnsynced                      // first list not done after SyncTimeout
	informerDenied                        // RBAC forbids listing the kind
)

func (ki *kindInformer) state(now time.Time, syncTimeout time.Duration) informerState {
	switch {
	case ki.denied.Load():
		return informerDenied
	case !ki.informer.HasSynced() && now.Sub(ki.started) < syncTimeout:
		return informerSyncing
	case !ki.informer.HasSynced():
		return informerUnsynced
	case ki.failing.Load():
		return informerFailing
	}
	return informerOK
}

// get returns the cached object k, or nil.
func (ki *kindInformer) get(k objectKey) *storedObject {
	key := k.name
	if k.namespace != "" {
		key = k.namespace + "/" + k.name
	}
	item, ok, _ := ki.informer.GetIndexer().GetByKey(key)
	if !ok {
		return nil
	}
	o, _ := item.(*storedObject)
	return o
}

// observe takes the outcome of one list or watch call.
func (ki *kindInformer) observe(c *MetadataCache, gvr schema.GroupVersionResource, err error) {
	switch {
	case err == nil:
		ki.failing.Store(false)
	case errors.Is(err, context.Canceled):
	case apierrors.IsForbidden(err):
		ki.denied.Store(true)
		ki.doneOnce.Do(func() { close(ki.done) })
		go c.markDenied(gvr, err)
	default:
		ki.failing.Store(true)
	}
}

// informerFor returns the informer of gvr in namespace scope, starting it
// on first use; it does not wait for it to sync.
func (c *MetadataCache) informerFor(gvr schema.GroupVersionResource, namespace string) *kindInformer {
	key := informerKey{gvr: gvr, namespace: namespace}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ki, ok := c.informers[key]; ok {
		return ki
	}
	ki := c.startInformer(key)
	c.informers[key] = ki
	return ki
}

func (c *MetadataCache) startInformer(key informerKey) *kindInformer {
	ctx, cancel := context.WithCancel(c.ctx)
	ki := &kindInformer{started: c.now(), stop: cancel, done: make(chan struct{})}
	var ri metadata.ResourceInterface = c.client.Resource(key.gvr)
	if key.namespace != "" {
		ri = c.client.Resource(key.gvr).Namespace(key.namespace)
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			l, err := ri.List(ctx, o)
			ki.observe(c, key.gvr, err)
			return l, err
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			w, err := ri.Watch(ctx, o)
			ki.observe(c, key.gvr, err)
			return w, err
		},
	}
	indexers := cache.Indexers{}
	if c.services != nil && key.gvr == podGVR {
		indexers[cache.NamespaceIndex] = cache.MetaNamespaceIndexFunc // a workload's pods, for its Services
	}
	ki.informer = cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(lw, c.client), &metav1.PartialObjectMetadata{}, 0, indexers)
	keep := c.keepAnnotations
	if key.gvr.Resource == "namespaces" && key.gvr.Group == "" {
		keep = nil // silences and inhibit rules read namespace annotations
	}
	_ = ki.informer.SetTransform(func(obj any) (any, error) { return toStoredObject(obj, keep) })
	_, _ = ki.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if o, ok := obj.(*storedObject); ok {
				c.tombs.put(objectKey{gvr: key.gvr, namespace: o.namespace, name: o.name}, o)
			}
		},
	})
	go ki.informer.RunWithContext(ctx)
	go func() {
		if cache.WaitForCacheSync(ctx.Done(), ki.informer.HasSynced) {
			ki.doneOnce.Do(func() { close(ki.done) })
		}
	}()
	c.log.Debug().Str("resource", key.gvr.String()).Str("namespace", key.namespace).Msg("started metadata informer")
	return ki
}
