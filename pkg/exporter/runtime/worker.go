package runtime

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eventide/eventide/pkg/exporter/grouping"
	"github.com/eventide/eventide/pkg/exporter/recent"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// worker delivers one receiver's events: its queue (a ring buffer, then the
// spool), its retries, and its sink.
type worker struct {
	id      uint64 // ReceiverStatus.Worker
	tracker Tracker
	dead    *DeadLetter
	deadCnt prometheus.Counter
	name    string
	sink    sinks.Sink
	opts    Delivery
	pace    *pacer // delivery.rateLimit; nil: none
	log     zerolog.Logger
	// group is a grouping receiver's groups (nil: sends per event);
	// newGroup builds them when a reload turns grouping on.
	group    *grouping.Grouper
	newGroup func(grouping.Config) *grouping.Grouper

	mu      sync.Mutex
	queue   []*event.EnhancedEvent // ring buffer
	head, n int
	wake    chan struct{} // one slot: "has work"
	closing atomic.Bool
	next    *Receiver // new settings from a reload, taken between batches
	// interrupt ends the current retry backoff (set while waiting).
	interrupt context.CancelFunc
	// stop cancels the worker's sends; finished is closed when run returns.
	stop     context.CancelFunc
	finished chan struct{}
	logs     *logLimiter // repeated lines are counted, not written
	// recent records each event's outcome for the status page; health
	// is what the page says of the receiver (status.go). Both nil-safe.
	recent *recent.Ring
	health health

	sent, dropFull, dropStop prometheus.Counter
	tmplErrs                 prometheus.Counter
	qlen                     prometheus.Gauge
	duration                 prometheus.Observer
	latency                  prometheus.Observer
	lastSuccess              prometheus.Gauge
	failedCnt, retried       *prometheus.CounterVec
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
		w.recent.Set(ev.Trace, w.name, recent.Dropped, where+"_full")
		w.done(ev)
	}
	if len(evs) > 0 {
		if e := w.logs.event("full/"+where, w.log.Warn()); e != nil {
			e.Str("full", where).Msg("receiver full: dropping its oldest events (see eventide_receiver_dropped_total)")
		}
	}
}

// done tells the tracker the receiver is finished with ev.
func (w *worker) done(ev *event.EnhancedEvent) {
	if w.tracker != nil {
		w.tracker.Done(w.name, ev)
	}
}

// delivered counts ev as sent by this receiver and finishes it.
func (w *worker) delivered(ev *event.EnhancedEvent) {
	w.sent.Inc()
	now := time.Now()
	if !ev.Received.IsZero() {
		w.latency.Observe(now.Sub(ev.Received).Seconds())
	}
	w.lastSuccess.Set(float64(now.UnixNano()) / 1e9)
	w.recent.Set(ev.Trace, w.name, recent.Delivered, "")
	w.done(ev)
}

// deadLetter keeps an event rejected for good, with the reason.
func (w *worker) deadLetter(ev *event.EnhancedEvent, class string, err error, attempts int) {
	w.deadCnt.Inc()
	w.recent.Set(ev.Trace, w.name, recent.DeadLettered, class)
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
		msg := "shutdown deadline passed: queued events not delivered (they will be after a restart)"
		if w.tracker == nil { // no checkpoint holds them back (replay)
			msg = "deadline passed: queued events not delivered; nothing keeps them: run again with those events"
		}
		w.log.Warn().Int("events", w.n).Msg(msg)
		w.dropStop.Add(float64(w.n))
	}
	for i := 0; i < len(w.queue); i++ {
		w.queue[i] = nil
	}
	w.n = 0
	w.qlen.Set(0)
}

// run delivers until the worker drained or ctx ends; after a reload
// changed the receiver's settings it goes on with the new ones.
func (w *worker) run(ctx context.Context) {
	for w.runWith(ctx) {
	}
}

// runWith delivers with the current settings; it returns true when they
// changed.
func (w *worker) runWith(ctx context.Context) (changed bool) {
	maxBatch := 1
	if bs, ok := w.sink.(sinks.BatchSink); ok && bs.MaxBatch() > 1 {
		maxBatch = bs.MaxBatch()
	}
	var linger time.Duration
	if l, ok := w.sink.(sinks.Lingerer); ok {
		linger = l.Linger()
	}
	if w.group != nil {
		maxBatch, linger = absorbBatch, 0 // absorbing sends nothing
	}
	batch := make([]*event.EnhancedEvent, 0, maxBatch)
	for {
		if ctx.Err() != nil {
			return false
		}
		if w.takeNext() {
			return true
		}
		if w.group != nil {
			w.notify(ctx)
		}
		batch = w.pop(batch[:0], maxBatch)
		switch {
		case len(batch) > 0 && w.group != nil:
			w.absorb(batch)
		case len(batch) > 0:
			if len(batch) < maxBatch && linger > 0 {
				batch = w.linger(ctx, batch, maxBatch, linger)
			}
			w.deliver(ctx, batch, w.send, w)
		case w.closing.Load() && (w.group == nil || w.group.Idle()):
			return false
		default:
			if w.closing.Load() {
				w.group.Flush() // draining: what groups keep is sent now
			}
			if !w.wait(ctx) {
				return false
			}
		}
		clear(batch)
	}
}

