// Package runtime delivers each receiver's events: one bounded queue and
// worker per receiver (ring buffer, then a disk spool), a timeout per send,
// retries with backoff, jitter and a Retry-After cap, failure classes and
// log limiting, delivery.rateLimit, the dead-letter file, and receivers
// added, replaced and removed while it runs. It knows receivers by name.
package runtime

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/eventide/eventide/pkg/exporter/grouping"
	"github.com/eventide/eventide/pkg/exporter/recent"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Runtime runs one bounded queue and one worker per receiver, so a slow or
// dead receiver never blocks the pipeline or another receiver. Receivers
// can be added, replaced and removed while it runs (a config reload).
type Runtime struct {
	m    *Metrics
	log  zerolog.Logger
	opts Options

	mu       sync.RWMutex
	workers  map[string]*worker // by receiver name
	started  bool
	wg       sync.WaitGroup // running workers and removals
	hardStop context.CancelFunc
	hardCtx  context.Context
}

// Options are the runtime's optional collaborators.
type Options struct {
	// Tracker, when set, is told when each event is finished with.
	Tracker Tracker
	// DeadLetter, when set, receives events rejected for good.
	DeadLetter *DeadLetter
	// SpoolDir, when set, holds each receiver's overflow on disk (a folder
	// per receiver), up to SpoolMaxBytes each.
	SpoolDir      string
	SpoolMaxBytes int64
	// Groups, when set, stores grouping receivers' state in the cluster.
	Groups GroupStores
	// Recent, when set, is told what became of each event at each
	// receiver (the status page's recent events).
	Recent *recent.Ring
}

// Tracker is told when a receiver is finished with an event (delivered,
// dead-lettered or dropped): the checkpoints (pkg/exporter).
type Tracker interface {
	Done(receiver string, ev *event.EnhancedEvent)
}

// GroupStores gives each grouping receiver where its group state is kept,
// and what was kept there at start.
type GroupStores interface {
	ForReceiver(receiver string) (grouping.Store, []byte)
}

// Reasons of eventide_receiver_dropped_total.
const (
	DropQueueFull = "queue_full" // the memory queue was full and there is no spool
	DropSpoolFull = "spool_full" // the spool was full: its oldest event went
	DropShutdown  = "shutdown"   // still queued when the drain ended (sent after a restart)
)

// DropReasons lists them.
var DropReasons = []string{DropQueueFull, DropSpoolFull, DropShutdown}

// NewRuntime prepares a worker per receiver; Start runs them.
func NewRuntime(receivers []Receiver, m *Metrics, log zerolog.Logger, opts Options) (*Runtime, error) {
	rt := &Runtime{m: m, log: log, opts: opts, workers: make(map[string]*worker, len(receivers))}
	rt.hardCtx, rt.hardStop = context.WithCancel(context.Background())
	for _, r := range receivers {
		w, err := rt.newWorker(r)
		if err != nil {
			for _, w := range rt.workers {
				w.closeSpool()
			}
			return nil, err
		}
		rt.workers[r.Name] = w
	}
	return rt, nil
}

// prepare gives r its pacer (delivery.rateLimit).
func (rt *Runtime) prepare(r Receiver) Receiver {
	r.pace = rt.m.newPacer(r.Name, r.Delivery)
	return r
}

// grouper builds receiver's groups from cfg, restored from the state
// stored for it.
func (rt *Runtime) grouper(receiver string) func(grouping.Config) *grouping.Grouper {
	return func(cfg grouping.Config) *grouping.Grouper {
		opts := grouping.Options{Log: rt.log.With().Str("receiver", receiver).Logger(), Metrics: rt.m.groupMetrics(receiver)}
		if rt.opts.Groups != nil {
			opts.Store, opts.Restored = rt.opts.Groups.ForReceiver(receiver)
		}
		return grouping.New(cfg, opts)
	}
}

