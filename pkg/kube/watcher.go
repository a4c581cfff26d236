package kube

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/client-go/informers/internalinterfaces"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/eventide/eventide/pkg/kube/event"

	"github.com/rs/zerolog"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
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
	// again (410 Gone, a broken connection, an API server restart, an API
	// server that cannot be reached).
	OnRelist func(reason string)
	// OnHealthy, when set, is told the time the watch was last known to
	// work: after its first list, and every healthCheck while no failure is
	// pending.
	OnHealthy func(time.Time)
	// FieldSelector, when set, is applied by the API server to the event
	// list and watch (for example type=Warning).
	FieldSelector string
}

// healthCheck is how often OnHealthy is refreshed while the watch works.
const healthCheck = 10 * time.Second

// EventWatcher watches core/v1 Events with shared informers (one per
// watched namespace, or one for all) and turns additions and new
// occurrences into EnhancedEvents.
type EventWatcher struct {
	opts      WatcherOptions
	log       zerolog.Logger
	factories []informers.SharedInformerFactory
	informers []cache.SharedIndexInformer
	health    watchHealth
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
			informers.WithTransform(toStored))
		inf := f.InformerFor(&corev1.Event{}, w.newInformer(ns))
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
	go w.health.watch(ctx, w)
	for _, inf := range w.informers {
		if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
			return fmt.Errorf("event informer did not sync: %w", context.Cause(ctx))
		}
	}
	return nil
}

// newInformer is client-go's event informer with its list and watch calls
// observed: a watch that cannot reach the API server retries inside
// client-go without a word (no error handler call, no log), so this is
// where a failure, and a recovery, show.
func (w *EventWatcher) newInformer(ns string) internalinterfaces.NewInformerFunc {
	return func(cs kubernetes.Interface, resync time.Duration) cache.SharedIndexInformer {
		events := func() typedcorev1.EventInterface { return cs.CoreV1().Events(ns) }
		lw := &cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				o.FieldSelector = w.opts.FieldSelector
				l, err := events().List(ctx, o)
				w.health.observe(w, err)
				return l, err
			},
			WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				o.FieldSelector = w.opts.FieldSelector
				wi, err := events().Watch(ctx, o)
				w.health.observe(w, err)
				return wi, err
			},
		}
		// No indexers: nothing reads the store but the informer itself.
		return cache.NewSharedIndexInformerWithOptions(cache.ToListWatcherWithWatchListSemantics(lw, cs), &corev1.Event{},
			cache.SharedIndexInformerOptions{ResyncPeriod: resync})
	}
}

// FailingSince is when the event watch started failing without recovering
// since; zero while it works.
func (w *EventWatcher) FailingSince() time.Time { return w.health.since() }

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
	s, ok := obj.(*storedEvent)
	if !ok {
		return
	}
	ev := s.take()
	if ev == nil {
		return
	}
	e := event.NewEnhancedEvent(ev, "")
	e.InitialList = isInInitialList
	w.opts.OnEvent(e)
}

func (w *EventWatcher) onUpdate(oldObj, newObj any) {
	old, ok1 := oldObj.(*storedEvent)
	cur, ok2 := newObj.(*storedEvent)
	if !ok1 || !ok2 {
		return
	}
	ev := cur.take() // always: the store must not keep it
	if ev == nil || old.resourceVersion == cur.resourceVersion {
		return
	}
	if old.occurrence == cur.occurrence {
		w.discard(DiscardNoChange)
		return
	}
	w.opts.OnEvent(event.NewEnhancedEvent(ev, ""))
}

func (w *EventWatcher) discard(reason string) {
	if w.opts.OnDiscard != nil {
		w.opts.OnDiscard(reason)
	}
}

// onWatchError is client-go's report that the informer must list again.
// Failures to reach the API server are counted where they happen
// (newInformer); here only the normal end of a long watch is.
func (w *EventWatcher) onWatchError(_ context.Context, _ *cache.Reflector, err error) {
	if (apierrors.IsResourceExpired(err) || apierrors.IsGone(err)) && w.opts.OnRelist != nil {
		w.opts.OnRelist("expired")
	}
}

// WatchErrorReasons are every value watchErrorReason gives, so the
// counters can start at zero.
var WatchErrorReasons = []string{"forbidden", "unauthorized", "expired", "error"}

// watchErrorReason is the bounded label of a failed list or watch.
func watchErrorReason(err error) string {
	switch {
	case apierrors.IsForbidden(err):
		return "forbidden"
	case apierrors.IsUnauthorized(err):
		return "unauthorized"
	case apierrors.IsResourceExpired(err) || apierrors.IsGone(err):
		return "expired"
	}
	return "error"
}

// watchHealth follows whether the event watch works: the first failure is
// logged at once, the next ones with a doubling interval (1m, 2m, … 30m),
// a recovery once, and every failure is counted.
type watchHealth struct {
	mu       sync.Mutex
	failing  time.Time // zero while the watch works
	failures int
	nextLog  time.Time
	logEvery time.Duration
}

func (h *watchHealth) since() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.failing
}

// observe takes the outcome of one list or watch call.
func (h *watchHealth) observe(w *EventWatcher, err error) {
	if err != nil && errors.Is(err, context.Canceled) {
		return // shutting down
	}
	reason := ""
	if err != nil {
		reason = watchErrorReason(err)
		if reason == "expired" {
			return // the reflector lists again at once: not a failure
		}
		if w.opts.OnRelist != nil {
			w.opts.OnRelist(reason)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	switch {
	case err == nil && !h.failing.IsZero():
		w.log.Info().Int("failures", h.failures).Dur("failed_for", now.Sub(h.failing).Round(time.Second)).Msg("event watch recovered")
		h.failing = time.Time{}
	case err == nil:
	case h.failing.IsZero():
		h.failing, h.failures = now, 1
		h.logEvery, h.nextLog = time.Minute, now.Add(time.Minute)
		e := w.log.Warn()
		if reason == "forbidden" {
			e = w.log.Error().Str("hint", "grant list/watch on events")
		}
		e.Err(err).Str("reason", reason).Msg("event watch failing; retrying (see eventide_watch_errors_total)")
	default:
		h.failures++
		if now.After(h.nextLog) {
			w.log.Warn().Err(err).Str("reason", reason).Int("failures", h.failures).
				Dur("failing_for", now.Sub(h.failing).Round(time.Second)).Msg("event watch still failing")
			h.logEvery = min(2*h.logEvery, 30*time.Minute)
			h.nextLog = now.Add(h.logEvery)
		}
	}
}

// watch reports the watch healthy every healthCheck while it works.
func (h *watchHealth) watch(ctx context.Context, w *EventWatcher) {
	t := time.NewTicker(healthCheck)
	defer t.Stop()
	for {
		if w.HasSynced() && h.since().IsZero() && w.opts.OnHealthy != nil {
			w.opts.OnHealthy(time.Now())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