// absorbBatch is how many queued events a grouping receiver takes at once.
const absorbBatch = 500

// wait blocks until an event comes or, for a grouping receiver, its next
// notification or save is due; false when ctx ended.
func (w *worker) wait(ctx context.Context) bool {
	var due <-chan time.Time
	if w.group != nil {
		if next := w.group.Next(time.Now()); !next.IsZero() {
			t := time.NewTimer(time.Until(next))
			defer t.Stop()
			due = t.C
		}
	}
	select {
	case <-w.wake:
	case <-due:
	case <-ctx.Done():
		return false
	}
	return true
}

// linger waits up to d for batch to fill to max, taking events as they
// come; it stops early when the receiver drains, or when a Filler sink
// says the batch is full.
func (w *worker) linger(ctx context.Context, batch []*event.EnhancedEvent, max int, d time.Duration) []*event.EnhancedEvent {
	timeout := w.after(d)
	filler, _ := w.sink.(sinks.Filler)
	take := func(batch []*event.EnhancedEvent) []*event.EnhancedEvent {
		if filler == nil {
			return w.pop(batch, max)
		}
		for len(batch) < max && !filler.Full(batch) { // one at a time: a full batch takes no more
			n := len(batch)
			if batch = w.pop(batch, n+1); len(batch) == n {
				break
			}
		}
		return batch
	}
	for len(batch) < max && !w.closing.Load() {
		if filler != nil && filler.Full(batch) {
			return batch
		}
		select {
		case <-w.wake:
			batch = take(batch)
		case <-timeout:
			return take(batch)
		case <-ctx.Done():
			return batch
		}
	}
	return batch
}

// send delivers evs with one call to the sink and returns one error per event.
func (w *worker) send(ctx context.Context, evs []*event.EnhancedEvent) []error {
	if bs, ok := w.sink.(sinks.BatchSink); ok {
		return bs.SendBatch(ctx, evs)
	}
	return []error{w.sink.Send(ctx, evs[0])}
}

// settler is what becomes of the items one delivery sends: the events
// of a batch (the worker itself), or a group's notification.
type settler interface {
	// delivered: the item reached the receiver.
	delivered(ev *event.EnhancedEvent)
	// failed: the item failed for good (permanent, or out of retries);
	// it returns how many events that failed.
	failed(ev *event.EnhancedEvent, class string, err error, attempts int) int
	// interrupted: a reload (stopped false) or the hard stop cut the
	// retries of items short; they are still pending.
	interrupted(evs []*event.EnhancedEvent, stopped bool)
}

// sender sends items with one call and returns one error per item.
type sender func(ctx context.Context, evs []*event.EnhancedEvent) []error

// deliver sends evs, retrying those that failed retryably with exponential
// backoff and jitter (at least the longest Retry-After a server gave, up
// to maxRetryAfter), up to MaxRetries times, paced by delivery.rateLimit.
// Items that fail for good are counted and logged, one line per attempt
// that had failures, not one per item. It is the receiver's one retry
// loop: events and group notifications alike go through it.
func (w *worker) deliver(ctx context.Context, evs []*event.EnhancedEvent, send sender, s settler) {
	backoff := w.opts.InitialBackoff
	pending := evs
	defer w.health.retrying(false) // once it returns, nothing of evs waits for a retry
	for attempt := 0; ; attempt++ {
		if err := w.pace.wait(ctx, &w.health); err != nil {
			s.interrupted(pending, true)
			return
		}
		sctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
		start := time.Now()
		errs := send(sctx, pending)
		cancel()
		w.duration.Observe(time.Since(start).Seconds())
		if ctx.Err() != nil {
			s.interrupted(pending, true)
			return
		}
		var (
			retry      []*event.EnhancedEvent
			retryAfter time.Duration
			failed, ok int
			firstErr   error
			firstEv    *event.EnhancedEvent
			firstClass string
		)
		for i, err := range errs {
			if err == nil {
				ok++
				s.delivered(pending[i])
				continue
			}
			c, retryable, after := sinks.Classify(err)
			class := string(c)
			if class == "template" {
				w.tmplErrs.Inc()
			}
			if firstErr == nil {
				firstErr, firstEv, firstClass = err, pending[i], class
			}
			if retryable && w.opts.mayRetry(attempt+1) {
				retry = append(retry, pending[i])
				w.recent.Set(pending[i].Trace, w.name, recent.Retrying, class)
				w.retried.WithLabelValues(class).Inc()
				retryAfter = max(retryAfter, after)
				continue
			}
			failed += s.failed(pending[i], class, err, attempt+1)
		}
		if ok > 0 {
			w.health.succeeded()
		}
		if firstErr == nil {
			return
		}
		w.health.failed(firstErr)
		if failed > 0 {
			if e := w.logs.event("failed/"+firstClass, w.log.Error()); e != nil {
				e.Err(firstErr).Str("reason", firstClass).Int("attempts", attempt+1).Int("events", failed).
					Str("event_namespace", firstEv.Namespace).Str("event_name", firstEv.Name).Str("event_reason", firstEv.Reason).
					Msg("send failed; events not delivered to this receiver")
			}
		}
		if len(retry) == 0 {
			return
		}
		w.health.retrying(true)
		wait := max(jitter(backoff), min(retryAfter, w.opts.MaxRetryAfter))
		if attempt == 0 {
			if e := w.logs.event("retry/"+firstClass, w.log.Warn()); e != nil {
				e.Err(firstErr).Str("reason", firstClass).Int("events", len(retry)).Dur("retry_in", wait).Msg("send failed; retrying")
			}
		}
		if w.backoff(ctx, wait) != nil {
			// The hard stop, or a reload changed the receiver (a fixed
			// endpoint, say): the items wait for the new settings.
			s.interrupted(retry, ctx.Err() != nil)
			return
		}
		backoff = min(backoff*2, w.opts.MaxBackoff)
		pending = retry
	}
}

