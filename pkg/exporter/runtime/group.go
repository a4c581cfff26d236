package runtime

import (
	"context"
	"time"

	"github.com/eventide/eventide/pkg/exporter/grouping"
	"github.com/eventide/eventide/pkg/exporter/recent"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// A grouping receiver's worker absorbs the events it pops into its
// groups (pkg/exporter/grouping) and delivers each group's notification
// when due through the same retry loop as events (deliver). Absorbing
// and notifying both run on the receiver's own goroutine, so one
// receiver's groups never slow another receiver. A notification is not
// queued: it is taken from its group when due and delivered at once, so
// no queue_full or spool_full drops it, and after a restart it is rebuilt
// from the events still pending and the stored group state.

// absorb adds evs to their groups. An occurrence a group has already
// counted (a re-send) is delivered at once; the others stay pending until
// the notification counting them is delivered (and its state stored).
func (w *worker) absorb(evs []*event.EnhancedEvent) {
	now := time.Now()
	for _, ev := range evs {
		if !w.group.Absorb(ev, now) {
			w.delivered(ev)
		} else if w.recent != nil {
			w.recent.Set(ev.Trace, w.name, recent.Grouped, w.group.Key(ev))
		}
	}
}

// notify delivers the notifications due now, one at a time, then stores
// the group state when it changed. It stops early when the receiver
// stops or a reload waits to be applied.
func (w *worker) notify(ctx context.Context) {
	_, canEdit := w.sink.(sinks.Updater)
	for ctx.Err() == nil && !w.reloading() {
		n := w.group.Take(time.Now(), canEdit)
		if n == nil {
			break
		}
		out := &notified{w: w, n: n}
		w.deliver(ctx, []*event.EnhancedEvent{n.Event}, out.send, out)
	}
	if ctx.Err() != nil {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	done, err := w.group.Save(sctx, time.Now())
	cancel()
	if err != nil {
		if e := w.logs.event("groups/save", w.log.Warn()); e != nil {
			e.Err(err).Msg("storing group state failed; retrying (its events stay pending)")
		}
	}
	for _, ev := range done {
		w.delivered(ev)
	}
}

// reloading says a reload's new settings wait to be taken.
func (w *worker) reloading() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.next != nil
}

// notified settles one notification's delivery.
type notified struct {
	w   *worker
	n   *grouping.Notification
	ref string // the message posted or edited
}

func (o *notified) send(ctx context.Context, _ []*event.EnhancedEvent) []error {
	ref, err := o.n.Deliver(ctx, o.w.sink)
	o.ref = ref
	return []error{err}
}

func (o *notified) delivered(*event.EnhancedEvent) {
	for _, ev := range o.w.group.Finish(o.n, o.ref, nil, time.Now()) {
		o.w.delivered(ev)
	}
}

// failed dead-letters each event the notification counted.
func (o *notified) failed(_ *event.EnhancedEvent, class string, err error, attempts int) int {
	evs := o.w.group.Finish(o.n, "", err, time.Now())
	for _, ev := range evs {
		o.w.failed(ev, class, err, attempts)
	}
	return len(evs)
}

func (o *notified) interrupted(_ []*event.EnhancedEvent, stopped bool) {
	o.w.group.Return(o.n, time.Now())
	if stopped {
		o.w.dropStop.Add(float64(len(o.n.Events)))
	}
}

// regroup applies a reload's grouping settings: the groups are kept and
// reconfigured; a receiver that stops grouping delivers the events its
// groups kept one by one; one that starts builds its groups.
func (w *worker) regroup(cfg *grouping.Config) {
	switch {
	case cfg != nil && w.group != nil:
		w.group.Reconfigure(*cfg)
	case cfg != nil:
		w.group = w.newGroup(*cfg)
	case w.group != nil:
		kept, delivered := w.group.Release()
		w.group = nil
		for _, ev := range delivered {
			w.delivered(ev)
		}
		w.pushFront(kept)
	}
}
