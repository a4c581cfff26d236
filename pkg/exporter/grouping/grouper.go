package grouping

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"k8s.io/apimachinery/pkg/types"

	"github.com/eventide/eventide/pkg/kube/event"
)

// Notification statuses: .Group.Status, and the kind label of the
// notifications metric.
const (
	StatusNew    = "new"
	StatusUpdate = "update"
	StatusRepeat = "repeat"
	StatusQuiet  = "quiet"
)

// Statuses lists them.
var Statuses = []string{StatusNew, StatusUpdate, StatusRepeat, StatusQuiet}

// Metrics are the grouper's counters, one receiver's children.
type Metrics struct {
	Grouped       prometheus.Counter                     // events absorbed into a group
	Notifications func(status string) prometheus.Counter // notifications delivered, by status
	Active        prometheus.Gauge                       // groups kept
	Evicted       prometheus.Counter                     // groups ended early by maxGroups
}

// Options are what a Grouper takes from its receiver.
type Options struct {
	Log     zerolog.Logger
	Metrics Metrics
	// Store, when set, keeps the groups in the cluster: an event counted
	// by a delivered notification is acknowledged once the state saying
	// so is stored. Restored is what it held at start.
	Store    Store
	Restored []byte
}

// Grouper is one receiver's groups: it absorbs events and says which
// notification is due when. It sends nothing itself: the receiver's
// worker takes each due notification (Take), delivers it with the same
// retries as any event, and reports the outcome (Finish); the events a
// notification counted are acknowledged then. Not safe for concurrent
// use: the receiver's worker goroutine owns it.
type Grouper struct {
	// mu guards what Views reads (the groups and the settings) against
	// the worker's changes; the worker alone calls everything else.
	mu   sync.Mutex
	cfg  Config
	key  func(*event.EnhancedEvent) string
	opts Options

	groups   map[string]*group
	flushing bool // draining: every kept event is due now
	// With a Store: the state changed since it was saved (dirty), the
	// events whose acknowledgement waits for that save, and when the
	// next save may be.
	dirty     bool
	unsaved   []*event.EnhancedEvent
	saveAfter time.Time
}

// group is one group's state.
type group struct {
	key                string
	info               event.Group // count, times, objects, recent events
	objects            map[string]struct{}
	counts             map[types.UID]int32 // last count seen per Event object
	kept               []*event.EnhancedEvent
	latest             *event.EnhancedEvent
	ref                string    // the Updater's reference of the current message
	posted             bool      // a notification went out
	lastPost, lastSent time.Time // when the current message was posted, last sent
	lastArrival        time.Time
	due                time.Time // next notification; zero when nothing waits
	inflight           bool      // its notification is taken, not finished
	saved              *State    // as of the last delivered notification
}

// New builds a receiver's groups; cfg must have passed Check.
func New(cfg Config, opts Options) *Grouper {
	g := &Grouper{cfg: cfg, key: cfg.KeyFunc(), opts: opts, groups: map[string]*group{}}
	g.restore(opts.Restored, time.Now())
	return g
}

// Reconfigure applies new settings from a reload. The groups are kept:
// their messages are edited as before, and events they hold are sent as
// due; new events are grouped by the new key.
func (g *Grouper) Reconfigure(cfg Config) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cfg, g.key = cfg, cfg.KeyFunc()
}

// Absorb adds ev to its group and reports whether the group keeps it
// until a notification counting it is delivered. An occurrence the group
// has already counted (a re-send) is not kept: it is delivered at once.
func (g *Grouper) Absorb(ev *event.EnhancedEvent, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := g.key(ev)
	grp := g.groups[key]
	if grp == nil {
		g.evictFor()
		grp = &group{key: key, objects: map[string]struct{}{}, counts: map[types.UID]int32{}, due: now.Add(g.cfg.Wait)}
		grp.info.Key = key
		grp.info.FirstSeen = ev.GetLastTime()
		g.groups[key] = grp
		g.opts.Metrics.Active.Set(float64(len(g.groups)))
	}
	count := ev.GetCount()
	prev, seen := grp.counts[ev.UID]
	if seen && count <= prev {
		return false // counted already: a re-send of an occurrence
	}
	switch {
	case ev.UID == "": // hand-written: no identity to tell a re-send by
		grp.info.Count++
	case seen:
		grp.counts[ev.UID] = count
		grp.info.Count += int64(count - prev)
	default:
		if len(grp.counts) >= 10*maxKept {
			clear(grp.counts) // bounded; an Event object seen again counts 1
		}
		grp.counts[ev.UID] = count
		grp.info.Count++
	}
	g.opts.Metrics.Grouped.Inc()
	if t := ev.GetLastTime(); t.After(grp.info.LastSeen) {
		grp.info.LastSeen = t
	}
	if t := ev.GetLastTime(); t.Before(grp.info.FirstSeen) {
		grp.info.FirstSeen = t
	}
	obj := ev.InvolvedObject.Kind + "/" + ev.InvolvedObject.Namespace + "/" + ev.InvolvedObject.Name
	if _, ok := grp.objects[obj]; !ok && len(grp.objects) < 10*event.MaxGroupObjects {
		grp.objects[obj] = struct{}{}
		grp.info.ObjectCount = len(grp.objects)
		if len(grp.info.Objects) < event.MaxGroupObjects {
			grp.info.Objects = append(grp.info.Objects, obj)
		}
	}
	grp.info.Events = append(grp.info.Events, ev)
	if n := len(grp.info.Events) - g.cfg.Events; n > 0 {
		grp.info.Events = append(grp.info.Events[:0:0], grp.info.Events[n:]...)
	}
	grp.latest = ev
	grp.kept = append(grp.kept, ev)
	grp.lastArrival = now
	switch {
	case len(grp.kept) >= maxKept:
		grp.due = now // too much held: send ahead of the interval
	case grp.due.IsZero():
		grp.due = maxTime(now, grp.lastSent.Add(g.cfg.Interval))
	}
	return true
}

// evictFor makes room for a new group: past maxGroups, the group idle
// longest that holds nothing unsent ends.
func (g *Grouper) evictFor() {
	if len(g.groups) < g.cfg.MaxGroups {
		return
	}
	var oldest *group
	for _, grp := range g.groups {
		if len(grp.kept) == 0 && !grp.inflight && (oldest == nil || grp.lastArrival.Before(oldest.lastArrival)) {
			oldest = grp
		}
	}
	if oldest != nil {
		delete(g.groups, oldest.key)
		g.opts.Metrics.Evicted.Inc()
		g.dirty = g.dirty || oldest.saved != nil
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Flush makes every kept event due now: the receiver is draining.
func (g *Grouper) Flush() { g.flushing = true }

// Idle says nothing is kept, in flight or waiting to be stored: a
// draining receiver may stop.
func (g *Grouper) Idle() bool {
	if len(g.unsaved) > 0 || (g.dirty && g.opts.Store != nil) {
		return false
	}
	for _, grp := range g.groups {
		if len(grp.kept) > 0 || grp.inflight {
			return false
		}
	}
	return true
}

// Release ends grouping for a receiver that no longer groups (a reload):
// it returns the events kept, to be delivered one by one, and those
// whose acknowledgement waited for a save (they were delivered).
func (g *Grouper) Release() (kept, delivered []*event.EnhancedEvent) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, grp := range g.groups {
		kept = append(kept, grp.kept...)
	}
	delivered, g.unsaved, g.groups = g.unsaved, nil, map[string]*group{}
	g.opts.Metrics.Active.Set(0)
	return kept, delivered
}
