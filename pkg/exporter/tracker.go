package exporter

import (
	"container/heap"
	"strconv"
	"sync"

	"github.com/eventide/eventide/pkg/kube"
	"github.com/eventide/eventide/pkg/kube/event"
)

// Checkpoint rules: what each receiver has acknowledged, as one resourceVersion
// per receiver and watch stream.
//
// Every change to an Event object (a new event, a repeat bumping count or
// series) gets a new resourceVersion, and one watch stream delivers changes
// in resourceVersion order (etcd revisions: eventide compares them as
// integers, which is what kube-apiserver on etcd gives; where an RV is not
// an integer, the event is not checkpointed and the age rule applies). So
// "every event of this stream the watch handed on with RV <= H was
// routed, and every one routed to this receiver was delivered, dropped or
// dead-lettered" is one number H per receiver and stream: the oldest RV
// not yet routed or pending for the receiver, minus one, or, with nothing
// unrouted or pending, the last RV the watch handed on. On restart, a listed event with RV <= H
// is not sent to that receiver again; one with RV > H (created or updated
// while eventide was down) is.
//
// An event counts from the moment the watch hands it on (Received): until
// it is routed (Routed) it holds every receiver's checkpoint back, however
// long it waits for a lookup while later events go ahead. It is pending
// for a receiver from the moment the pipeline hands it on (Add, before the
// enqueue) until the receiver acknowledges it: it was
// delivered, dead-lettered, or dropped because the receiver's queue or spool
// was full. A grouping receiver acknowledges an event once the
// notification counting it is delivered and the group state saying so is
// stored, so until then it holds the checkpoint back and a crash sends it
// again.
//
// A stream is the one watch of all namespaces ("*"), or each namespace's
// own watch when several are configured.

// StreamAll names the stream of a watch over all namespaces (or one).
const StreamAll = "*"

// Tracker follows, per receiver and stream, the events not yet acknowledged.
type Tracker struct {
	mu        sync.Mutex
	perStream bool                          // one stream per namespace
	pending   map[string]map[string]*rvHeap // receiver name -> stream -> RVs
	unrouted  map[string]*rvHeap            // stream -> RVs received, not yet routed
	received  map[string]uint64             // stream -> highest RV received
	// restored are the checkpoints loaded at start: events at or below
	// them were delivered before.
	restored kube.Checkpoints
}

// NewTracker tracks the named receivers; perStream when several namespaces
// are watched, each with its own watch. restored may hold receivers that
// are no longer configured: they are ignored.
func NewTracker(receivers []string, perStream bool, restored kube.Checkpoints) *Tracker {
	t := &Tracker{perStream: perStream, received: map[string]uint64{}, unrouted: map[string]*rvHeap{}, restored: restored,
		pending: make(map[string]map[string]*rvHeap, len(receivers))}
	for _, r := range receivers {
		t.pending[r] = map[string]*rvHeap{}
	}
	if t.restored == nil {
		t.restored = kube.Checkpoints{}
	}
	return t
}

// AddReceiver tracks a receiver added by a reload. It has no checkpoint of
// its own yet, so its checkpoint is the current watch position: after a
// restart it gets what happened since it was added, not the hour the API
// server still holds.
func (t *Tracker) AddReceiver(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pending[name] == nil {
		t.pending[name] = map[string]*rvHeap{}
	}
}

// RemoveReceiver forgets a receiver removed by a reload (after its drain):
// its checkpoint entry is no longer written. (Its restored checkpoint
// stays: restored is read without a lock, and is below every RV the watch
// hands on now, so it cannot hold back a receiver added later by that name.)
func (t *Tracker) RemoveReceiver(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.pending, name)
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

// Restored reports the checkpoint loaded at start for receiver and ev's
// stream, and whether there was one.
func (t *Tracker) Restored(receiver string, ev *event.EnhancedEvent) (uint64, bool) {
	cp, ok := t.restored[receiver][t.Stream(ev)]
	return cp, ok
}

// Add records that ev was handed to receiver.
func (t *Tracker) Add(receiver string, ev *event.EnhancedEvent) {
	rv := RV(ev)
	if rv == 0 {
		return
	}
	s := t.Stream(ev)
	t.mu.Lock()
	h := t.pending[receiver][s]
	if h == nil {
		h = &rvHeap{}
		t.pending[receiver][s] = h
	}
	heap.Push(h, rv)
	t.mu.Unlock()
}

// Received records that the watch handed ev on: from now until Routed it
// holds every receiver's checkpoint of its stream back.
func (t *Tracker) Received(ev *event.EnhancedEvent) {
	rv := RV(ev)
	if rv == 0 {
		return
	}
	s := t.Stream(ev)
	t.mu.Lock()
	h := t.unrouted[s]
	if h == nil {
		h = &rvHeap{}
		t.unrouted[s] = h
	}
	heap.Push(h, rv)
	if rv > t.received[s] {
		t.received[s] = rv
	}
	t.mu.Unlock()
}

// Routed records that the pipeline has routed ev (after Add for each of
// its receivers).
func (t *Tracker) Routed(ev *event.EnhancedEvent) {
	rv := RV(ev)
	if rv == 0 {
		return
	}
	s := t.Stream(ev)
	t.mu.Lock()
	if h := t.unrouted[s]; h != nil {
		h.remove(rv)
	}
	t.mu.Unlock()
}

// Done records that receiver is finished with ev: delivered, given up
// on (dead-lettered) or dropped.
func (t *Tracker) Done(receiver string, ev *event.EnhancedEvent) {
	rv := RV(ev)
	if rv == 0 {
		return
	}
	s := t.Stream(ev)
	t.mu.Lock()
	if h := t.pending[receiver][s]; h != nil {
		h.remove(rv)
	}
	t.mu.Unlock()
}

// Pending is how many events receiver has not finished.
func (t *Tracker) Pending(receiver string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, h := range t.pending[receiver] {
		n += h.Len()
	}
	return n
}

// Checkpoints returns, per configured receiver, each stream's checkpoint:
// streams not seen since start keep the checkpoint they were restored with.
func (t *Tracker) Checkpoints() kube.Checkpoints {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(kube.Checkpoints, len(t.pending))
	for r, pending := range t.pending {
		cps := map[string]uint64{}
		for s, cp := range t.restored[r] {
			cps[s] = cp
		}
		for s, d := range t.received {
			cp := d
			if h := t.unrouted[s]; h != nil && h.Len() > 0 {
				cp = min(cp, (*h)[0]-1)
			}
			if h := pending[s]; h != nil && h.Len() > 0 {
				cp = min(cp, (*h)[0]-1)
			}
			if cp > cps[s] {
				cps[s] = cp
			}
		}
		out[r] = cps
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
