package exporter

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eventide/eventide/pkg/kube/event"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/eventide/eventide/pkg/sinks"
)

// Runtime runs one bounded queue and one worker per receiver, so a slow or
// dead receiver never blocks the pipeline or another receiver.
type Runtime struct {
	workers  map[string]*worker // by receiver name
	wg       sync.WaitGroup
	hardStop context.CancelFunc
	hardCtx  context.Context
}

// RuntimeOptions are the runtime's optional collaborators.
type RuntimeOptions struct {
	// Tracker, when set, is told when each event is finished with.
	Tracker *Tracker
	// DeadLetter, when set, receives events rejected for good.
	DeadLetter *DeadLetter
	// SpoolDir, when set, holds each receiver's overflow on disk (a folder
	// per receiver), up to SpoolMaxBytes each.
	SpoolDir      string
	SpoolMaxBytes int64
}

// NewRuntime prepares a worker per receiver; Start runs them.
func NewRuntime(receivers []Receiver, m *Metrics, log zerolog.Logger, opts RuntimeOptions) (*Runtime, error) {
	rt := &Runtime{workers: make(map[string]*worker, len(receivers))}
	rt.hardCtx, rt.hardStop = context.WithCancel(context.Background())
	for _, r := range receivers {
		w := &worker{
			tracker:  opts.Tracker,
			dead:     opts.DeadLetter,
			deadCnt:  m.DeadLetters.WithLabelValues(r.Name),
			name:     r.Name,
			sink:     r.Sink,
			opts:     r.Delivery,
			log:      log.With().Str("receiver", r.Name).Logger(),
			queue:    make([]*event.EnhancedEvent, r.Delivery.QueueSize),
			wake:     make(chan struct{}, 1),
			sent:     m.Sent.WithLabelValues(r.Name),
			dropFull: m.Dropped.WithLabelValues(r.Name, "queue_full"),
			dropStop: m.Dropped.WithLabelValues(r.Name, "shutdown"),
			qlen:     m.QueueLength.WithLabelValues(r.Name),
			duration: m.SendDuration.WithLabelValues(r.Name),
			tmplErrs: m.TemplateErrors.WithLabelValues(r.Name),
			failed:   m.Failed.MustCurryWith(prometheus.Labels{"receiver": r.Name}),
			retried:  m.Retried.MustCurryWith(prometheus.Labels{"receiver": r.Name}),
			sleep:    sleepCtx,
			after:    time.After,

			dropSpool:   m.Dropped.WithLabelValues(r.Name, "spool_full"),
			spoolEvents: m.SpoolEvents.WithLabelValues(r.Name),
			spoolBytes:  m.SpoolBytes.WithLabelValues(r.Name),
		}
		if opts.SpoolDir != "" {
			sp, err := newSpool(opts.SpoolDir, r.Name, opts.SpoolMaxBytes)
			if err != nil {
				for _, w := range rt.workers {
					w.spool.close()
				}
				return nil, fmt.Errorf("receiver %q: %w", r.Name, err)
			}
			w.spool = sp
		}
		if acker, ok := r.Sink.(sinks.AckSink); ok {
			acker.SetAck(w.ack)
		}
		rt.workers[r.Name] = w
	}
	return rt, nil
}

// Start runs every worker.
func (rt *Runtime) Start() {
	for _, w := range rt.workers {
		rt.wg.Add(1)
		go func() {
			defer rt.wg.Done()
			w.run(rt.hardCtx)
		}()
	}
}

// Enqueue hands ev to the named receiver without blocking. What its memory
// queue cannot hold goes to its disk spool; without one, or when the spool
// is full, the oldest is dropped (counted in receiver_dropped_total).
func (rt *Runtime) Enqueue(receiver string, ev *event.EnhancedEvent) {
	rt.workers[receiver].enqueue(ev)
}

