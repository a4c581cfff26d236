package runtime

import "sync/atomic"

// ReceiverStatus is what a receiver's worker is doing now.
type ReceiverStatus struct {
	// Worker identifies the worker: a reload that changes the receiver's
	// settings keeps it; only removing the receiver and adding it again
	// makes another.
	Worker   uint64
	Queued   int  // events in its memory queue
	Retrying bool // waiting to retry a failed send
}

// workerIDs numbers the workers of the process.
var workerIDs atomic.Uint64

// Status is the named receiver's; false when it does not run.
func (rt *Runtime) Status(name string) (ReceiverStatus, bool) {
	rt.mu.RLock()
	w := rt.workers[name]
	rt.mu.RUnlock()
	if w == nil {
		return ReceiverStatus{}, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return ReceiverStatus{Worker: w.id, Queued: w.n, Retrying: w.interrupt != nil}, true
}
