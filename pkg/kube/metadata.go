package kube

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/eventide/eventide/pkg/kube/event"

	"github.com/rs/zerolog"
	"golang.org/x/sync/singleflight"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
)

// MetadataCacheOptions tunes the metadata cache.
type MetadataCacheOptions struct {
	// Namespaces limits namespaced informers to these namespaces; empty
	// means all namespaces.
	Namespaces []string
	// SyncTimeout bounds how long the first lookup of a kind waits for its
	// informer to fill. Default 10s.
	SyncTimeout time.Duration
	// NegativeTTL is how long a kind the API server does not serve, an
	// object that is gone, or a kind we may not read is remembered before it
	// is asked about again. Default 5m.
	NegativeTTL time.Duration
	// MaxMissing bounds the remembered missing objects. Default 4096.
	MaxMissing int
	// OnLookup, when set, counts each lookup by result: hit, deleted,
	// fetched, denied, unknown_kind, error.
	OnLookup func(result string)
}

// MetadataCache answers "what are the labels, annotations and owners of this
// object" from metadata-only informers, started lazily the first time an
// event is about a kind (one LIST and one WATCH per kind and namespace scope,
// whatever the number of events). A miss in a synced cache is confirmed by one
// coalesced GET, remembered for NegativeTTL, so events about deleted objects
// do not turn into a request each.
type MetadataCache struct {
	opts   MetadataCacheOptions
	client metadata.Interface
	mapper meta.RESTMapper
	log    zerolog.Logger
	ctx    context.Context

	mu        sync.Mutex
	informers map[informerKey]*kindInformer
	mappings  map[schema.GroupVersionKind]mappingResult
	missing   map[objectKey]time.Time
	denied    map[schema.GroupVersionResource]time.Time

	flight singleflight.Group
	now    func() time.Time
}

type informerKey struct {
	gvr       schema.GroupVersionResource
	namespace string
}

type objectKey struct {
	gvr             schema.GroupVersionResource
	namespace, name string
}

type mappingResult struct {
	mapping *meta.RESTMapping
	err     error
	at      time.Time
}

type kindInformer struct {
	informer cache.SharedIndexInformer
	ready    chan struct{} // closed once synced
	denied   chan struct{} // closed when the API server forbids the list
	stop     context.CancelFunc
	once     sync.Once
	// waitUntil bounds waiting for the first sync: events about this kind
	// wait for it together, at most until SyncTimeout after the informer
	// started, and then go on unenriched until it has synced, rather than
	// each waiting the whole timeout.
	waitUntil time.Time
}

var (
	// errDenied marks a kind the exporter may not list or get.
	errDenied = errors.New("access denied")
	// errNotSynced marks an informer still filling after its wait ended.
	errNotSynced = errors.New("informer not synced yet")
)

// NewMetadataCache builds a cache on cfg. Informers run until ctx ends.
func NewMetadataCache(ctx context.Context, cfg *rest.Config, log zerolog.Logger, opts MetadataCacheOptions) (*MetadataCache, error) {
	if opts.SyncTimeout <= 0 {
		opts.SyncTimeout = 10 * time.Second
	}
	if opts.NegativeTTL <= 0 {
		opts.NegativeTTL = 5 * time.Minute
	}
	if opts.MaxMissing <= 0 {
		opts.MaxMissing = 4096
	}
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("metadata client: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("discovery client: %w", err)
	}
	return &MetadataCache{
		opts:      opts,
		client:    mc,
		mapper:    restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)),
		log:       log.With().Str("component", "metadata-cache").Logger(),
		ctx:       ctx,
		informers: map[informerKey]*kindInformer{},
		mappings:  map[schema.GroupVersionKind]mappingResult{},
		missing:   map[objectKey]time.Time{},
		denied:    map[schema.GroupVersionResource]time.Time{},
		now:       time.Now,
	}, nil
}

// Enrich fills ev.InvolvedObject's labels, annotations, owner references,
// workload and deleted flag. It never fails: what cannot be known is left
// empty, and the reason is counted through OnLookup.
func (c *MetadataCache) Enrich(ctx context.Context, ev *event.EnhancedEvent) {
	ref := &ev.InvolvedObject
	if ref.Kind == "" || ref.Name == "" {
		return
	}
	obj, result := c.lookup(ctx, ref.APIVersion, ref.Kind, ref.Namespace, ref.Name)
	c.count(result)
	switch {
	case obj == nil:
		if result == "deleted" {
			ref.Deleted = true
		}
		return
	case ref.UID != "" && obj.UID != ref.UID:
		// The name now belongs to a new object: the one the event is about is gone.
		ref.Deleted = true
		return
	}
	ref.Labels = obj.Labels
	ref.Annotations = obj.Annotations
	ref.OwnerReferences = obj.OwnerReferences
	ref.Workload = c.workload(ctx, obj, ref.Namespace)
}

