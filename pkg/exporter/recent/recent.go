// Package recent keeps the last events the pipeline routed and what became
// of each at every receiver, for the status page's /events: which routes
// matched, which receivers it was handed to and their outcome (delivered,
// queued, retrying, dead-lettered, dropped, muted, grouped), and whether a
// drop rule stopped it. The ring holds copies of a few short fields, never
// the event itself: no payload, .Group or object metadata stays alive
// through it. All methods are safe for concurrent use, and a nil *Ring
// records nothing.
package recent

import (
	"sync"
	"time"

	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// Outcomes of an event at a receiver.
const (
	Queued       = "queued"        // handed to the receiver, not yet sent
	Delivered    = "delivered"     // the receiver took it
	Retrying     = "retrying"      // a send failed; it will be tried again (detail: failure class)
	DeadLettered = "dead_lettered" // failed for good (detail: failure class)
	Dropped      = "dropped"       // a full queue or spool, or the drain's end (detail: why)
	Muted        = "muted"         // not sent: silenced or inhibited (detail: which)
	Skipped      = "skipped"       // not sent: delivered before a restart, or too old (detail: why)
	Grouped      = "grouped"       // absorbed into a group (detail: its key); the group's message decides
)

// Outcomes lists them, for the page's filter.
var Outcomes = []string{Queued, Delivered, Retrying, DeadLettered, Dropped, Muted, Skipped, Grouped}

// DefaultSize is how many events the ring keeps unless told.
const DefaultSize = 500

// MessageBytes is how much of an event's message an entry keeps.
const MessageBytes = 300

// Entry is one event as the status page shows it.
type Entry struct {
	ID        uint64    `json:"-"`
	Time      time.Time `json:"time"` // its last occurrence
	Kind      string    `json:"kind"`
	Namespace string    `json:"namespace,omitempty"`
	Name      string    `json:"name"`
	Reason    string    `json:"reason"`
	Type      string    `json:"type"`
	Class     string    `json:"class,omitempty"`
	Count     int32     `json:"count"`
	Message   string    `json:"message"` // at most MessageBytes
	// Routes are the routes (ids, or paths like route.routes[1]) that
	// sent it somewhere; DroppedBy the route whose drop rule stopped a
	// subtree, if one did.
	Routes    []string `json:"routes"`
	DroppedBy string   `json:"droppedBy,omitempty"`
	// Receivers are those it was routed to, with what became of it.
	Receivers []Delivery `json:"receivers"`
}

// Delivery is what became of an event at one receiver.
type Delivery struct {
	Receiver string    `json:"receiver"`
	Outcome  string    `json:"outcome"`
	Detail   string    `json:"detail,omitempty"`
	At       time.Time `json:"at"`
}

// Ring is the last events routed, oldest overwritten first.
type Ring struct {
	mu      sync.Mutex
	entries []Entry
	last    uint64 // the newest entry's ID; IDs start at 1
}

// New keeps the last size events (DefaultSize when size <= 0).
func New(size int) *Ring {
	if size <= 0 {
		size = DefaultSize
	}
	return &Ring{entries: make([]Entry, size)}
}

// Route is the routing of one event, filled by the pipeline and added in
// one step.
type Route struct {
	Routes    []string
	DroppedBy string
	Receivers []Delivery
}

// Add records ev with its routing and sets ev.Trace, so receivers can
// report outcomes. The slot's slices are reused: a steady flow allocates
// nothing but a long message's cut.
func (r *Ring) Add(ev *event.EnhancedEvent, rt *Route, now time.Time) {
	if r == nil {
		return
	}
	msg := sinks.CutBytes(ev.Message, MessageBytes) // a cut is a new string: the long one is not kept
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last++
	e := &r.entries[r.last%uint64(len(r.entries))]
	routes, receivers := e.Routes[:0], e.Receivers[:0]
	*e = Entry{ID: r.last, Time: ev.GetLastTime(), Kind: ev.InvolvedObject.Kind, Namespace: ev.InvolvedObject.Namespace,
		Name: ev.InvolvedObject.Name, Reason: ev.Reason, Type: ev.Type, Class: ev.Class, Count: ev.GetCount(), Message: msg,
		DroppedBy: rt.DroppedBy}
	e.Routes = append(routes, rt.Routes...)
	e.Receivers = append(receivers, rt.Receivers...)
	for i := range e.Receivers {
		e.Receivers[i].At = now
	}
	ev.Trace = r.last
}

// Set records the outcome of the event traced as id at receiver; an
// entry already overwritten, or an id of 0, is ignored.
func (r *Ring) Set(id uint64, receiver, outcome, detail string) {
	if r == nil || id == 0 {
		return
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	e := &r.entries[id%uint64(len(r.entries))]
	if e.ID != id {
		return
	}
	for i := range e.Receivers {
		if d := &e.Receivers[i]; d.Receiver == receiver {
			d.Outcome, d.Detail, d.At = outcome, detail, now
			return
		}
	}
}

// Filter selects entries; empty fields select all.
type Filter struct {
	Namespace, Reason, Receiver, Outcome string
}

func (f Filter) matches(e *Entry) bool {
	if f.Namespace != "" && e.Namespace != f.Namespace || f.Reason != "" && e.Reason != f.Reason {
		return false
	}
	if f.Receiver == "" && f.Outcome == "" {
		return true
	}
	for _, d := range e.Receivers {
		if (f.Receiver == "" || d.Receiver == f.Receiver) && (f.Outcome == "" || d.Outcome == f.Outcome) {
			return true
		}
	}
	return false
}

// Snapshot copies the entries f selects, newest first, at most limit
// (all when limit <= 0).
func (r *Ring) Snapshot(f Filter, limit int) []Entry {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Entry
	n := uint64(len(r.entries))
	for id := r.last; id > 0 && r.last-id < n; id-- {
		e := &r.entries[id%n]
		if !f.matches(e) {
			continue
		}
		c := *e
		c.Routes = append([]string(nil), e.Routes...)
		c.Receivers = append([]Delivery(nil), e.Receivers...)
		out = append(out, c)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out
}

// Size is how many events the ring keeps.
func (r *Ring) Size() int {
	if r == nil {
		return 0
	}
	return len(r.entries)
}
