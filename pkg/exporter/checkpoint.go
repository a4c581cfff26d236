package exporter

import (
	"container/heap"
	"strconv"
	"sync"

	"github.com/eventide/eventide/pkg/kube/event"
)

// Checkpoints: what each receiver has acknowledged, as one resourceVersion
// per receiver and watch stream.
//
// Every change to an Event object (a new event, a repeat bumping count or
// series) gets a new resourceVersion, and one watch stream delivers changes
// in resourceVersion order (etcd revisions: eventide compares them as
// integers, which is what kube-apiserver on etcd gives; where an RV is not
// an integer, the event is not checkpointed and the age rule applies). So
// "every event of this stream routed to this receiver with RV <= H was
// delivered, dropped or dead-lettered" is one number H per receiver and
// stream: the oldest pending RV minus one, or, with nothing pending, the
// last RV the pipeline dispatched. On restart, a listed event with RV <= H
// is not sent to that receiver again; one with RV > H (created or updated
// while eventide was down) is.
//
// A stream is the one watch of all namespaces ("*"), or each namespace's
// own watch when several are configured.

// StreamAll names the stream of a watch over all namespaces (or one).
const StreamAll = "*"

// Tracker follows, per receiver and stream, the events not yet acknowledged.
type Tracker struct {
	mu         sync.Mutex
	perStream  bool // one stream per namespace
	pending    []map[string]*rvHeap
	dispatched map[string]uint64
	// restored are the checkpoints loaded at start: events at or below
	// them were delivered before.
	restored []map[string]uint64
}

// NewTracker tracks n receivers; perStream when several namespaces are
// watched, each with its own watch.
func NewTracker(n int, perStream bool, restored []map[string]uint64) *Tracker {
	t := &Tracker{perStream: perStream, dispatched: map[string]uint64{}, restored: restored}
	for i := 0; i < n; i++ {
		t.pending = append(t.pending, map[string]*rvHeap{})
	}
	if t.restored == nil {
		t.restored = make([]map[string]uint64, n)
	}
	return t
}

// Stream names ev's watch stream.
func (t *Tracker) Stream(ev *event.EnhancedEvent) string {
	if t.perStream {
		return ev.Namespace
	}
	return StreamAll
}

// RV is ev's resourceVersion as a number, or 0 when it is not one.
func RV(ev *event.EnhancedEvent) uint64 {
	rv, err := strconv.ParseUint(ev.ResourceVersion, 10, 64)
	if err != nil {
		return 0
	}
	return rv
}

// Restored reports the checkpoint loaded at start for receiver i and ev's
// stream, and whether there was one.
func (t *Tracker) Restored(i int, ev *event.EnhancedEvent) (uint64, bool) {
	cp, ok := t.restored[i][t.Stream(ev)]
	return cp, ok
}

// Add records that ev was handed to receiver i.
func (t *Tracker) Add(i int, ev *event.EnhancedEvent) {
	rv := RV(ev)
	if rv == 0 {
		return
	}
	s := t.Stream(ev)
	t.mu.Lock()
	h := t.pending[i][s]
	if h == nil {
		h = &rvHeap{}
		t.pending[i][s] = h
	}
	heap.Push(h, rv)
	t.mu.Unlock()
}

// Dispatched records that the pipeline has routed ev (after Add for each of
// its receivers).
func (t *Tracker) Dispatched(ev *event.EnhancedEvent) {
	rv := RV(ev)
	if rv == 0 {
		return
	}
	s := t.Stream(ev)
	t.mu.Lock()
	if rv > t.dispatched[s] {
		t.dispatched[s] = rv
	}
	t.mu.Unlock()
}

// Done records that receiver i is finished with ev: delivered, given up
// on (dead-lettered) or dropped.
func (t *Tracker) Done(i int, ev *event.EnhancedEvent) {
	rv := RV(ev)
	if rv == 0 {
		return
	}
	s := t.Stream(ev)
	t.mu.Lock()
	if h := t.pending[i][s]; h != nil {
		h.remove(rv)
	}
	t.mu.Unlock()
}

// Pending is how many events receiver i has not finished.
func (t *Tracker) Pending(i int) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, h := range t.pending[i] {
		n += h.Len()
	}
	return n
}

// Checkpoints returns, per receiver, each stream's checkpoint: streams not
// seen since start keep the checkpoint they were restored with.
func (t *Tracker) Checkpoints() []map[string]uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]map[string]uint64, len(t.pending))
	for i := range out {
		out[i] = map[string]uint64{}
		for s, cp := range t.restored[i] {
			out[i][s] = cp
		}
		for s, d := range t.dispatched {
			cp := d
			if h := t.pending[i][s]; h != nil && h.Len() > 0 {
				cp = (*h)[0] - 1
			}
			if cp > out[i][s] {
				out[i][s] = cp
			}
		}
	}
	return out
}

// rvHeap is a min-heap of resourceVersions (a multiset: an RV is pending
// once per hand-over).
type rvHeap []uint64

func (h rvHeap) Len() int           { return len(h) }
func (h rvHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h rvHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *rvHeap) Push(x any)        { *h = append(*h, x.(uint64)) }
func (h *rvHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// remove takes one rv out. Events mostly finish oldest first, so the
// common case is the root.
func (h *rvHeap) remove(rv uint64) {
	if h.Len() > 0 && (*h)[0] == rv {
		heap.Pop(h)
		return
	}
	for i, x := range *h {
		if x == rv {
			heap.Remove(h, i)
			return
		}
	}
}
