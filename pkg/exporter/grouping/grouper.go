package grouping

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"k8s.io/apimachinery/pkg/types"

	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
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
	// Ctx bounds the grouper's own sends (the runtime's hard stop).
	Ctx     context.Context
	Log     zerolog.Logger
	Metrics Metrics
	// Timeout is each send's; InitialBackoff and MaxBackoff space the
	// retries of a notification that failed retryably.
	Timeout, InitialBackoff, MaxBackoff time.Duration
	// Pace, when set, waits before each send (delivery.rateLimit).
	Pace func(context.Context) error
	// Store, when set, keeps the groups in the cluster: an event counted
	// by a delivered notification is acknowledged once the state saying
	// so is stored. Restored is what it held at start.
	Store    Store
	Restored []byte
}

// Grouper wraps a receiver's sink. SendBatch absorbs events into groups
// and keeps them; a goroutine sends each group's notification when due,
// through the sink's Post and Update where it has them (sinks.Updater),
// else its Send, and acknowledges the events it counted once delivered.
type Grouper struct {
	inner sinks.Sink
	upd   sinks.Updater // nil when the sink cannot edit
	cfg   Config
	key   func(*event.EnhancedEvent) string
	opts  Options

	mu       sync.Mutex
	ack      func(*event.EnhancedEvent, error)
	groups   map[string]*group
	flushing bool
	flushed  chan struct{} // closed when a flush has nothing left
	wake     chan struct{}
	stop     context.CancelFunc
	done     chan struct{}
	logs     map[string]time.Time // last log per failure kind, to log once a minute
	// With a Store: the state changed since it was saved (dirty), the
	// acknowledgements waiting for that save, and when the next may be.
	dirty     bool
	unsaved   []acked
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
	due                time.Time // next send; zero when nothing waits
	inflight           bool
	attempt            int    // failed sends in a row
	saved              *State // as of the last delivered notification
}

// New wraps inner; cfg must have passed Check.
func New(inner sinks.Sink, cfg Config, opts Options) *Grouper {
	g := &Grouper{inner: inner, cfg: cfg, key: cfg.KeyFunc(), opts: opts,
		groups: map[string]*group{}, wake: make(chan struct{}, 1), done: make(chan struct{}), logs: map[string]time.Time{}}
	g.upd, _ = inner.(sinks.Updater)
	g.restore(opts.Restored, time.Now())
	return g
}

// SetAck starts the grouper: it is called once, before the first SendBatch.
func (g *Grouper) SetAck(ack func(*event.EnhancedEvent, error)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ack = ack
	if g.stop == nil {
		ctx, stop := context.WithCancel(g.opts.Ctx)
		g.stop = stop
		go g.run(ctx)
	}
}

// MaxBatch: the runtime hands over what is queued; absorbing is cheap.
func (g *Grouper) MaxBatch() int { return 500 }

func (g *Grouper) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	return g.SendBatch(ctx, []*event.EnhancedEvent{ev})[0]
}

// SendBatch absorbs evs into their groups. Each is kept until the
// notification counting it is delivered, except an occurrence the group
// has already counted (a re-send), which is delivered at once.
func (g *Grouper) SendBatch(_ context.Context, evs []*event.EnhancedEvent) []error {
	errs := make([]error, len(evs))
	now := time.Now()
	g.mu.Lock()
	for i, ev := range evs {
		if g.absorb(ev, now) {
			errs[i] = sinks.ErrKept
		}
	}
	g.mu.Unlock()
	g.signal()
	return errs
}

// absorb adds ev to its group and reports whether it is kept.
func (g *Grouper) absorb(ev *event.EnhancedEvent, now time.Time) bool {
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

func (g *Grouper) signal() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Flush sends every group's unsent events now and waits until they are
// delivered or ctx ends (what is left stays kept: sent after a restart).
func (g *Grouper) Flush(ctx context.Context) {
	g.mu.Lock()
	g.flushing = true
	if g.flushed == nil {
		g.flushed = make(chan struct{})
	}
	flushed := g.flushed
	g.mu.Unlock()
	g.signal()
	select {
	case <-flushed:
	case <-ctx.Done():
	}
}

// Close stops the grouper and closes the sink. Events still kept are
// not acknowledged: they stay pending and are sent after a restart.
func (g *Grouper) Close() error {
	g.mu.Lock()
	stop := g.stop
	g.mu.Unlock()
	if stop != nil {
		stop()
		<-g.done
	}
	return g.inner.Close()
}

var _ sinks.AckSink = (*Grouper)(nil)

// errIsPermanent: a failure retrying cannot fix.
func errIsPermanent(err error) bool {
	_, retryable, _ := sinks.Classify(err)
	return !retryable && !errors.Is(err, context.Canceled)
}
