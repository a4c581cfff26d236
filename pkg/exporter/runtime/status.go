package runtime

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/eventide/eventide/pkg/exporter/grouping"
	"github.com/eventide/eventide/pkg/sinks"
)

// Receiver states, as the status page shows them.
const (
	StateIdle        = "idle"         // nothing queued
	StateDelivering  = "delivering"   // sending what is queued
	StateRetrying    = "retrying"     // waiting to retry a failed send
	StateRateLimited = "rate_limited" // waiting for delivery.rateLimit, or the service said 429
)

// ReceiverStatus is what a receiver's worker is doing now.
type ReceiverStatus struct {
	// Worker identifies the worker: a reload that changes the receiver's
	// settings keeps it; only removing the receiver and adding it again
	// makes another.
	Worker  uint64
	State   string
	Queued  int // events in its memory queue
	Spooled int // events in its disk spool
	// Retrying: waiting to retry a failed send, since RetryingSince.
	Retrying      bool
	RetryingSince time.Time
	// LastFailure is the last failed send's class, HTTP status and host
	// (never its error text), at LastFailureAt; zero before any.
	LastFailure   sinks.Failure
	LastFailureAt time.Time
	LastSuccess   time.Time
	// Grouping says the receiver groups; see Groups.
	Grouping bool
}

// workerIDs numbers the workers of the process.
var workerIDs atomic.Uint64

// Status is the named receiver's; false when it does not run.
func (rt *Runtime) Status(name string) (ReceiverStatus, bool) {
	w := rt.worker(name)
	if w == nil {
		return ReceiverStatus{}, false
	}
	w.mu.Lock()
	st := ReceiverStatus{Worker: w.id, Queued: w.n, Retrying: w.interrupt != nil, Grouping: w.group != nil}
	if w.spool != nil {
		st.Spooled = w.spool.count
	}
	w.mu.Unlock()
	w.health.read(&st, time.Now())
	return st, true
}

// Groups are the named grouping receiver's groups now; nil when it does
// not group.
func (rt *Runtime) Groups(name string) []grouping.View {
	w := rt.worker(name)
	if w == nil {
		return nil
	}
	w.mu.Lock()
	g := w.group
	w.mu.Unlock()
	if g == nil {
		return nil
	}
	return g.Views()
}

func (rt *Runtime) worker(name string) *worker {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	return rt.workers[name]
}

// health is what the status page says of a receiver's sends: set by its
// worker, read by the page.
type health struct {
	mu            sync.Mutex
	retryingSince time.Time
	lastFailure   sinks.Failure
	lastFailureAt time.Time
	lastSuccess   time.Time
	pacedUntil    time.Time
}

func (h *health) succeeded() {
	h.mu.Lock()
	h.lastSuccess = time.Now()
	h.mu.Unlock()
}

func (h *health) failed(err error) {
	f := sinks.Describe(err)
	h.mu.Lock()
	h.lastFailure, h.lastFailureAt = f, time.Now()
	h.mu.Unlock()
}

// retrying says whether failed sends wait for a retry; the first true
// after a false starts RetryingSince.
func (h *health) retrying(yes bool) {
	h.mu.Lock()
	switch {
	case !yes:
		h.retryingSince = time.Time{}
	case h.retryingSince.IsZero():
		h.retryingSince = time.Now()
	}
	h.mu.Unlock()
}

// pacing: the next send waits for delivery.rateLimit until until.
func (h *health) pacing(until time.Time) {
	h.mu.Lock()
	h.pacedUntil = until
	h.mu.Unlock()
}

func (h *health) read(st *ReceiverStatus, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st.RetryingSince, st.LastFailure, st.LastFailureAt, st.LastSuccess = h.retryingSince, h.lastFailure, h.lastFailureAt, h.lastSuccess
	switch {
	case !h.retryingSince.IsZero() && h.lastFailure.Class == sinks.ClassRateLimited, now.Before(h.pacedUntil):
		st.State = StateRateLimited
	case !h.retryingSince.IsZero():
		st.State = StateRetrying
	case st.Queued > 0 || st.Spooled > 0:
		st.State = StateDelivering
	default:
		st.State = StateIdle
	}
}