// workload follows controller owner references up to the top one.
func (c *MetadataCache) workload(ctx context.Context, obj *metav1.PartialObjectMetadata, namespace string) *event.WorkloadReference {
	var top *event.WorkloadReference
	for depth := 0; depth < 8; depth++ {
		owner := metav1.GetControllerOfNoCopy(obj)
		if owner == nil {
			break
		}
		top = &event.WorkloadReference{APIVersion: owner.APIVersion, Kind: owner.Kind, Name: owner.Name, UID: string(owner.UID)}
		next, _ := c.lookup(ctx, owner.APIVersion, owner.Kind, namespace, owner.Name)
		if next == nil {
			break
		}
		obj = next
	}
	return top
}

func (c *MetadataCache) count(result string) {
	if c.opts.OnLookup != nil {
		c.opts.OnLookup(result)
	}
}

// lookup returns the object's metadata and how it was found.
func (c *MetadataCache) lookup(ctx context.Context, apiVersion, kind, namespace, name string) (*metav1.PartialObjectMetadata, string) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, "unknown_kind"
	}
	mapping, err := c.mapping(gv.WithKind(kind))
	if err != nil {
		return nil, "unknown_kind"
	}
	gvr := mapping.Resource
	if mapping.Scope.Name() != meta.RESTScopeNameNamespace {
		namespace = ""
	}
	if c.isDenied(gvr) {
		return nil, "denied"
	}
	inf, err := c.informerFor(ctx, gvr, namespace)
	switch {
	case errors.Is(err, errDenied):
		return nil, "denied"
	case err != nil:
		return nil, "error"
	}
	key := name
	if namespace != "" {
		key = namespace + "/" + name
	}
	if item, ok, _ := inf.informer.GetIndexer().GetByKey(key); ok {
		if m, ok := item.(*metav1.PartialObjectMetadata); ok {
			return m, "hit"
		}
	}
	return c.fetch(ctx, objectKey{gvr: gvr, namespace: namespace, name: name})
}

// fetch confirms a cache miss with one GET per object, coalesced and
// remembered, because a miss is either an object created a moment ago that
// the watch has not shown yet, or a deleted one.
func (c *MetadataCache) fetch(ctx context.Context, k objectKey) (*metav1.PartialObjectMetadata, string) {
	c.mu.Lock()
	if at, ok := c.missing[k]; ok && c.now().Sub(at) < c.opts.NegativeTTL {
		c.mu.Unlock()
		return nil, "deleted"
	}
	c.mu.Unlock()
	flightKey := k.gvr.String() + "|" + k.namespace + "|" + k.name
	v, err, _ := c.flight.Do(flightKey, func() (any, error) {
		ctx, cancel := context.WithTimeout(ctx, c.opts.SyncTimeout)
		defer cancel()
		var ri metadata.ResourceInterface = c.client.Resource(k.gvr)
		if k.namespace != "" {
			ri = c.client.Resource(k.gvr).Namespace(k.namespace)
		}
		return ri.Get(ctx, k.name, metav1.GetOptions{})
	})
	switch {
	case err == nil:
		return v.(*metav1.PartialObjectMetadata), "fetched"
	case apierrors.IsNotFound(err):
		c.rememberMissing(k)
		return nil, "deleted"
	case apierrors.IsForbidden(err):
		c.markDenied(k.gvr, err)
		return nil, "denied"
	default:
		c.log.Debug().Err(err).Str("resource", k.gvr.String()).Msg("metadata lookup failed")
		return nil, "error"
	}
}

func (c *MetadataCache) rememberMissing(k objectKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.missing) >= c.opts.MaxMissing {
		now := c.now()
		for mk, at := range c.missing {
			if now.Sub(at) >= c.opts.NegativeTTL || len(c.missing) >= c.opts.MaxMissing {
				delete(c.missing, mk)
			}
		}
	}
	c.missing[k] = c.now()
}

