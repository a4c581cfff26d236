package exporter

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eventide/eventide/pkg/kube"
)

// Enricher fills an event's involved-object metadata from caches.
type Enricher interface {
	Enrich(ctx context.Context, ev *kube.EnhancedEvent)
}

// Pipeline takes events from the watch, enriches and routes them on one
// goroutine, and enqueues them on their receivers without blocking.
type Pipeline struct {
	in       chan *kube.EnhancedEvent
	enricher Enricher
	tree     *Tree
	rt       *Runtime
	m        *Metrics
	received prometheus.Counter
	matched  []prometheus.Counter
}

// PipelineBuffer is how many watched events may wait for routing; beyond it
// the watch's handler waits (client-go buffers behind it), so nothing is lost.
const PipelineBuffer = 4096

// NewPipeline wires tree and rt; enricher may be nil (omitLookup).
func NewPipeline(tree *Tree, rt *Runtime, enricher Enricher, m *Metrics) *Pipeline {
	p := &Pipeline{
		in:       make(chan *kube.EnhancedEvent, PipelineBuffer),
		enricher: enricher,
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
func (p *Pipeline) Handle(ev *kube.EnhancedEvent) {
	p.received.Inc()
	p.in <- ev
	p.m.PipelineBacklog.Set(float64(len(p.in)))
}

// Close tells Run that no more events come (call after the watch stopped).
func (p *Pipeline) Close() { close(p.in) }

// Run processes events until Close was called and the buffer is drained.
func (p *Pipeline) Run(ctx context.Context) {
	dst := make([]int, 0, 8)
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
		for _, i := range dst {
			p.rt.Enqueue(i, ev)
		}
		p.m.PipelineDuration.Observe(time.Since(start).Seconds())
	}
}