// failed counts and dead-letters an event that failed for good.
func (w *worker) failed(ev *event.EnhancedEvent, class string, err error, attempts int) int {
	w.failedCnt.WithLabelValues(class).Inc()
	w.deadLetter(ev, class, err, attempts)
	w.done(ev)
	return 1
}

// interrupted: events whose retries a reload cut short go back first
// in line, for the new settings; after the hard stop they stay pending
// (sent after a restart).
func (w *worker) interrupted(evs []*event.EnhancedEvent, stopped bool) {
	if stopped {
		w.dropStop.Add(float64(len(evs)))
		for _, ev := range evs {
			w.recent.Set(ev.Trace, w.name, recent.Dropped, DropShutdown)
		}
		return
	}
	w.pushFront(evs)
}

// backoff waits d before a retry; replace cuts the wait short.
func (w *worker) backoff(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w.mu.Lock()
	if w.next != nil {
		w.mu.Unlock()
		return context.Canceled
	}
	w.interrupt = cancel
	w.mu.Unlock()
	err := w.sleep(ctx, d)
	w.mu.Lock()
	w.interrupt = nil
	w.mu.Unlock()
	return err
}

// pushFront puts evs back at the head of the queue, in order, growing it
// when it is full: they were taken from it and are still pending.
func (w *worker) pushFront(evs []*event.EnhancedEvent) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if free := len(w.queue) - w.n; free < len(evs) {
		q := make([]*event.EnhancedEvent, w.n+len(evs))
		for i := 0; i < w.n; i++ {
			q[len(evs)+i] = w.queue[(w.head+i)%len(w.queue)]
		}
		copy(q, evs)
		w.queue, w.head, w.n = q, 0, len(q)
		w.qlen.Set(float64(w.n))
		return
	}
	for i := len(evs) - 1; i >= 0; i-- {
		w.head = (w.head - 1 + len(w.queue)) % len(w.queue)
		w.queue[w.head] = evs[i]
		w.n++
	}
	w.qlen.Set(float64(w.n))
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

// replace hands the worker new settings from a reload; it takes them
// between two batches, so nothing queued or in flight is lost.
func (w *worker) replace(r Receiver) {
	w.mu.Lock()
	w.next = &r
	if w.interrupt != nil {
		w.interrupt() // stop waiting to retry with the old settings
	}
	w.mu.Unlock()
	w.signal()
}

// takeNext switches to settings handed over by replace, if any: the new
// sink and delivery settings, the queue resized (never below what it
// holds), the groups reconfigured. The old sink is closed: nothing is in
// flight on it between two deliveries.
func (w *worker) takeNext() bool {
	w.mu.Lock()
	next := w.next
	w.next = nil
	if next == nil {
		w.mu.Unlock()
		return false
	}
	old := w.sink
	w.sink, w.opts, w.pace = next.Sink, next.Delivery, next.pace
	if size := max(next.Delivery.QueueSize, w.n); size != len(w.queue) {
		q := make([]*event.EnhancedEvent, size)
		for i := 0; i < w.n; i++ {
			q[i] = w.queue[(w.head+i)%len(w.queue)]
		}
		w.queue, w.head = q, 0
	}
	w.mu.Unlock()
	w.regroup(next.Group)
	if err := old.Close(); err != nil {
		w.log.Warn().Err(err).Msg("closing the replaced sink")
	}
	w.log.Info().Msg("receiver settings changed: applied, queue kept")
	return true
}

// closeSink closes the sink once the worker has stopped.
func (w *worker) closeSink() {
	if err := w.sink.Close(); err != nil {
		w.log.Warn().Err(err).Msg("closing the sink")
	}
}

// closeSpool removes the spool of a worker that never ran.
func (w *worker) closeSpool() {
	if w.spool != nil {
		w.spool.close()
	}
}
