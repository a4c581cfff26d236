package exporter

import (
	"context"
	"time"

	"github.com/eventide/eventide/pkg/kube/event"

	"github.com/prometheus/client_golang/prometheus"
)

// Enricher fills an event's involved-object metadata from caches.
type Enricher interface {
	Enrich(ctx context.Context, ev *event.EnhancedEvent)
}

// enqueuer is what the pipeline hands routed events to: the Runtime.
type enqueuer interface {
	Enqueue(receiver string, ev *event.EnhancedEvent)
}

// Pipeline takes events from the watch, enriches and routes them on one
// goroutine, and enqueues them on their receivers without blocking.
type Pipeline struct {
	in       chan *event.EnhancedEvent
	enricher Enricher
	tree     *Tree
	rt       enqueuer
	m        *Metrics
	received prometheus.Counter
	matched  []prometheus.Counter
	tracker  *Tracker
	maxAge   time.Duration
	now      func() time.Time
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
}

// PipelineBuffer is how many watched events may wait for routing; beyond it
// the watch's handler waits (client-go buffers behind it), so nothing is lost.
const PipelineBuffer = 4096

// NewPipeline wires tree and rt.
func NewPipeline(tree *Tree, rt enqueuer, m *Metrics, opts PipelineOptions) *Pipeline {
	p := &Pipeline{
		in:       make(chan *event.EnhancedEvent, PipelineBuffer),
		enricher: opts.Enricher,
		tracker:  opts.Tracker,
		maxAge:   opts.MaxEventAge,
		now:      time.Now,
		tree:     tree,
		rt:       rt,
		m:        m,
		received: m.EventsReceived.WithLabelValues(),
	}
	for _, path := range tree.Routes() {
		p.matched = append(p.matched, m.RouteMatched.WithLabelValues(path))
	}
	return p
}

// Handle hands ev to the pipeline; it is the watcher's OnEvent. It does no
// I/O and waits only when the pipeline is PipelineBuffer events behind.
func (p *Pipeline) Handle(ev *event.EnhancedEvent) {
	p.received.Inc()
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
	dst := make([]string, 0, 8)
	onRoute := func(id int) { p.matched[id].Inc() }
	for ev := range p.in {
		start := time.Now()
		if p.enricher != nil {
			p.enricher.Enrich(ctx, ev)
		}
		dst = p.tree.Match(ev, dst[:0], onRoute)
		if len(dst) == 0 {
			p.m.EventsUnrouted.Inc()
		}
		skipped, handed := "", false
		for _, r := range dst {
			if reason := p.skip(r, ev); reason != "" {
				skipped = reason
				continue
			}
			if p.tracker != nil {
				p.tracker.Add(r, ev)
			}
			p.rt.Enqueue(r, ev)
			handed = true
		}
		if skipped != "" && !handed {
			p.m.EventsDiscarded.WithLabelValues(skipped).Inc()
		}
		if p.tracker != nil {
			p.tracker.Dispatched(ev)
		}
		p.m.PipelineDuration.Observe(time.Since(start).Seconds())
	}
}
