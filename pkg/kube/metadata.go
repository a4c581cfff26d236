package kube

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/eventide/eventide/pkg/kube/event"

	"github.com/rs/zerolog"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
)

// Enrichment rules.
//
// The metadata of the objects events are about comes from metadata-only
// informers: for Pods, Nodes and the workload kinds they start with the
// cache (Start), for any other kind the first time an event is about it.
// Cached answers from memory and never does I/O, so the pipeline asks it
// for every event; when only time or a request can tell, it says so and the
// pipeline parks that object's events (and only those) while it waits:
//
//   - the object is in its kind's informer: its labels, annotations and
//     owners, and the workload found by walking the controller owners
//     through the caches;
//   - it was deleted: its tombstone (see tombstones.go), marked deleted;
//   - its kind's informer has synced, watches without error and has not
//     shown the object LookupGrace after the event arrived: it does not
//     exist (the object was created before its event, and a watch shows a
//     creation well within that time). Marked deleted, without a request;
//   - its kind's informer is still syncing: Wait, for at most SyncTimeout
//     after the informer started;
//   - only a GET can tell (the informer did not sync in time, its watch is
//     failing, or the kind was never seen): Fetch, one request per object,
//     made by the pipeline's lookup workers with their own rate limit, the
//     answer remembered.
//
// Kinds the API server does not serve, or that RBAC forbids listing, are
// remembered for NegativeTTL and their events go out without labels.

// MetadataCacheOptions tunes the metadata cache.
type MetadataCacheOptions struct {
	// Namespaces limits namespaced informers to these namespaces; empty
	// means all namespaces.
	Namespaces []string
	// SyncTimeout bounds how long events about a kind wait for its
	// informer's first list before a GET answers them. Default 10s.
	SyncTimeout time.Duration
	// LookupGrace is how long an object absent from its synced informer
	// may take to show up before it is taken as gone. Default 500ms.
	LookupGrace time.Duration
	// NegativeTTL is how long a kind the API server does not serve, an
	// object found missing, or a kind we may not read is remembered before
	// it is asked about again. Default 5m.
	NegativeTTL time.Duration
	// MaxDeleted bounds the tombstones and, separately, the objects
	// remembered as missing. Default 10000.
	MaxDeleted int
	// TombstoneMaxAge is how long a deleted object's metadata is kept.
	// Default 1h (the API server's event TTL).
	TombstoneMaxAge time.Duration
	// OnLookup, when set, counts each answer by result (LookupResults).
	OnLookup func(result string)
	// OnTombstoneEvict, when set, counts evicted tombstones by reason
	// (capacity, age).
	OnTombstoneEvict func(reason string)
	// Services: events about pods and workloads carry the Services
	// selecting them (services.go).
	Services bool
	// Annotations, when set, are the only annotation keys kept of the
	// objects events are about (a trailing * keeps a prefix); a
	// Namespace's are all kept. Empty keeps all.
	Annotations []string
}

// Answer says whether the caches could answer a lookup.
type Answer int

const (
	// Known: the caches answered (the object, its tombstone, that it is
	// gone, or that it cannot be known).
	Known Answer = iota
	// Wait: ask again later (the informer is syncing, or the object may
	// still show up within LookupGrace).
	Wait
	// NeedFetch: only Fetch can answer.
	NeedFetch
)

// Meta is what enrichment learned about one object; Apply copies it onto
// each event about that object.
type Meta struct {
	obj      *storedObject
	workload *event.WorkloadReference
	services []string
	deleted  bool
}

// Apply fills ref's labels, annotations, owners, workload and deleted flag.
func (m Meta) Apply(ref *event.EnhancedObjectReference) {
	if m.obj == nil || (ref.UID != "" && m.obj.uid != ref.UID) {
		// Nothing known, or the name now belongs to a new object (a GET
		// answered): the one the event is about is gone.
		ref.Deleted = m.deleted || m.obj != nil
		return
	}
	ref.Labels = m.obj.Labels()
	ref.Annotations = m.obj.Annotations()
	ref.OwnerReferences = m.obj.Owners()
	ref.Workload = m.workload
	ref.Services = m.services
	ref.Deleted = m.deleted
}

// LookupResults are the results OnLookup counts.
var LookupResults = []string{"hit", "tombstone", "deleted", "fetched", "denied", "unknown_kind", "error"}