// Shutdown stops taking events and lets each worker deliver what it has
// queued until ctx ends; then sends in flight are cancelled and what is left
// is counted as dropped (reason shutdown).
func (rt *Runtime) Shutdown(ctx context.Context) {
	for _, w := range rt.workers {
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
	for _, w := range rt.workers {
		w.dropRemaining()
	}
}

type worker struct {
	tracker *Tracker
	dead    *DeadLetter
	deadCnt prometheus.Counter
	name    string
	sink    sinks.Sink
	opts    DeliveryConfig
	log     zerolog.Logger

	mu      sync.Mutex
	queue   []*event.EnhancedEvent // ring buffer
	head, n int
	wake    chan struct{} // one slot: "has work"
	closing atomic.Bool
	dropLog time.Time // last "dropping oldest" log line, to log once per burst
	ackLog  time.Time // last late-failure log line, to log once per minute

	sent, dropFull, dropStop prometheus.Counter
	tmplErrs                 prometheus.Counter
	qlen                     prometheus.Gauge
	duration                 prometheus.Observer
	failed, retried          *prometheus.CounterVec
	sleep                    func(context.Context, time.Duration) error
	after                    func(time.Duration) <-chan time.Time

	spool                   *spool // nil: no disk overflow
	dropSpool               prometheus.Counter
	spoolEvents, spoolBytes prometheus.Gauge
}

func (w *worker) enqueue(ev *event.EnhancedEvent) {
	w.mu.Lock()
	if w.spool != nil && (w.spool.count > 0 || w.n == len(w.queue)) {
		w.spill(ev)
		w.mu.Unlock()
		w.signal()
		return
	}
	if w.n == len(w.queue) {
		// Full: drop the oldest so the newest (most relevant) is kept.
		w.dropOldest("queue", w.dropFull, w.queue[w.head])
		w.queue[w.head] = nil
		w.head = (w.head + 1) % len(w.queue)
		w.n--
	}
	w.queue[(w.head+w.n)%len(w.queue)] = ev
	w.n++
	w.qlen.Set(float64(w.n))
	w.mu.Unlock()
	w.signal()
}

// dropOldest counts and finishes events dropped because the receiver's
// queue or spool was full, logging once per burst. Called with w.mu held.
func (w *worker) dropOldest(where string, counter prometheus.Counter, evs ...*event.EnhancedEvent) {
	for _, ev := range evs {
		counter.Inc()
		w.done(ev)
	}
	if now := time.Now(); len(evs) > 0 && now.Sub(w.dropLog) > time.Minute {
		w.dropLog = now
		w.log.Warn().Str("full", where).Msg("receiver full: dropping its oldest events (see eventide_receiver_dropped_total)")
	}
}

// done tells the tracker the receiver is finished with ev.
func (w *worker) done(ev *event.EnhancedEvent) {
	if w.tracker != nil {
		w.tracker.Done(w.name, ev)
	}
}

// deadLetter keeps an event rejected for good, with the reason.
func (w *worker) deadLetter(ev *event.EnhancedEvent, class string, err error, attempts int) {
	w.deadCnt.Inc()
	if w.dead == nil {
		return
	}
	if derr := w.dead.Write(w.name, class, err, attempts, ev); derr != nil {
		w.log.Error().Err(derr).Msg("cannot write the dead-letter file")
	}
}

func (w *worker) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// spill appends ev to the disk spool (the memory queue is full, or the
// spool already holds older events); a full spool drops its oldest.
// Called with w.mu held.
func (w *worker) spill(ev *event.EnhancedEvent) {
	dropped, err := w.spool.push(ev)
	w.dropOldest("spool", w.dropSpool, dropped...)
	if err != nil {
		w.log.Error().Err(err).Msg("spool write failed; event dropped")
		w.dropSpool.Inc()
		w.done(ev)
	}
	w.spoolEvents.Set(float64(w.spool.count))
	w.spoolBytes.Set(float64(w.spool.bytes))
}

// pop moves up to max queued events, oldest first, into dst: the memory
// queue, then the spool (whose events are all newer).
func (w *worker) pop(dst []*event.EnhancedEvent, max int) []*event.EnhancedEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.n > 0 && len(dst) < max {
		dst = append(dst, w.queue[w.head])
		w.queue[w.head] = nil
		w.head = (w.head + 1) % len(w.queue)
		w.n--
	}
	for w.spool != nil && w.spool.count > 0 && len(dst) < max {
		ev, err := w.spool.pop()
		if err != nil {
			w.log.Error().Err(err).Msg("spool read failed; spooled events dropped")
			w.dropSpool.Add(float64(w.spool.count))
			w.spool.count, w.spool.bytes = 0, 0
			break
		}
		dst = append(dst, ev)
	}
	w.qlen.Set(float64(w.n))
	if w.spool != nil {
		w.spoolEvents.Set(float64(w.spool.count))
		w.spoolBytes.Set(float64(w.spool.bytes))
	}
	return dst
}

func (w *worker) dropRemaining() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.spool != nil {
		// Still pending in the checkpoint: sent after the restart.
		w.n += w.spool.count
		w.spool.close()
		w.spool = nil
	}
	if w.n > 0 {
		w.log.Warn().Int("events", w.n).Msg("shutdown deadline passed: queued events not delivered (they will be after a restart)")
		w.dropStop.Add(float64(w.n))
	}
	for i := 0; i < len(w.queue); i++ {
		w.queue[i] = nil
	}
	w.n = 0
	w.qlen.Set(0)
}

func (w *worker) run(ctx context.Context) {
	maxBatch := 1
	if bs, ok := w.sink.(sinks.BatchSink); ok && bs.MaxBatch() > 1 {
		maxBatch = bs.MaxBatch()
	}
	var linger time.Duration
	if l, ok := w.sink.(sinks.Lingerer); ok {
		linger = l.Linger()
	}
	acker, _ := w.sink.(sinks.AckSink)
	flushed := false
	batch := make([]*event.EnhancedEvent, 0, maxBatch)
	for {
		if ctx.Err() != nil {
			return
		}
		batch = w.pop(batch[:0], maxBatch)
		if len(batch) > 0 && len(batch) < maxBatch && linger > 0 {
			batch = w.linger(ctx, batch, maxBatch, linger)
		}
		if len(batch) == 0 {
			if w.closing.Load() {
				if acker == nil || flushed {
					return
				}
				// Draining: what the sink kept is delivered (or failed and
				// queued again) before the worker ends.
				flushed = true
				acker.Flush(ctx)
				continue
			}
			select {
			case <-w.wake:
			case <-ctx.Done():
				return
			}
			continue
		}
		w.deliver(ctx, batch)
		clear(batch)
	}
}

