package exporter

import (
	"context"
	"sync"
	"time"

	"github.com/eventide/eventide/pkg/exporter/config"
	"github.com/eventide/eventide/pkg/exporter/recent"
	"github.com/eventide/eventide/pkg/exporter/route"

	"github.com/eventide/eventide/pkg/kube/event"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// enqueuer is what the pipeline hands routed events to: the Runtime.
type enqueuer interface {
	Enqueue(receiver string, ev *event.EnhancedEvent)
}

// Pipeline takes events from the watch, enriches and routes them on one
// goroutine, and enqueues them on their receivers without blocking. Events
// whose object needs a lookup wait apart (lookup.go).
type Pipeline struct {
	in            chan *event.EnhancedEvent
	enricher      Enricher
	rt            enqueuer
	m             *Metrics
	received      [3]prometheus.Counter // by event type: Normal, Warning, other
	tracker       *Tracker
	log           zerolog.Logger
	maxAge        time.Duration
	now           func() time.Time
	nsAnnotations func(string) map[string]string
	recent        *recent.Ring // nil: no status page

	// mu makes a reload atomic between two events: each event is routed
	// and enqueued with one routing, the old or the new, never a mix.
	mu      sync.RWMutex
	routing routing
}

// routing is what a reload swaps: the route tree, its per-route counters,
// muting (the stage after the tree) and the cluster name stamped on events.
type routing struct {
	tree        *route.Tree
	mute        *route.Muting
	matched     []prometheus.Counter
	clusterName string
	extra       map[string]string // extraFields, shared by every event
}

// PipelineOptions are the pipeline's optional collaborators.
type PipelineOptions struct {
	// Enricher fills involved-object metadata; nil with omitLookup.
	Enricher Enricher
	// Tracker follows what each receiver has been handed; with restored
	// checkpoints it also says what was delivered before a restart.
	Tracker *Tracker
	// MaxEventAge applies to events that existed when the watch started,
	// for receivers with no checkpoint: older ones are not sent.
	MaxEventAge time.Duration
	// Log reports what is left waiting for a lookup at shutdown.
	Log zerolog.Logger
	// NamespaceAnnotations gives a namespace's annotations from the
	// metadata cache, for silences set on a namespace; nil: none.
	NamespaceAnnotations func(namespace string) map[string]string
	// Recent, when set, records each routed event and what became of it
	// at each receiver, for the status page.
	Recent *recent.Ring
}

// PipelineBuffer is how many watched events may wait for routing; beyond it
// the watch's handler waits (client-go buffers behind it), so nothing is lost.
const PipelineBuffer = 4096

// NewPipeline routes by loaded's tree and muting to rt.
func NewPipeline(loaded *config.Loaded, rt enqueuer, m *Metrics, opts PipelineOptions) *Pipeline {
	p := &Pipeline{
		in:            make(chan *event.EnhancedEvent, PipelineBuffer),
		enricher:      opts.Enricher,
		tracker:       opts.Tracker,
		log:           opts.Log,
		maxAge:        opts.MaxEventAge,
		now:           time.Now,
		nsAnnotations: opts.NamespaceAnnotations,
		recent:        opts.Recent,
		rt:            rt,
		m:             m,
		received: [3]prometheus.Counter{m.EventsReceived.WithLabelValues("Normal"),
			m.EventsReceived.WithLabelValues("Warning"), m.EventsReceived.WithLabelValues("other")},
	}
	p.routing = p.newRouting(loaded)
	return p
}

func (p *Pipeline) newRouting(l *config.Loaded) routing {
	r := routing{tree: l.Tree, mute: l.Mute, clusterName: l.Config.ClusterName, extra: l.Config.ExtraFields}
	for _, path := range l.Tree.Routes() {
		r.matched = append(r.matched, p.m.RouteMatched.WithLabelValues(path))
	}
	return r
}

// Swap runs apply with no event being routed, then routes by next: the
// runtime's receivers change inside apply, so every event goes to the
// receivers of one configuration.
func (p *Pipeline) Swap(next *config.Loaded, apply func()) {
	r := p.newRouting(next)
	p.mu.Lock()
	defer p.mu.Unlock()
	apply()
	p.routing = r
}

// Handle hands ev to the pipeline; it is the watcher's OnEvent. It does no
// I/O and waits only when the pipeline is PipelineBuffer events behind.
func (p *Pipeline) Handle(ev *event.EnhancedEvent) {
	switch ev.Type {
	case "Normal":
		p.received[0].Inc()
	case "Warning":
		p.received[1].Inc()
	default:
		p.received[2].Inc()
	}
	ev.Received = time.Now()
	if p.tracker != nil {
		p.tracker.Received(ev)
	}
	p.in <- ev
	p.m.PipelineBacklog.Set(float64(len(p.in)))
}

// Discard reasons of the pipeline (eventide_events_discarded_total).
const (
	DiscardDelivered   = "already_delivered" // at or below the receiver's checkpoint
	DiscardBeforeStart = "before_start"      // listed at start, older than maxEventAgeSeconds, no checkpoint
)

// skip says why receiver must not get ev, or "".
func (p *Pipeline) skip(receiver string, ev *event.EnhancedEvent) string {
	hasCheckpoint := false
	if rv := RV(ev); p.tracker != nil && rv != 0 {
		// An RV that is not a number (not etcd) cannot be compared: the
		// age rule applies, as without a checkpoint.
		cp, ok := p.tracker.Restored(receiver, ev)
		hasCheckpoint = ok
		if ok && rv <= cp {
			return DiscardDelivered
		}
	}
	if ev.InitialList && !hasCheckpoint && p.maxAge > 0 && p.now().Sub(ev.GetLastTime()) > p.maxAge {
		return DiscardBeforeStart
	}
	return ""
}

// Close tells Run that no more events come (call after the watch stopped).
func (p *Pipeline) Close() { close(p.in) }

// Run processes events until Close was called and the buffer is drained.
func (p *Pipeline) Run(ctx context.Context) {
	lk := newLookups(ctx, p.enricher, p.m, p.log)
	defer lk.stop()
	r := &router{p: p, dst: make([]string, 0, 8)}
	r.onRoute = func(id int) { r.matched[id].Inc() }
	if p.recent != nil {
		r.onRoute = func(id int) {
			r.matched[id].Inc()
			r.trace.Routes = append(r.trace.Routes, r.labels[id])
		}
		r.onDrop = func(id int) {
			if r.trace.DroppedBy == "" {
				r.trace.DroppedBy = r.labels[id]
			}
		}
	}
	for in := p.in; in != nil; {
		src := in
		if lk.full() {
			src = nil
		}
		select {
		case ev, ok := <-src:
			if !ok {
				in = nil
			} else if lk.admit(ev) {
				r.route(ev)
			}
		case res := <-lk.results:
			lk.fetched(res, r.route)
		case <-lk.tick():
			lk.recheck(r.route)
		}
	}
	lk.finish(r.route)
}

// router routes enriched events and enqueues them on their receivers.
type router struct {
	p       *Pipeline
	dst     []string
	handed  []string
	matched []prometheus.Counter
	onRoute func(route int)
	onDrop  func(route int) // nil: no status page
	// trace is the routing of the event at hand, for the status page's
	// recent events; labels names the routes by id.
	trace  recent.Route
	labels []string
}

func (r *router) route(ev *event.EnhancedEvent) {
	p := r.p
	p.mu.RLock()
	defer p.mu.RUnlock()
	ev.ClusterName, ev.Extra, r.matched = p.routing.clusterName, p.routing.extra, p.routing.matched
	mute := p.routing.mute
	mute.Observe(ev)
	if p.recent != nil {
		r.trace.Routes, r.trace.Receivers, r.trace.DroppedBy = r.trace.Routes[:0], r.trace.Receivers[:0], ""
		r.labels = p.routing.tree.Routes()
	}
	r.dst = p.routing.tree.Trace(ev, r.dst[:0], r.onRoute, r.onDrop)
	if len(r.dst) == 0 {
		p.m.EventsUnrouted.Inc()
	}
	skipped := ""
	muted, mutedDetail, checked := "", "", false
	r.handed = r.handed[:0]
	for _, name := range r.dst {
		if reason := p.skip(name, ev); reason != "" {
			skipped = reason
			r.note(name, recent.Skipped, reason)
			continue
		}
		if mute.Applies(name) {
			if !checked {
				var by string
				muted, by = mute.Explain(ev, p.now(), p.nsAnnotations)
				if muted != "" && p.recent != nil {
					mutedDetail = muted + " by " + by
				}
				checked = true
			}
			if muted != "" {
				p.m.EventsMuted.WithLabelValues(name, muted).Inc()
				r.note(name, recent.Muted, mutedDetail)
				continue
			}
		}
		r.note(name, recent.Queued, "")
		r.handed = append(r.handed, name)
	}
	if p.recent != nil {
		p.recent.Add(ev, &r.trace, p.now()) // before any receiver can report on it
	}
	for _, name := range r.handed {
		if p.tracker != nil {
			p.tracker.Add(name, ev)
		}
		p.rt.Enqueue(name, ev)
	}
	if skipped != "" && len(r.handed) == 0 {
		p.m.EventsDiscarded.WithLabelValues(skipped).Inc()
	}
	if p.tracker != nil {
		p.tracker.Routed(ev)
	}
	if !ev.Received.IsZero() {
		p.m.PipelineDuration.Observe(time.Since(ev.Received).Seconds())
	}
}

// note records what the pipeline did with the event at receiver, for the
// status page.
func (r *router) note(receiver, outcome, detail string) {
	if r.p.recent != nil {
		r.trace.Receivers = append(r.trace.Receivers, recent.Delivery{Receiver: receiver, Outcome: outcome, Detail: detail})
	}
}
