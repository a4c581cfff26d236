package grouping

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/eventide/eventide/pkg/kube/event"
)

// Stored state is not trusted: 2 500 groups restored under maxGroups
// 1000 keep the 1000 most recently active, and a group whose last arrival
// is in 2099 is taken as active now, so it expires like any other.
func TestRestoreBoundsStoredState(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	var states []State
	for i := range 2500 {
		states = append(states, State{Group: event.Group{Key: fmt.Sprintf("g%d", i)},
			LastArrival: now.Add(-time.Duration(i) * time.Second)})
	}
	future := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	states[2400].LastArrival, states[2400].LastSent, states[2400].LastSeen = future, future, future
	raw, err := json.Marshal(states)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Config{By: []string{"reason"}, MaxGroups: 1000}.Check("group")
	if err != nil {
		t.Fatal(err)
	}
	g := &Grouper{cfg: cfg, opts: Options{Log: zerolog.Nop(), Metrics: testMetrics()}, groups: map[string]*group{}}
	g.restore(raw, now)
	if len(g.groups) != 1000 {
		t.Fatalf("%d groups restored, want maxGroups (1000)", len(g.groups))
	}
	grp := g.groups["g2400"]
	if grp == nil {
		t.Fatal("the group last active 'in 2099' (taken as now) is not among the most recent")
	}
	if !grp.lastArrival.Equal(now) || !grp.lastSent.Equal(now) || !grp.info.LastSeen.Equal(now) {
		t.Errorf("future times restored as %v / %v / %v, want now", grp.lastArrival, grp.lastSent, grp.info.LastSeen)
	}
	if g.groups["g998"] == nil || g.groups["g999"] != nil {
		t.Error("not the most recently active groups kept")
	}
}