// MetadataCache answers "what are the labels, annotations and owners of the
// object this event is about" by the rules above.
type MetadataCache struct {
	opts   MetadataCacheOptions
	client metadata.Interface // informers
	getter metadata.Interface // confirming GETs, rate-limited on their own
	mapper meta.RESTMapper
	log    zerolog.Logger
	ctx    context.Context
	tombs  *tombstones
	// workloads remembers the top workload above each controller (a
	// ReplicaSet, a Job) for a short while: every event about its pods
	// needs it, and walking the chain is most of a cache hit's cost.
	workloads *workloadMemo
	// services, with enrich.services, holds the Service selectors.
	services        *serviceIndex
	servicesStarted time.Time
	// keepAnnotations filters what the caches keep (enrich.annotations).
	keepAnnotations annotationFilter

	mu        sync.Mutex
	informers map[informerKey]*kindInformer
	mappings  map[schema.GroupVersionKind]mappingResult
	missing   map[objectKey]time.Time
	denied    map[schema.GroupVersionResource]time.Time

	now func() time.Time
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

// startupKinds are the kinds most events are about, and the owners that
// make up workloads: their informers start with the cache.
var startupKinds = []schema.GroupVersionKind{
	{Version: "v1", Kind: "Pod"},
	{Version: "v1", Kind: "Node"},
	{Group: "apps", Version: "v1", Kind: "ReplicaSet"},
	{Group: "apps", Version: "v1", Kind: "Deployment"},
	{Group: "apps", Version: "v1", Kind: "StatefulSet"},
	{Group: "apps", Version: "v1", Kind: "DaemonSet"},
	{Group: "batch", Version: "v1", Kind: "Job"},
	{Group: "batch", Version: "v1", Kind: "CronJob"},
}

// NewMetadataCache builds a cache on cfg. Informers run until ctx ends.
func NewMetadataCache(ctx context.Context, cfg *rest.Config, log zerolog.Logger, opts MetadataCacheOptions) (*MetadataCache, error) {
	if opts.SyncTimeout <= 0 {
		opts.SyncTimeout = 10 * time.Second
	}
	if opts.LookupGrace <= 0 {
		opts.LookupGrace = 500 * time.Millisecond
	}
	if opts.NegativeTTL <= 0 {
		opts.NegativeTTL = 5 * time.Minute
	}
	if opts.MaxDeleted <= 0 {
		opts.MaxDeleted = 10000
	}
	if opts.TombstoneMaxAge <= 0 {
		opts.TombstoneMaxAge = time.Hour
	}
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("metadata client: %w", err)
	}
	getter, err := metadata.NewForConfig(rest.CopyConfig(cfg)) // its own rate limiter
	if err != nil {
		return nil, fmt.Errorf("metadata client: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("discovery client: %w", err)
	}
	c := newMetadataCache(ctx, mc, getter, restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)), log, opts)
	if opts.Services {
		core, err := corev1client.NewForConfig(cfg)
		if err != nil {
			return nil, fmt.Errorf("cannot build the Service client: %w", err)
		}
		c.services = &serviceIndex{client: core, informers: map[string]cache.SharedIndexInformer{},
			memo: map[types.UID]servicesMemo{}}
		c.servicesStarted = c.now()
	}
	return c, nil
}

func newMetadataCache(ctx context.Context, client, getter metadata.Interface, mapper meta.RESTMapper, log zerolog.Logger, opts MetadataCacheOptions) *MetadataCache {
	c := &MetadataCache{
		opts: opts, client: client, getter: getter, mapper: mapper, ctx: ctx,
		log:       log.With().Str("component", "metadata-cache").Logger(),
		informers: map[informerKey]*kindInformer{},
		mappings:  map[schema.GroupVersionKind]mappingResult{},
		missing:   map[objectKey]time.Time{},
		denied:    map[schema.GroupVersionResource]time.Time{},
		now:       time.Now,
	}
	c.workloads = newWorkloadMemo(opts.MaxDeleted, workloadMemoTTL)
	c.keepAnnotations = keepAnnotations(opts.Annotations)
	c.tombs = newTombstones(opts.MaxDeleted, opts.TombstoneMaxAge, opts.OnTombstoneEvict, func() time.Time { return c.now() })
	return c
}

// Start starts the informers of startupKinds and waits, at most
// SyncTimeout, for them to sync (or be found forbidden).
func (c *MetadataCache) Start(ctx context.Context) {
	namespaces := c.opts.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	var started []*kindInformer
	for _, gvk := range startupKinds {
		m, err := c.resolveMapping(gvk)
		if err != nil {
			continue
		}
		scopes := namespaces
		if m.Scope.Name() != meta.RESTScopeNameNamespace {
			scopes = []string{""}
		}
		for _, ns := range scopes {
			started = append(started, c.informerFor(m.Resource, ns))
		}
	}
	_, _ = c.resolveMapping(namespaceGVK) // for NamespaceAnnotations; its informer starts on first use
	var syncs []cache.InformerSynced
	if c.services != nil {
		for _, ns := range namespaces {
			syncs = append(syncs, c.services.start(c.ctx, ns).HasSynced)
		}
	}
	deadline, cancel := context.WithTimeout(ctx, c.opts.SyncTimeout)
	defer cancel()
	if !cache.WaitForCacheSync(deadline.Done(), syncs...) && ctx.Err() == nil {
		c.log.Warn().Dur("timeout", c.opts.SyncTimeout).Msg("Service informer not synced yet; starting anyway")
		return
	}
	for _, ki := range started {
		select {
		case <-ki.done:
		case <-deadline.Done():
			if ctx.Err() != nil {
				return
			}
			c.log.Warn().Dur("timeout", c.opts.SyncTimeout).Msg("metadata informers not synced yet; starting anyway")
			return
		}
	}
}

