package grouping

import (
	"slices"
	"strings"
	"time"

	"github.com/eventide/eventide/pkg/kube/event"
)

// View is one group as the status page shows it.
type View struct {
	Key         string    `json:"key"`
	Count       int64     `json:"count"`
	FirstSeen   time.Time `json:"firstSeen"`
	LastSeen    time.Time `json:"lastSeen"`
	ObjectCount int       `json:"objectCount"`
	Objects     []string  `json:"objects"` // the first few, Kind/namespace/name
	Pending     int       `json:"pending"` // events its next notification will count
	Posted      bool      `json:"posted"`  // a message went out
	InFlight    bool      `json:"inFlight"`
	// Next is when its next notification is due; zero when none waits.
	Next time.Time `json:"next,omitzero"`
	// Ends is when it ends if no event comes.
	Ends time.Time `json:"ends"`
}

// Views are the groups now, the most recently active first. Safe to call
// from another goroutine than the worker's.
func (g *Grouper) Views() []View {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]View, 0, len(g.groups))
	for _, grp := range g.groups {
		v := View{Key: grp.key, Count: grp.info.Count, FirstSeen: grp.info.FirstSeen, LastSeen: grp.info.LastSeen,
			ObjectCount: grp.info.ObjectCount, Objects: slices.Clone(grp.info.Objects), Pending: len(grp.kept),
			Posted: grp.posted, InFlight: grp.inflight, Ends: grp.lastArrival.Add(g.cfg.ExpireAfter)}
		if len(grp.kept) > 0 && !grp.inflight {
			v.Next = grp.due
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b View) int {
		if c := b.LastSeen.Compare(a.LastSeen); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out
}

// Key is the group ev belongs to under the current settings.
func (g *Grouper) Key(ev *event.EnhancedEvent) string { return g.key(ev) }