// linger waits up to d for batch to fill to max, taking events as they
// come; it stops early when the receiver drains.
func (w *worker) linger(ctx context.Context, batch []*event.EnhancedEvent, max int, d time.Duration) []*event.EnhancedEvent {
	timeout := w.after(d)
	for len(batch) < max && !w.closing.Load() {
		select {
		case <-w.wake:
			batch = w.pop(batch, max)
		case <-timeout:
			return w.pop(batch, max)
		case <-ctx.Done():
			return batch
		}
	}
	return batch
}

// ack is an AckSink's late acknowledgement of a kept event.
func (w *worker) ack(ev *event.EnhancedEvent, err error) {
	if err == nil {
		w.sent.Inc()
		w.done(ev)
		return
	}
	class, retryable, _ := sinks.Classify(err)
	if class == "template" {
		w.tmplErrs.Inc()
	}
	if retryable && w.opts.MaxRetries != 0 {
		w.retried.WithLabelValues(class).Inc()
		w.enqueue(ev)
		return
	}
	w.failed.WithLabelValues(class).Inc()
	w.deadLetter(ev, class, err, 1)
	w.done(ev)
	w.mu.Lock()
	logNow := time.Since(w.ackLog) > time.Minute
	if logNow {
		w.ackLog = time.Now()
	}
	w.mu.Unlock()
	if logNow {
		w.log.Error().Err(err).Str("reason", class).Str("event_namespace", ev.Namespace).Str("event_name", ev.Name).
			Msg("send failed after the sink kept the event; not delivered to this receiver (more within a minute are only counted)")
	}
}

// send delivers evs with one call to the sink and returns one error per event.
func (w *worker) send(ctx context.Context, evs []*event.EnhancedEvent) []error {
	if bs, ok := w.sink.(sinks.BatchSink); ok {
		return bs.SendBatch(ctx, evs)
	}
	return []error{w.sink.Send(ctx, evs[0])}
}

// deliver sends evs, retrying those that failed retryably with exponential
// backoff and jitter (at least the longest Retry-After a server gave), up
// to MaxRetries times. Events that fail for good are counted and logged,
// one line per attempt that had failures, not one per event.
func (w *worker) deliver(ctx context.Context, evs []*event.EnhancedEvent) {
	backoff := w.opts.InitialBackoff
	pending := evs
	for attempt := 0; ; attempt++ {
		sctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
		start := time.Now()
		errs := w.send(sctx, pending)
		cancel()
		w.duration.Observe(time.Since(start).Seconds())
		if ctx.Err() != nil {
			w.dropStop.Add(float64(len(pending)))
			return
		}
		var (
			retry      []*event.EnhancedEvent
			retryAfter time.Duration
			failed     int
			firstErr   error
			firstEv    *event.EnhancedEvent
			firstClass string
		)
		for i, err := range errs {
			if err == nil {
				w.sent.Inc()
				w.done(pending[i])
				continue
			}
			if errors.Is(err, sinks.ErrKept) {
				continue // pending until the sink acknowledges it
			}
			class, retryable, after := sinks.Classify(err)
			if class == "template" {
				w.tmplErrs.Inc()
			}
			if firstErr == nil {
				firstErr, firstEv, firstClass = err, pending[i], class
			}
			if retryable && (w.opts.MaxRetries == RetryForever || attempt < w.opts.MaxRetries) {
				retry = append(retry, pending[i])
				w.retried.WithLabelValues(class).Inc()
				retryAfter = max(retryAfter, after)
				continue
			}
			failed++
			w.failed.WithLabelValues(class).Inc()
			w.deadLetter(pending[i], class, err, attempt+1)
			w.done(pending[i])
		}
		if firstErr == nil {
			return
		}
		if failed > 0 {
			w.log.Error().Err(firstErr).Str("reason", firstClass).Int("attempts", attempt+1).Int("events", failed).
				Str("event_namespace", firstEv.Namespace).Str("event_name", firstEv.Name).Str("event_reason", firstEv.Reason).
				Msg("send failed; events not delivered to this receiver")
		}
		if len(retry) == 0 {
			return
		}
		wait := max(jitter(backoff), retryAfter)
		if attempt == 0 {
			w.log.Warn().Err(firstErr).Str("reason", firstClass).Int("events", len(retry)).Dur("retry_in", wait).Msg("send failed; retrying")
		}
		if w.sleep(ctx, wait) != nil {
			w.dropStop.Add(float64(len(retry)))
			return
		}
		backoff = min(backoff*2, w.opts.MaxBackoff)
		pending = retry
	}
}

// jitter spreads d over [d/2, d) so receivers that failed together do not
// retry together.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
