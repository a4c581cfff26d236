package grouping

import (
	"context"
	"slices"
	"time"

	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// Notification is one group's message, taken when due: the worker
// delivers it (Deliver) and reports the outcome (Finish or Return).
type Notification struct {
	Status string
	// Event is the group's latest event with a copy of the group's
	// state as .Group: what the receiver's templates render.
	Event *event.EnhancedEvent
	// Events are those the notification counts for the first time: they
	// are acknowledged when it is delivered, and dead-lettered when it
	// fails for good.
	Events []*event.EnhancedEvent
	ref    string // the message to edit, for an update
	grp    *group
	state  State // the group as this notification shows it
}

// Take returns the next notification due at now, or nil. It takes at
// most one per group until Finish or Return: an edit needs the reference
// of the post before it. Groups quiet for expireAfter end here, with a
// last edit of their message when the sink can edit.
func (g *Grouper) Take(now time.Time, canEdit bool) *Notification {
	g.mu.Lock()
	defer g.mu.Unlock()
	var n *Notification
	for key, grp := range g.groups {
		switch {
		case grp.inflight:
		case len(grp.kept) > 0:
			if g.flushing || !now.Before(grp.due) {
				n = g.take(grp, now)
			}
		case !now.Before(grp.lastArrival.Add(g.cfg.ExpireAfter)):
			delete(g.groups, key)
			g.dirty = g.dirty || grp.saved != nil
			if canEdit && grp.ref != "" && grp.latest != nil {
				n = g.quiet(grp)
			}
		}
		if n != nil {
			break
		}
	}
	g.opts.Metrics.Active.Set(float64(len(g.groups)))
	return n
}

// Next is when, from now, Take may next return something or a save is
// due; zero when only a new event can make anything due.
func (g *Grouper) Next(now time.Time) time.Time {
	var next time.Time
	earliest := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	for _, grp := range g.groups {
		switch {
		case grp.inflight:
		case len(grp.kept) > 0 && g.flushing:
			earliest(now)
		case len(grp.kept) > 0:
			earliest(grp.due)
		default:
			earliest(grp.lastArrival.Add(g.cfg.ExpireAfter))
		}
	}
	if g.dirty && g.opts.Store != nil {
		earliest(g.saveAfter)
	}
	return next
}

// take makes grp's next notification: new for its first, repeat once
// repeatInterval has passed since its message was posted, else update.
func (g *Grouper) take(grp *group, now time.Time) *Notification {
	status := StatusUpdate
	switch {
	case !grp.posted:
		status = StatusNew
	case now.Sub(grp.lastPost) >= g.cfg.RepeatInterval:
		status = StatusRepeat
	}
	n := &Notification{grp: grp, Status: status, Event: g.snapshot(grp, status), ref: grp.ref, Events: grp.kept, state: grp.state()}
	grp.kept, grp.inflight, grp.due = nil, true, time.Time{}
	return n
}

// quiet is the last edit of an ended group's message.
func (g *Grouper) quiet(grp *group) *Notification {
	grp.inflight = true
	return &Notification{grp: grp, Status: StatusQuiet, Event: g.snapshot(grp, StatusQuiet), ref: grp.ref}
}

// snapshot is grp's latest event with a copy of the group's state.
func (g *Grouper) snapshot(grp *group, status string) *event.EnhancedEvent {
	info := grp.info
	info.Status = status
	info.Objects = slices.Clone(info.Objects)
	info.Events = slices.Clone(info.Events)
	ev := *grp.latest
	ev.Group = &info
	return &ev
}

// Deliver posts or edits n's message through sink and returns the
// message's reference. A sink that cannot edit (not a sinks.Updater)
// gets a new message each time; an edit of a message that is gone
// (deleted, or too old to edit) posts a new one.
func (n *Notification) Deliver(ctx context.Context, sink sinks.Sink) (ref string, err error) {
	upd, ok := sink.(sinks.Updater)
	switch {
	case !ok:
		return "", sink.Send(ctx, n.Event)
	case n.ref != "" && (n.Status == StatusUpdate || n.Status == StatusQuiet):
		err := upd.Update(ctx, n.ref, n.Event)
		_, retryable, _ := sinks.Classify(err)
		if err == nil || n.Status == StatusQuiet || retryable || ctx.Err() != nil || sinks.IsTemplateError(err) {
			return n.ref, err
		}
		return upd.Post(ctx, n.Event)
	default:
		return upd.Post(ctx, n.Event)
	}
}

// Finish records the final outcome of n's delivery at now: delivered
// with message ref (err nil), or failed for good. It returns the events
// done with: delivered ones, unless they wait for the state to be stored
// (Save returns them then), or failed ones, for the dead letter.
func (g *Grouper) Finish(n *Notification, ref string, err error, now time.Time) []*event.EnhancedEvent {
	g.mu.Lock()
	defer g.mu.Unlock()
	grp := n.grp
	grp.inflight = false
	defer g.dueAgain(grp, now)
	if n.Status == StatusQuiet {
		if err == nil {
			g.opts.Metrics.Notifications(StatusQuiet).Inc()
		}
		return nil
	}
	if err != nil {
		return n.Events
	}
	if ref != n.ref || n.Status != StatusUpdate {
		grp.lastPost = now // a new message
	}
	grp.ref, grp.posted, grp.lastSent = ref, true, now
	g.opts.Metrics.Notifications(n.Status).Inc()
	st := n.state
	st.Ref, st.LastPost, st.LastSent = ref, grp.lastPost, now
	grp.saved = &st
	if g.opts.Store != nil {
		// Done once the state counting them is stored: a crash before
		// sends them again, and the restored state tells a re-send.
		g.unsaved, g.dirty = append(g.unsaved, n.Events...), true
		return nil
	}
	return n.Events
}

// Return takes back a notification that was not delivered (a reload cut
// its retries short, or the receiver stopped): its events are kept
// again, in front, and due at once.
func (g *Grouper) Return(n *Notification, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	grp := n.grp
	grp.inflight = false
	if n.Status == StatusQuiet {
		return
	}
	grp.kept = append(n.Events, grp.kept...)
	grp.due = now
}

// dueAgain schedules what arrived while grp's notification was in flight.
func (g *Grouper) dueAgain(grp *group, now time.Time) {
	if len(grp.kept) > 0 {
		grp.due = now.Add(g.cfg.Interval)
		if len(grp.kept) >= maxKept {
			grp.due = now
		}
	}
}
