package exporter

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/eventide/eventide/pkg/kube"
	"github.com/eventide/eventide/pkg/kube/event"
)

// Lookup rules: a lookup never holds back events about other objects.
//
// The pipeline asks the caches about every event's object (Enricher.Cached,
// memory only). When they cannot answer yet, the event is parked with the
// other events about the same object, in arrival order, and the pipeline
// goes on with the next event: events about one object keep their order,
// events about others do not wait. A parked object is asked about again
// every recheckEvery, and when only a request can answer, one of
// lookupWorkers makes it (Enricher.Fetch: one per object however many
// events name it, rate-limited by its own client, apart from the watch).
//
// While parked, an event is received but not routed, so it holds every
// receiver's checkpoint back (see checkpoint.go): a crash cannot skip it.
// At shutdown, parked events the caches can answer are routed; the others
// are left for the next start, which gets them again from the checkpoint.
//
// At most maxParked events wait; beyond that the pipeline stops taking
// events from the watch until lookups finish (nothing is dropped).

// Enricher answers what is known about an event's object: kube.MetadataCache.
type Enricher interface {
	Cached(ref *event.EnhancedObjectReference, waited time.Duration) (kube.Meta, kube.Answer)
	Fetch(ctx context.Context, ref *event.EnhancedObjectReference) (kube.Meta, kube.Answer)
}

const (
	lookupWorkers = 4
	maxParked     = 10000
	recheckEvery  = 20 * time.Millisecond
)

// objectID names the object an event is about.
type objectID struct{ apiVersion, kind, namespace, name string }

func objectOf(ev *event.EnhancedEvent) objectID {
	r := &ev.InvolvedObject
	return objectID{r.APIVersion, r.Kind, r.Namespace, r.Name}
}

// parkedObject holds the events about one object waiting for its lookup.
type parkedObject struct {
	events    []*event.EnhancedEvent
	fetching  bool // a worker has it
	wantFetch bool // waits for a free worker
}

type fetchJob struct {
	id  objectID
	ref *event.EnhancedObjectReference // the first parked event's: read-only until the result
}

type fetchResult struct {
	id     objectID
	meta   kube.Meta
	answer kube.Answer
}

// lookups is the pipeline's parking lot. Only the pipeline goroutine
// touches it; the workers talk to it through jobs and results.
type lookups struct {
	ctx      context.Context
	enricher Enricher
	m        *Metrics
	log      zerolog.Logger
	parked   map[objectID]*parkedObject
	n        int // events parked
	jobs     chan fetchJob
	results  chan fetchResult
	ticker   *time.Ticker
}

func newLookups(ctx context.Context, enricher Enricher, m *Metrics, log zerolog.Logger) *lookups {
	l := &lookups{ctx: ctx, enricher: enricher, m: m, log: log, parked: map[objectID]*parkedObject{},
		jobs: make(chan fetchJob, lookupWorkers), results: make(chan fetchResult, lookupWorkers)}
	if enricher == nil {
		return l
	}
	l.ticker = time.NewTicker(recheckEvery)
	for range lookupWorkers {
		go l.work()
	}
	return l
}

// stop ends the workers.
func (l *lookups) stop() {
	close(l.jobs)
	if l.ticker != nil {
		l.ticker.Stop()
	}
}

func (l *lookups) work() {
	for job := range l.jobs {
		l.m.LookupsInFlight.Inc()
		start := time.Now()
		meta, answer := l.enricher.Fetch(l.ctx, job.ref)
		l.m.LookupDuration.Observe(time.Since(start).Seconds())
		l.m.LookupsInFlight.Dec()
		select {
		case l.results <- fetchResult{id: job.id, meta: meta, answer: answer}:
		case <-l.ctx.Done():
			return
		}
	}
}

// full reports whether the pipeline must stop taking events.
func (l *lookups) full() bool { return l.n >= maxParked }