var namespaceGVK = schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}

// NamespaceAnnotations is namespace's annotations from memory; nil when
// they are not known (yet). The first call starts the Namespace informer
// (metadata only); no call makes a request of its own. Where RBAC does not
// allow listing namespaces, it stays nil.
func (c *MetadataCache) NamespaceAnnotations(namespace string) map[string]string {
	k, result := c.objectKey(namespaceGVK.Version, namespaceGVK.Kind, "", namespace)
	if result != "" {
		return nil
	}
	ki := c.informerFor(k.gvr, "")
	if ki.state(c.now(), c.opts.SyncTimeout) != informerOK {
		return nil
	}
	if obj := ki.get(k); obj != nil {
		return obj.Annotations()
	}
	return nil
}

// Cached answers from memory only, by the rules above. waited is how long
// the event has waited since it arrived.
func (c *MetadataCache) Cached(ref *event.EnhancedObjectReference, waited time.Duration) (Meta, Answer) {
	k, result := c.objectKey(ref.APIVersion, ref.Kind, ref.Namespace, ref.Name)
	switch result {
	case "":
	case "unmapped":
		return Meta{}, NeedFetch
	default:
		return Meta{}, c.answer(result)
	}
	ki := c.informerFor(k.gvr, c.scope(k.namespace))
	state := ki.state(c.now(), c.opts.SyncTimeout)
	switch state {
	case informerDenied:
		return Meta{}, c.answer("denied")
	case informerSyncing:
		return Meta{}, Wait
	case informerOK, informerFailing:
		if obj := ki.get(k); obj != nil && (ref.UID == "" || obj.uid == ref.UID) {
			if c.servicesWait(ref) {
				return Meta{}, Wait
			}
			c.count("hit")
			return c.found(ref.Kind, obj, k.namespace, false), Known
		}
	}
	if m, ok := c.deleted(k, ref); ok {
		return m, Known
	}
	if state != informerOK {
		return Meta{}, NeedFetch
	}
	if waited < c.opts.LookupGrace {
		return Meta{}, Wait
	}
	c.rememberMissing(k)
	return Meta{deleted: true}, c.answer("deleted")
}

// found is what enrichment learned about obj, an object of kind.
func (c *MetadataCache) found(kind string, obj *storedObject, namespace string, deleted bool) Meta {
	return Meta{obj: obj, workload: c.workload(obj, namespace), services: c.servicesOf(kind, obj, namespace), deleted: deleted}
}

// deleted answers from the tombstones and the objects remembered missing.
func (c *MetadataCache) deleted(k objectKey, ref *event.EnhancedObjectReference) (Meta, bool) {
	if obj := c.tombs.get(k, ref.UID); obj != nil {
		c.count("tombstone")
		return c.found(ref.Kind, obj, k.namespace, true), true
	}
	c.mu.Lock()
	at, ok := c.missing[k]
	c.mu.Unlock()
	if ok && c.now().Sub(at) < c.opts.NegativeTTL {
		c.count("deleted")
		return Meta{deleted: true}, true
	}
	return Meta{}, false
}

// Fetch answers what Cached could not: it learns the kind from discovery,
// or GETs the object (one request, remembered). It returns Wait when the
// kind was just learned: its informer now starts, and Cached answers.
func (c *MetadataCache) Fetch(ctx context.Context, ref *event.EnhancedObjectReference) (Meta, Answer) {
	k, result := c.objectKey(ref.APIVersion, ref.Kind, ref.Namespace, ref.Name)
	if result == "unmapped" {
		gv, _ := schema.ParseGroupVersion(ref.APIVersion)
		if _, err := c.resolveMapping(gv.WithKind(ref.Kind)); err != nil {
			return Meta{}, c.answer("unknown_kind")
		}
		return Meta{}, Wait
	}
	if result != "" {
		return Meta{}, c.answer(result)
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.SyncTimeout)
	defer cancel()
	var ri metadata.ResourceInterface = c.getter.Resource(k.gvr)
	if k.namespace != "" {
		ri = c.getter.Resource(k.gvr).Namespace(k.namespace)
	}
	obj, err := ri.Get(ctx, k.name, metav1.GetOptions{})
	switch {
	case err == nil:
		c.count("fetched")
		return c.found(ref.Kind, newStoredObject(obj, c.keepAnnotations), k.namespace, false), Known
	case apierrors.IsNotFound(err):
		c.rememberMissing(k)
		return Meta{deleted: true}, c.answer("deleted")
	case apierrors.IsForbidden(err):
		c.markDenied(k.gvr, err)
		return Meta{}, c.answer("denied")
	default:
		c.log.Debug().Err(err).Str("resource", k.gvr.String()).Msg("metadata lookup failed")
		return Meta{}, c.answer("error")
	}
}

