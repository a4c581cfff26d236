package grouping

import (
	"context"
	"slices"
	"time"

	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// notification is one send, taken from its group under the lock.
type notification struct {
	grp    *group
	status string
	ev     *event.EnhancedEvent // the group's latest event, .Group set
	ref    string               // the message to edit, for an update
	kept   []*event.EnhancedEvent
	state  State // the group as this notification shows it
}

// acked is an acknowledgement to make once the lock is released.
type acked struct {
	ev  *event.EnhancedEvent
	err error
}

// run sends notifications as they fall due, until ctx ends.
func (g *Grouper) run(ctx context.Context) {
	defer close(g.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		now := time.Now()
		g.mu.Lock()
		work, next := g.collect(now)
		g.mu.Unlock()
		for _, n := range work {
			g.send(ctx, n)
		}
		if retry := g.save(ctx, time.Now()); !retry.IsZero() && (next.IsZero() || retry.Before(next)) {
			next = retry
		}
		if ctx.Err() != nil {
			return
		}
		if len(work) > 0 {
			continue
		}
		var fire <-chan time.Time
		if !next.IsZero() {
			timer.Reset(next.Sub(now))
			fire = timer.C
		}
		select {
		case <-g.wake:
		case <-fire:
		case <-ctx.Done():
			return
		}
		timer.Stop()
	}
}

// collect takes the notifications due at now, ends the groups quiet for
// expireAfter, and returns when to look again (zero: on the next event).
func (g *Grouper) collect(now time.Time) (work []notification, next time.Time) {
	idle := true
	earliest := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	for key, grp := range g.groups {
		switch {
		case grp.inflight:
			idle = false
		case len(grp.kept) > 0:
			idle = false
			if (g.flushing && grp.attempt == 0) || !now.Before(grp.due) {
				work = append(work, g.take(grp, now))
			} else {
				earliest(grp.due)
			}
		case !now.Before(grp.lastArrival.Add(g.cfg.ExpireAfter)):
			delete(g.groups, key)
			g.dirty = g.dirty || grp.saved != nil
			if g.upd != nil && grp.ref != "" && grp.latest != nil {
				work = append(work, g.quiet(grp))
			}
		default:
			earliest(grp.lastArrival.Add(g.cfg.ExpireAfter))
		}
	}
	g.opts.Metrics.Active.Set(float64(len(g.groups)))
	if g.dirty && g.opts.Store != nil {
		idle = false
		if g.saveAfter.After(now) {
			earliest(g.saveAfter) // else saved before the loop waits
		}
	}
	if g.flushing && idle && len(work) == 0 && len(g.unsaved) == 0 {
		g.flushing = false
		close(g.flushed)
		g.flushed = nil
	}
	return work, next
}

// take makes grp's next notification: new for its first, repeat once
// repeatInterval has passed since its message was posted, else update.
func (g *Grouper) take(grp *group, now time.Time) notification {
	status := StatusUpdate
	switch {
	case !grp.posted:
		status = StatusNew
	case now.Sub(grp.lastPost) >= g.cfg.RepeatInterval:
		status = StatusRepeat
	}
	n := notification{grp: grp, status: status, ev: g.snapshot(grp, status), ref: grp.ref, kept: grp.kept, state: grp.state()}
	grp.kept, grp.inflight, grp.due = nil, true, time.Time{}
	return n
}

// quiet is the last edit of an ended group's message.
func (g *Grouper) quiet(grp *group) notification {
	grp.inflight = true
	return notification{grp: grp, status: StatusQuiet, ev: g.snapshot(grp, StatusQuiet), ref: grp.ref}
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

// send delivers n and records the outcome.
func (g *Grouper) send(ctx context.Context, n notification) {
	var ref string
	err := ctx.Err()
	if g.opts.Pace != nil {
		err = g.opts.Pace(ctx)
	}
	if err == nil {
		sctx, cancel := context.WithTimeout(ctx, g.opts.Timeout)
		ref, err = g.deliver(sctx, n)
		cancel()
	}
	g.mu.Lock()
	acks := g.finish(n, ref, err, time.Now())
	ack := g.ack
	g.mu.Unlock()
	for _, a := range acks {
		ack(a.ev, a.err)
	}
}

// deliver posts or edits n's message; a sink that cannot edit gets a new
// one each time.
func (g *Grouper) deliver(ctx context.Context, n notification) (ref string, err error) {
	switch {
	case g.upd == nil:
		return "", g.inner.Send(ctx, n.ev)
	case n.ref != "" && (n.status == StatusUpdate || n.status == StatusQuiet):
		err := g.upd.Update(ctx, n.ref, n.ev)
		if err == nil || n.status == StatusQuiet || !errIsPermanent(err) || sinks.IsTemplateError(err) {
			return n.ref, err
		}
		// The message is gone (deleted, or too old to edit): post anew.
		return g.upd.Post(ctx, n.ev)
	default:
		return g.upd.Post(ctx, n.ev)
	}
}

// finish records n's outcome and returns the acknowledgements to make:
// delivered, its events are done; a retryable failure keeps them for a
// retry after a backoff; a permanent one fails them (dead-lettered).
func (g *Grouper) finish(n notification, ref string, err error, now time.Time) []acked {
	grp := n.grp
	grp.inflight = false
	if n.status == StatusQuiet {
		if err == nil {
			g.opts.Metrics.Notifications(StatusQuiet).Inc()
		} else {
			g.logFailure("quiet", err, grp.key, "the last edit of an ended group failed")
		}
		return nil
	}
	var acks []acked
	switch {
	case err == nil:
		if ref != n.ref || n.status != StatusUpdate {
			grp.lastPost = now // a new message
		}
		grp.ref, grp.posted, grp.lastSent, grp.attempt = ref, true, now, 0
		g.opts.Metrics.Notifications(n.status).Inc()
		st := n.state
		st.Ref, st.LastPost, st.LastSent = ref, grp.lastPost, now
		grp.saved = &st
		for _, ev := range n.kept {
			acks = append(acks, acked{ev, nil})
		}
		if g.opts.Store != nil {
			// Done once the state counting them is stored: a crash before
			// sends them again, and the restored state tells a re-send.
			g.unsaved, g.dirty, acks = append(g.unsaved, acks...), true, nil
		}
	case !errIsPermanent(err):
		grp.kept = append(n.kept, grp.kept...)
		grp.attempt++
		_, _, after := sinks.Classify(err)
		grp.due = now.Add(max(g.backoff(grp.attempt), after))
		g.logFailure("retry", err, grp.key, "group notification failed; retrying")
		return nil
	default:
		for _, ev := range n.kept {
			acks = append(acks, acked{ev, err})
		}
		g.logFailure("failed", err, grp.key, "group notification failed for good; its events go to the dead letter")
	}
	if len(grp.kept) > 0 {
		grp.due = now.Add(g.cfg.Interval) // arrived while this one was in flight
	}
	return acks
}

// save stores the groups when they changed, at most once a second, and
// then makes the acknowledgements that waited for it. It returns when to
// try again after a failure (zero: no need).
func (g *Grouper) save(ctx context.Context, now time.Time) time.Time {
	g.mu.Lock()
	if g.opts.Store == nil || !g.dirty || now.Before(g.saveAfter) {
		g.mu.Unlock()
		return time.Time{}
	}
	data := g.encode()
	acks := g.unsaved
	g.unsaved, g.dirty, g.saveAfter = nil, false, now.Add(time.Second)
	ack := g.ack
	g.mu.Unlock()
	sctx, cancel := context.WithTimeout(ctx, g.opts.Timeout)
	err := g.opts.Store.Save(sctx, data)
	cancel()
	if err != nil {
		g.mu.Lock()
		g.unsaved, g.dirty = append(acks, g.unsaved...), true
		g.logFailure("save", err, "", "storing group state failed; retrying (its events stay pending)")
		g.mu.Unlock()
		return now.Add(time.Second)
	}
	for _, a := range acks {
		ack(a.ev, a.err)
	}
	return time.Time{}
}

// backoff is the wait before retry attempt (1, 2, …).
func (g *Grouper) backoff(attempt int) time.Duration {
	d := g.opts.InitialBackoff
	for i := 1; i < attempt && d < g.opts.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, g.opts.MaxBackoff)
}

// logFailure logs at most once a minute per kind: a dead Slack token must
// not write a line per group per interval.
func (g *Grouper) logFailure(kind string, err error, key, msg string) {
	now := time.Now()
	if last, ok := g.logs[kind]; ok && now.Sub(last) < time.Minute {
		return
	}
	g.logs[kind] = now
	g.opts.Log.Warn().Err(err).Str("group", key).Msg(msg)
}
