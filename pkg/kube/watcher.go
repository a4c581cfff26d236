package kube

import (
	"context"
	"fmt"

	"github.com/eventide/eventide/pkg/kube/event"

	"github.com/rs/zerolog"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// DiscardNoChange is the OnDiscard reason of an update that is not a new
// occurrence.
const DiscardNoChange = "no_change"

// WatcherOptions configures an EventWatcher.
type WatcherOptions struct {
	// Namespaces to watch; empty watches all namespaces.
	Namespaces []string
	// OnEvent receives each new event and each new occurrence. It is called
	// from the informer's goroutine and must only hand the event on.
	OnEvent func(*event.EnhancedEvent)
	// OnDiscard, when set, counts events not delivered, by reason.
	OnDiscard func(reason string)
	// OnRelist, when set, counts watch failures that make the informer list
	// again (410 Gone, a broken connection, an API server restart).
	OnRelist func(reason string)
}

// EventWatcher watches core/v1 Events with shared informers (one per
// watched namespace, or one for all) and turns additions and new
// occurrences into EnhancedEvents.
type EventWatcher struct {
	opts      WatcherOptions
	log       zerolog.Logger
	factories []informers.SharedInformerFactory
	informers []cache.SharedIndexInformer
}

// NewEventWatcher builds a watcher on cfg; Run starts it.
func NewEventWatcher(cfg *rest.Config, log zerolog.Logger, opts WatcherOptions) (*EventWatcher, error) {
	if opts.OnEvent == nil {
		return nil, fmt.Errorf("event watcher: OnEvent is required")
	}
	cs, err := kubernetes.NewForConfig(ProtobufConfig(cfg))
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	w := &EventWatcher{opts: opts, log: log.With().Str("component", "event-watcher").Logger()}
	namespaces := opts.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	for _, ns := range namespaces {
		f := informers.NewSharedInformerFactoryWithOptions(cs, 0,
			informers.WithNamespace(ns),
			informers.WithTransform(stripEvent))
		inf := f.Core().V1().Events().Informer()
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
			AddFunc:    w.onAdd,
			UpdateFunc: w.onUpdate,
		}); err != nil {
			return nil, fmt.Errorf("event handler: %w", err)
		}
		if err := inf.SetWatchErrorHandlerWithContext(w.onWatchError); err != nil {
			return nil, fmt.Errorf("watch error handler: %w", err)
		}
		w.factories = append(w.factories, f)
		w.informers = append(w.informers, inf)
	}
	return w, nil
}

// Run starts the informers and returns once their caches have synced (the
// initial list was delivered), or with an error when ctx ends first. The
// informers keep running until ctx ends.
func (w *EventWatcher) Run(ctx context.Context) error {
	for _, f := range w.factories {
		f.Start(ctx.Done())
	}
	for _, inf := range w.informers {
		if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
			return fmt.Errorf("event informer did not sync: %w", context.Cause(ctx))
		}
	}
	return nil
}

// HasSynced reports whether every event informer has listed once.
func (w *EventWatcher) HasSynced() bool {
	for _, inf := range w.informers {
		if !inf.HasSynced() {
			return false
		}
	}
	return true
}

// Shutdown waits for the informers to stop after ctx passed to Run ended.
func (w *EventWatcher) Shutdown() {
	for _, f := range w.factories {
		f.Shutdown()
	}
}

func (w *EventWatcher) onAdd(obj any, isInInitialList bool) {
	ev, ok := obj.(*corev1.Event)
	if !ok {
		return
	}
	e := event.NewEnhancedEvent(ev, "")
	e.InitialList = isInInitialList
	w.opts.OnEvent(e)
}

func (w *EventWatcher) onUpdate(oldObj, newObj any) {
	old, ok1 := oldObj.(*corev1.Event)
	cur, ok2 := newObj.(*corev1.Event)
	if !ok1 || !ok2 {
		return
	}
	if !event.IsNewOccurrence(old, cur) {
		if old.ResourceVersion != cur.ResourceVersion {
			w.discard(DiscardNoChange)
		}
		return
	}
	w.opts.OnEvent(event.NewEnhancedEvent(cur, ""))
}

func (w *EventWatcher) discard(reason string) {
	if w.opts.OnDiscard != nil {
		w.opts.OnDiscard(reason)
	}
}

func (w *EventWatcher) onWatchError(ctx context.Context, r *cache.Reflector, err error) {
	reason := "error"
	switch {
	case apierrors.IsResourceExpired(err) || apierrors.IsGone(err):
		reason = "expired"
	case apierrors.IsForbidden(err):
		reason = "forbidden"
		w.log.Error().Err(err).Msg("RBAC forbids listing or watching events: grant list/watch on events")
	}
	if w.opts.OnRelist != nil {
		w.opts.OnRelist(reason)
	}
	cache.DefaultWatchErrorHandler(ctx, r, err)
}

// stripEvent drops managedFields before the event is stored in the cache.
func stripEvent(obj any) (any, error) {
	if a, ok := obj.(metav1.ObjectMetaAccessor); ok {
		a.GetObjectMeta().SetManagedFields(nil)
	}
	return obj, nil
}