func (c *MetadataCache) answer(result string) Answer {
	c.count(result)
	return Known
}

func (c *MetadataCache) count(result string) {
	if c.opts.OnLookup != nil {
		c.opts.OnLookup(result)
	}
}

// objectKey maps a reference to its object key from the cached mappings.
// The result is "" when it can be looked up, "unmapped" when discovery must
// be asked first, else why it cannot be (unknown_kind, denied).
func (c *MetadataCache) objectKey(apiVersion, kind, namespace, name string) (objectKey, string) {
	if kind == "" || name == "" {
		return objectKey{}, "unknown_kind"
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return objectKey{}, "unknown_kind"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.mappings[gv.WithKind(kind)]
	switch {
	case !ok || (r.err != nil && c.now().Sub(r.at) >= c.opts.NegativeTTL):
		return objectKey{}, "unmapped"
	case r.err != nil:
		return objectKey{}, "unknown_kind"
	}
	gvr := r.mapping.Resource
	if r.mapping.Scope.Name() != meta.RESTScopeNameNamespace {
		namespace = ""
	}
	if at, ok := c.denied[gvr]; ok {
		if c.now().Sub(at) < c.opts.NegativeTTL {
			return objectKey{}, "denied"
		}
		delete(c.denied, gvr)
	}
	return objectKey{gvr: gvr, namespace: namespace, name: name}, ""
}

// resolveMapping asks discovery (I/O) and remembers the answer.
func (c *MetadataCache) resolveMapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		c.log.Info().Str("kind", gvk.String()).Err(err).Msg("kind not served by the API server; events about it are not enriched")
	}
	c.mu.Lock()
	c.mappings[gvk] = mappingResult{mapping: m, err: err, at: c.now()}
	c.mu.Unlock()
	return m, err
}

// scope is the informer namespace for an object in namespace.
func (c *MetadataCache) scope(namespace string) string {
	if namespace != "" && len(c.opts.Namespaces) == 0 {
		return metav1.NamespaceAll
	}
	return namespace
}

// workload follows controller owner references, through the caches only,
// up to the top one known.
func (c *MetadataCache) workload(obj *storedObject, namespace string) *event.WorkloadReference {
	owner := metav1.GetControllerOfNoCopy(obj)
	if owner == nil {
		return nil
	}
	now := c.now()
	if top, ok := c.workloads.get(owner.UID, now); ok {
		return top
	}
	top, complete := c.walkOwners(owner, namespace)
	if complete {
		c.workloads.put(owner.UID, top, now)
	}
	return top
}

// walkOwners follows controller references up from owner to the top one;
// complete is false when an owner on the way is in no cache (yet).
func (c *MetadataCache) walkOwners(owner *metav1.OwnerReference, namespace string) (top *event.WorkloadReference, complete bool) {
	for depth := 0; depth < 8 && owner != nil; depth++ {
		top = &event.WorkloadReference{APIVersion: owner.APIVersion, Kind: owner.Kind, Name: owner.Name, UID: string(owner.UID)}
		k, result := c.objectKey(owner.APIVersion, owner.Kind, namespace, owner.Name)
		if result != "" {
			// A kind eventide cannot read: the top it can see (and, until
			// discovery has answered, only for this event).
			return top, result != "unmapped"
		}
		next := c.informerFor(k.gvr, c.scope(k.namespace)).get(k)
		if next == nil || next.uid != owner.UID {
			next = c.tombs.get(k, owner.UID)
		}
		if next == nil {
			return top, false
		}
		owner = metav1.GetControllerOfNoCopy(next)
	}
	return top, true
}

func (c *MetadataCache) rememberMissing(k objectKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.missing) >= c.opts.MaxDeleted {
		now := c.now()
		for mk, at := range c.missing {
			if now.Sub(at) >= c.opts.NegativeTTL || len(c.missing) >= c.opts.MaxDeleted {
				delete(c.missing, mk)
			}
		}
	}
	c.missing[k] = c.now()
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