// tick fires every recheckEvery while events are parked.
func (l *lookups) tick() <-chan time.Time {
	if l.n == 0 {
		return nil
	}
	return l.ticker.C
}

// admit enriches ev if the caches can answer now and reports whether it
// can be routed; otherwise it parks it.
func (l *lookups) admit(ev *event.EnhancedEvent) bool {
	if l.enricher == nil {
		return true
	}
	id := objectOf(ev)
	if po := l.parked[id]; po != nil {
		l.park(po, ev)
		return false
	}
	meta, answer := l.enricher.Cached(&ev.InvolvedObject, time.Since(ev.Received))
	if answer == kube.Known {
		meta.Apply(&ev.InvolvedObject)
		return true
	}
	po := &parkedObject{}
	l.parked[id] = po
	l.park(po, ev)
	if answer == kube.NeedFetch {
		l.fetch(id, po)
	}
	return false
}

func (l *lookups) park(po *parkedObject, ev *event.EnhancedEvent) {
	po.events = append(po.events, ev)
	l.n++
	l.m.LookupsParked.Set(float64(l.n))
}

// fetch hands the object to a worker, or marks it for the next free one.
func (l *lookups) fetch(id objectID, po *parkedObject) {
	select {
	case l.jobs <- fetchJob{id: id, ref: &po.events[0].InvolvedObject}:
		po.fetching, po.wantFetch = true, false
	default:
		po.wantFetch = true
	}
}

// recheck asks the caches again about every parked object; route gets the
// events of those answered, in order.
func (l *lookups) recheck(route func(*event.EnhancedEvent)) {
	for id, po := range l.parked {
		switch {
		case po.fetching:
			continue
		case po.wantFetch:
			l.fetch(id, po)
			continue
		}
		first := po.events[0]
		meta, answer := l.enricher.Cached(&first.InvolvedObject, time.Since(first.Received))
		switch answer {
		case kube.Known:
			l.release(id, po, meta, route)
		case kube.NeedFetch:
			l.fetch(id, po)
		}
	}
}

// fetched takes a worker's answer. A Wait answer (a kind just learned)
// leaves the object parked for recheck. Answers that come in after the
// context ended are not used: they are failures caused by the shutdown.
func (l *lookups) fetched(r fetchResult, route func(*event.EnhancedEvent)) {
	po := l.parked[r.id]
	if po == nil {
		return
	}
	po.fetching = false
	if r.answer == kube.Known && l.ctx.Err() == nil {
		l.release(r.id, po, r.meta, route)
	}
}

// release enriches the object's events with meta and routes them in order.
// An event naming another UID than the first (a name reused by a new
// object) gets its own answer.
func (l *lookups) release(id objectID, po *parkedObject, meta kube.Meta, route func(*event.EnhancedEvent)) {
	uid := po.events[0].InvolvedObject.UID
	for _, ev := range po.events {
		m := meta
		if ev.InvolvedObject.UID != uid {
			if own, answer := l.enricher.Cached(&ev.InvolvedObject, time.Hour); answer == kube.Known {
				m = own
			}
		}
		m.Apply(&ev.InvolvedObject)
		route(ev)
	}
	delete(l.parked, id)
	l.n -= len(po.events)
	l.m.LookupsParked.Set(float64(l.n))
}

// finish routes, at shutdown, the parked events the caches can answer
// without waiting any longer, and reports those left for the next start.
func (l *lookups) finish(route func(*event.EnhancedEvent)) {
	if l.n == 0 {
		return
	}
	for id, po := range l.parked {
		if meta, answer := l.enricher.Cached(&po.events[0].InvolvedObject, time.Hour); answer == kube.Known {
			l.release(id, po, meta, route)
		}
	}
	if l.n > 0 {
		l.log.Info().Int("events", l.n).Int("objects", len(l.parked)).
			Msg("events still waiting for a lookup at shutdown are not sent now; the checkpoint holds them for the next start")
	}
}