func (c *MetadataCache) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	c.mu.Lock()
	r, ok := c.mappings[gvk]
	c.mu.Unlock()
	if ok && (r.err == nil || c.now().Sub(r.at) < c.opts.NegativeTTL) {
		return r.mapping, r.err
	}
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		c.log.Info().Str("kind", gvk.String()).Err(err).Msg("kind not served by the API server; events about it are not enriched")
	}
	c.mu.Lock()
	c.mappings[gvk] = mappingResult{mapping: m, err: err, at: c.now()}
	c.mu.Unlock()
	return m, err
}

func (c *MetadataCache) isDenied(gvr schema.GroupVersionResource) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	at, ok := c.denied[gvr]
	if ok && c.now().Sub(at) >= c.opts.NegativeTTL {
		delete(c.denied, gvr)
		return false
	}
	return ok
}

// markDenied records that the exporter may not read gvr, logging it once per
// NegativeTTL rather than once per event.
func (c *MetadataCache) markDenied(gvr schema.GroupVersionResource, err error) {
	c.mu.Lock()
	_, already := c.denied[gvr]
	c.denied[gvr] = c.now()
	for k, inf := range c.informers {
		if k.gvr == gvr {
			inf.stop()
			delete(c.informers, k)
		}
	}
	c.mu.Unlock()
	if !already {
		c.log.Warn().Str("resource", gvr.String()).Err(err).
			Msg("RBAC forbids reading this kind: its events are sent without labels and owners (grant list/watch to enable)")
	}
}

// informerFor returns the synced informer for gvr in namespace, starting it
// on first use.
func (c *MetadataCache) informerFor(ctx context.Context, gvr schema.GroupVersionResource, namespace string) (*kindInformer, error) {
	scope := namespace
	if namespace != "" && len(c.opts.Namespaces) == 0 {
		scope = metav1.NamespaceAll
	}
	key := informerKey{gvr: gvr, namespace: scope}
	c.mu.Lock()
	ki, ok := c.informers[key]
	if !ok {
		ki = c.startInformer(key)
		c.informers[key] = ki
	}
	c.mu.Unlock()

	select {
	case <-ki.ready:
		return ki, nil
	default:
	}
	remaining := ki.waitUntil.Sub(c.now())
	if remaining <= 0 {
		return nil, fmt.Errorf("%s: %w", gvr, errNotSynced)
	}
	timer := time.NewTimer(remaining)
	defer timer.Stop()
	select {
	case <-ki.ready:
		return ki, nil
	case <-ki.denied:
		return nil, errDenied
	case <-timer.C:
		return nil, fmt.Errorf("%s: %w within %s", gvr, errNotSynced, c.opts.SyncTimeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *MetadataCache) startInformer(key informerKey) *kindInformer {
	ctx, cancel := context.WithCancel(c.ctx)
	gi := metadatainformer.NewFilteredMetadataInformer(c.client, key.gvr, key.namespace, 0, cache.Indexers{}, nil)
	ki := &kindInformer{informer: gi.Informer(), ready: make(chan struct{}), denied: make(chan struct{}), stop: cancel,
		waitUntil: c.now().Add(c.opts.SyncTimeout)}
	_ = ki.informer.SetTransform(trimMetadata)
	_ = ki.informer.SetWatchErrorHandlerWithContext(func(ctx context.Context, r *cache.Reflector, err error) {
		if apierrors.IsForbidden(err) {
			ki.once.Do(func() { close(ki.denied) })
			go c.markDenied(key.gvr, err)
			return
		}
		cache.DefaultWatchErrorHandler(ctx, r, err)
	})
	go ki.informer.RunWithContext(ctx)
	go func() {
		if cache.WaitForCacheSync(ctx.Done(), ki.informer.HasSynced) {
			close(ki.ready)
		}
	}()
	c.log.Debug().Str("resource", key.gvr.String()).Str("namespace", key.namespace).Msg("started metadata informer")
	return ki
}

// trimMetadata keeps only what enrichment reads, so the caches stay small.
func trimMetadata(obj any) (any, error) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return obj, nil
	}
	m.ManagedFields = nil
	if _, ok := m.Annotations["kubectl.kubernetes.io/last-applied-configuration"]; ok {
		a := make(map[string]string, len(m.Annotations)-1)
		for k, v := range m.Annotations {
			if k != "kubectl.kubernetes.io/last-applied-configuration" {
				a[k] = v
			}
		}
		m.Annotations = a
	}
	return m, nil
}