// newWorker builds r's worker with its spool folder; it does not run yet.
func (rt *Runtime) newWorker(r Receiver) (*worker, error) {
	r = rt.prepare(r)
	m := rt.m
	w := &worker{
		id:        workerIDs.Add(1),
		tracker:   rt.opts.Tracker,
		dead:      rt.opts.DeadLetter,
		deadCnt:   m.DeadLetters.WithLabelValues(r.Name),
		name:      r.Name,
		sink:      r.Sink,
		opts:      r.Delivery,
		pace:      r.pace,
		log:       rt.log.With().Str("receiver", r.Name).Logger(),
		logs:      newLogLimiter(),
		recent:    rt.opts.Recent,
		queue:     make([]*event.EnhancedEvent, r.Delivery.QueueSize),
		wake:      make(chan struct{}, 1),
		finished:  make(chan struct{}),
		sent:      m.Sent.WithLabelValues(r.Name),
		dropFull:  m.Dropped.WithLabelValues(r.Name, DropQueueFull),
		dropStop:  m.Dropped.WithLabelValues(r.Name, DropShutdown),
		qlen:      m.QueueLength.WithLabelValues(r.Name),
		duration:  m.SendDuration.WithLabelValues(r.Name),
		latency:   m.DeliveryLatency.WithLabelValues(r.Name),
		tmplErrs:  m.TemplateErrors.WithLabelValues(r.Name),
		failedCnt: m.Failed.MustCurryWith(prometheus.Labels{"receiver": r.Name}),
		retried:   m.Retried.MustCurryWith(prometheus.Labels{"receiver": r.Name}),
		newGroup:  rt.grouper(r.Name),
		sleep:     sleepCtx,
		after:     time.After,

		dropSpool:   m.Dropped.WithLabelValues(r.Name, DropSpoolFull),
		spoolEvents: m.SpoolEvents.WithLabelValues(r.Name),
		spoolBytes:  m.SpoolBytes.WithLabelValues(r.Name),
		lastSuccess: m.LastSuccess.WithLabelValues(r.Name),
	}
	for _, class := range sinks.FailureClasses {
		w.failedCnt.WithLabelValues(string(class))
		w.retried.WithLabelValues(string(class))
	}
	m.setReceiverInfo(r)
	if rt.opts.SpoolDir != "" {
		sp, err := newSpool(rt.opts.SpoolDir, r.Name, rt.opts.SpoolMaxBytes)
		if err != nil {
			return nil, fmt.Errorf("receiver %q: %w", r.Name, err)
		}
		w.spool = sp
	}
	if r.Group != nil {
		w.group = w.newGroup(*r.Group)
	}
	return w, nil
}

// Start runs every worker.
func (rt *Runtime) Start() {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.started = true
	for _, w := range rt.workers {
		rt.run(w)
	}
}

// run starts w's goroutine; it ends when w is drained or stopped.
func (rt *Runtime) run(w *worker) {
	ctx, stop := context.WithCancel(rt.hardCtx)
	w.stop = stop
	rt.wg.Add(1)
	go func() {
		defer rt.wg.Done()
		defer close(w.finished)
		w.run(ctx)
	}()
}

// Enqueue hands ev to the named receiver without blocking. What its memory
// queue cannot hold goes to its disk spool; without one, or when the spool
// is full, the oldest is dropped (counted in receiver_dropped_total).
func (rt *Runtime) Enqueue(receiver string, ev *event.EnhancedEvent) {
	rt.mu.RLock()
	w := rt.workers[receiver]
	rt.mu.RUnlock()
	if w != nil {
		w.enqueue(ev)
	}
}

// Prepared is a new receiver's worker, built (its spool folder opened)
// but not running: Add runs it, Discard closes it.
type Prepared struct{ w *worker }

// Name is the receiver's.
func (p *Prepared) Name() string { return p.w.name }

// Discard closes what Prepare opened, for a receiver never added.
func (p *Prepared) Discard() { p.w.closeSpool() }

// Prepare builds r's worker for Add; nothing runs yet.
func (rt *Runtime) Prepare(r Receiver) (*Prepared, error) {
	w, err := rt.newWorker(r)
	if err != nil {
		return nil, err
	}
	return &Prepared{w: w}, nil
}

// Add runs a worker for a new receiver, built by Prepare.
func (rt *Runtime) Add(p *Prepared) {
	w := p.w
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.workers[w.name] = w
	if rt.started {
		rt.run(w)
	}
}

// Replace gives receiver r.Name a new sink and delivery settings. Its
// queue, spool and the events in flight are kept; the old sink is flushed
// and closed once no send uses it.
func (rt *Runtime) Replace(r Receiver) {
	r = rt.prepare(r)
	rt.mu.RLock()
	w := rt.workers[r.Name]
	rt.mu.RUnlock()
	w.replace(r)
	rt.m.setReceiverInfo(r)
}

// Remove stops handing events to the receiver and lets it deliver what it
// holds for up to drain; what is left then is dropped (reason shutdown).
// Its sink is closed and onDone called once it has stopped.
func (rt *Runtime) Remove(name string, drain time.Duration, onDone func()) {
	rt.mu.Lock()
	w := rt.workers[name]
	delete(rt.workers, name)
	rt.mu.Unlock()
	rt.wg.Add(1)
	go func() {
		defer rt.wg.Done()
		w.closing.Store(true)
		w.signal()
		t := time.NewTimer(drain)
		select {
		case <-w.finished:
		case <-t.C:
			w.stop()
			<-w.finished
		}
		t.Stop()
		w.dropRemaining()
		w.closeSink()
		rt.m.forgetReceiver(name)
		onDone()
	}()
}

// Shutdown stops taking events and lets each worker deliver what it has
// queued until ctx ends; then sends in flight are cancelled and what is left
// is counted as dropped (reason shutdown). The sinks are closed.
func (rt *Runtime) Shutdown(ctx context.Context) {
	rt.mu.RLock()
	workers := make([]*worker, 0, len(rt.workers))
	for _, w := range rt.workers {
		workers = append(workers, w)
	}
	rt.mu.RUnlock()
	for _, w := range workers {
		w.closing.Store(true)
		w.signal()
	}
	done := make(chan struct{})
	go func() { rt.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		rt.hardStop()
		<-done
	}
	rt.hardStop()
	for _, w := range workers {
		w.dropRemaining()
		w.closeSink()
	}
}
