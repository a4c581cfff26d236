package grouping

import (
	"context"
	"encoding/json"
	"maps"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/eventide/eventide/pkg/kube/event"
)

// State is a group as stored in the cluster, as of its last delivered
// notification: what a restarted eventide, or a new leader, needs to go
// on editing the same message and counting from where it was. Events
// absorbed since are not in it: they are still pending, so they are sent
// again after a crash and counted then.
type State struct {
	// Group is what the notification showed: key, status, count, times
	// and objects (its Events are not stored).
	event.Group
	// Counts is the last count seen per Event object (at most
	// maxStoredCounts of them), so a re-sent occurrence is not counted twice.
	Counts      map[types.UID]int32 `json:"counts,omitempty"`
	Ref         string              `json:"ref,omitempty"`
	LastPost    time.Time           `json:"lastPost"`
	LastSent    time.Time           `json:"lastSent"`
	LastArrival time.Time           `json:"lastArrival"`
}

const maxStoredCounts = 20

// Store keeps one receiver's groups in the cluster.
type Store interface {
	// Save replaces the receiver's stored state (JSON).
	Save(ctx context.Context, states []byte) error
	// Budget is how many bytes the receiver's state may take.
	Budget() int
}

// Save stores the groups when they changed, at most once a second, and
// returns the events whose acknowledgement waited for it. After a
// failure it tries again a second later; the events stay pending.
func (g *Grouper) Save(ctx context.Context, now time.Time) ([]*event.EnhancedEvent, error) {
	if g.opts.Store == nil || !g.dirty || now.Before(g.saveAfter) {
		return nil, nil
	}
	g.saveAfter = now.Add(time.Second)
	if err := g.opts.Store.Save(ctx, g.encode()); err != nil {
		return nil, err
	}
	done := g.unsaved
	g.unsaved, g.dirty = nil, false
	return done, nil
}

// state is grp as of the notification being taken now.
func (grp *group) state() State {
	st := State{Group: grp.info, LastArrival: grp.lastArrival,
		Counts: make(map[types.UID]int32, min(len(grp.counts), maxStoredCounts))}
	st.Events = nil
	for uid, c := range grp.counts {
		if len(st.Counts) == maxStoredCounts {
			break
		}
		st.Counts[uid] = c
	}
	return st
}

// restore rebuilds the groups of a stored state; what does not parse is
// logged and dropped (the groups start afresh). Stored state is not
// trusted: at most maxGroups groups, the most recently active, are kept,
// and times in the future are taken as now, so every group expires.
func (g *Grouper) restore(raw []byte, now time.Time) {
	if len(raw) == 0 {
		return
	}
	var states []State
	if err := json.Unmarshal(raw, &states); err != nil {
		g.opts.Log.Warn().Err(err).Msg("stored group state unreadable; groups start afresh")
		return
	}
	clamped := 0
	for i := range states {
		for _, t := range []*time.Time{&states[i].LastPost, &states[i].LastSent, &states[i].LastArrival, &states[i].FirstSeen, &states[i].LastSeen} {
			if t.After(now) {
				*t = now
				clamped++
			}
		}
	}
	sort.SliceStable(states, func(i, j int) bool { return states[i].LastArrival.After(states[j].LastArrival) })
	if n := len(states) - g.cfg.MaxGroups; n > 0 || clamped > 0 {
		g.opts.Log.Warn().Int("dropped", max(n, 0)).Int("stored", len(states)).Int("maxGroups", g.cfg.MaxGroups).
			Int("futureTimes", clamped).Msg("stored group state beyond bounds: groups past maxGroups dropped, future times taken as now")
		states = states[:min(len(states), g.cfg.MaxGroups)]
	}
	for _, st := range states {
		grp := &group{key: st.Key, objects: map[string]struct{}{}, counts: maps.Clone(st.Counts),
			ref: st.Ref, posted: true, lastPost: st.LastPost, lastSent: st.LastSent, lastArrival: st.LastArrival}
		if grp.counts == nil {
			grp.counts = map[types.UID]int32{}
		}
		grp.info = st.Group
		for _, o := range st.Objects {
			grp.objects[o] = struct{}{}
		}
		saved := st
		grp.saved = &saved
		g.groups[st.Key] = grp
	}
	g.opts.Metrics.Active.Set(float64(len(g.groups)))
}

// encode is the stored state of every group that notified, the most
// recently active first, within the store's budget. Groups past it that
// hold nothing unsent end (counted as evictions).
func (g *Grouper) encode() []byte {
	var groups []*group
	for _, grp := range g.groups {
		if grp.saved != nil {
			groups = append(groups, grp)
		}
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].lastArrival.After(groups[j].lastArrival) })
	budget := g.opts.Store.Budget()
	out := []byte{'['}
	for _, grp := range groups {
		b, err := json.Marshal(grp.saved)
		if err != nil {
			continue
		}
		if len(out)+len(b)+2 > budget {
			if len(grp.kept) == 0 && !grp.inflight {
				delete(g.groups, grp.key)
				g.opts.Metrics.Evicted.Inc()
			}
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, b...)
	}
	return append(out, ']')
}
