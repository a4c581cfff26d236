package route

import (
	"reflect"
	"slices"
	"sort"
	"testing"

	"github.com/eventide/eventide/internal/testenv/testevent"
	"github.com/eventide/eventide/pkg/kube/event"

	corev1 "k8s.io/api/core/v1"
)

var testReceivers = []string{"a", "b", "c"}

// testEvent is testevent.Pod.
var testEvent = testevent.Pod

func mustTree(t *testing.T, cfg Config) *Tree {
	t.Helper()
	tree, errs := Compile(&cfg, testReceivers)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return tree
}

func routed(tree *Tree, ev *event.EnhancedEvent) []string {
	out := tree.Match(ev, nil, nil)
	sort.Strings(out)
	return out
}

func TestRouteSemantics(t *testing.T) {
	for _, tc := range []struct {
		name  string
		route Config
		ev    *event.EnhancedEvent
		want  []string
	}{
		{"a rule with only a receiver matches everything",
			Config{Match: []Rule{{Receiver: "a"}}}, testEvent(), []string{"a"}},
		{"no routes, no receivers",
			Config{}, testEvent(), nil},
		{"regexes are unanchored: Pod matches PodDisruptionBudget",
			Config{Match: []Rule{{Kind: "Pod", Receiver: "a"}}},
			testEvent(func(e *event.EnhancedEvent) { e.InvolvedObject.Kind = "PodDisruptionBudget" }), []string{"a"}},
		{"^Pod$ does not match PodDisruptionBudget",
			Config{Match: []Rule{{Kind: "^Pod$", Receiver: "a"}}},
			testEvent(func(e *event.EnhancedEvent) { e.InvolvedObject.Kind = "PodDisruptionBudget" }), nil},
		{"fields are ANDed",
			Config{Match: []Rule{{Type: "Warning", Reason: "Pulled", Receiver: "a"}}}, testEvent(), nil},
		{"every string field",
			Config{Match: []Rule{{Message: "^Back-off", APIVersion: "^v1$", Kind: "^Pod$", Namespace: "^shop$",
				Reason: "BackOff", Type: "Warning", Component: "kubelet", Host: "node-7", Name: "^web-1$",
				ObjectNamespace: "^shop$", WorkloadKind: "^Deployment$", WorkloadName: "^web$", Receiver: "a"}}},
			testEvent(), []string{"a"}},
		{"namespace is the event's, objectNamespace the object's",
			Config{Match: []Rule{{Namespace: "^shop$", Receiver: "a"}, {ObjectNamespace: "^shop$", Receiver: "b"}}},
			testEvent(func(e *event.EnhancedEvent) { e.InvolvedObject.Namespace = "other" }), []string{"a"}},
		{"match rules send independently",
			Config{Match: []Rule{{Type: "Normal", Receiver: "a"}, {Type: "Warning", Receiver: "b"}}},
			testEvent(), []string{"b"}},
		{"a drop match stops the route's own match rules",
			Config{Drop: []Rule{{Namespace: "shop"}}, Match: []Rule{{Receiver: "a"}}}, testEvent(), nil},
		{"a drop match stops the subtree",
			Config{Drop: []Rule{{Namespace: "shop"}}, Routes: []Config{{Match: []Rule{{Receiver: "a"}}}}},
			testEvent(), nil},
		{"a drop that does not match lets the event through",
			Config{Drop: []Rule{{Namespace: "kube-system"}}, Match: []Rule{{Receiver: "a"}}}, testEvent(), []string{"a"}},
		{"drop in one route does not affect a sibling",
			Config{Routes: []Config{
				{Drop: []Rule{{Type: "Warning"}}, Match: []Rule{{Receiver: "a"}}},
				{Match: []Rule{{Receiver: "b"}}}}},
			testEvent(), []string{"b"}},
		{"children run when every match rule matched",
			Config{Match: []Rule{{Type: "Warning"}, {Kind: "Pod", Receiver: "a"}}, Routes: []Config{{Match: []Rule{{Receiver: "b"}}}}},
			testEvent(), []string{"a", "b"}},
		{"children do not run when one match rule failed, but matching rules still send",
			Config{Match: []Rule{{Type: "Normal"}, {Kind: "Pod", Receiver: "a"}}, Routes: []Config{{Match: []Rule{{Receiver: "b"}}}}},
			testEvent(), []string{"a"}},
		{"children run when there are no match rules",
			Config{Routes: []Config{{Match: []Rule{{Receiver: "c"}}}}}, testEvent(), []string{"c"}},
		{"a match rule without receiver only gates children",
			Config{Match: []Rule{{Namespace: "shop"}}, Routes: []Config{{Match: []Rule{{Receiver: "a"}}}}},
			testEvent(), []string{"a"}},
		{"labels: the key must exist and the value match",
			Config{Match: []Rule{{Labels: map[string]string{"version": "^dev$"}, Receiver: "a"},
				{Labels: map[string]string{"version": "^prod$"}, Receiver: "b"},
				{Labels: map[string]string{"missing": ".*"}, Receiver: "c"}}},
			testEvent(), []string{"a"}},
		{"labels: an empty value means the key exists",
			Config{Match: []Rule{{Labels: map[string]string{"owner": ""}, Receiver: "a"}}},
			testEvent(), []string{"a"}},
		{"labels: absent key with not",
			Config{Match: []Rule{{Not: &Rule{Labels: map[string]string{"owner": ""}}, Receiver: "a"}}},
			testEvent(func(e *event.EnhancedEvent) { delete(e.InvolvedObject.Labels, "owner") }), []string{"a"}},
		{"labels: not does not match when the key exists",
			Config{Match: []Rule{{Not: &Rule{Labels: map[string]string{"owner": ""}}, Receiver: "a"}}},
			testEvent(), nil},
		{"annotations work as labels",
			Config{Match: []Rule{{Annotations: map[string]string{"pager": "on"}, Receiver: "a"}, {Annotations: map[string]string{"pager": "off"}, Receiver: "b"}}},
			testEvent(), []string{"a"}},
		{"not negates the nested rule (all its fields)",
			Config{Match: []Rule{{Type: "Warning", Not: &Rule{Namespace: "^kube-"}, Receiver: "a"},
				{Type: "Warning", Not: &Rule{Namespace: "^shop$"}, Receiver: "b"}}},
			testEvent(), []string{"a"}},
		{"minCount compares with count",
			Config{Match: []Rule{{MinCount: 3, Receiver: "a"}, {MinCount: 4, Receiver: "b"}}}, testEvent(), []string{"a"}},
		{"minCount reads series.count of events.k8s.io producers",
			Config{Match: []Rule{{MinCount: 5, Receiver: "a"}}},
			testEvent(func(e *event.EnhancedEvent) { e.Count = 0; e.Series = &corev1.EventSeries{Count: 5} }), []string{"a"}},
		{"an event reaches a receiver once however many rules send it there",
			Config{Match: []Rule{{Receiver: "a"}, {Type: "Warning", Receiver: "a"}}, Routes: []Config{{Match: []Rule{{Receiver: "a"}}}}},
			testEvent(), []string{"a"}},
		{"workload fields are empty without a workload",
			Config{Match: []Rule{{WorkloadKind: ".", Receiver: "a"}, {Not: &Rule{WorkloadKind: "."}, Receiver: "b"}}},
			testEvent(func(e *event.EnhancedEvent) { e.InvolvedObject.Workload = nil }), []string{"b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := routed(mustTree(t, tc.route), tc.ev)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("routed to %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRouteMatchedCountsRoutesThatSent(t *testing.T) {
	tree := mustTree(t, Config{Routes: []Config{
		{Match: []Rule{{Receiver: "a"}}},
		{Match: []Rule{{Type: "Normal", Receiver: "b"}}},
	}})
	var got []string
	tree.Match(testEvent(), nil, func(id int) { got = append(got, tree.Routes()[id]) })
	if want := []string{"route.routes[0]"}; !reflect.DeepEqual(got, want) {
		t.Errorf("routes %v, want %v", got, want)
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	tree := mustTree(t, Config{Routes: []Config{
		{Drop: []Rule{{Namespace: "^kube-"}}, Match: []Rule{{Type: "Warning", Labels: map[string]string{"owner": ""}, Receiver: "a"}}},
		{Match: []Rule{{Reason: "BackOff|OOM", Not: &Rule{Namespace: "^dev-"}, Receiver: "b"}}},
	}})
	ev := testEvent()
	dst := make([]string, 0, 4)
	if n := testing.AllocsPerRun(100, func() { dst = tree.Match(ev, dst[:0], nil) }); n != 0 {
		t.Errorf("Match allocates %v times per event", n)
	}
}

func BenchmarkRouteMatch(b *testing.B) {
	tree, errs := Compile(&Config{Routes: []Config{
		{Match: []Rule{{Receiver: "a"}}},
		{Drop: []Rule{{Namespace: "^kube-"}, {Type: "Normal"}}, Match: []Rule{{Labels: map[string]string{"owner": ""}, Receiver: "b"}}},
		{Match: []Rule{{Type: "^Warning$", Reason: "^(BackOff|OOMKilling|FailedScheduling|NodeNotReady)$", Not: &Rule{Namespace: "^(dev|sandbox)-"}, Receiver: "c"}}},
		{Match: []Rule{{Kind: "Pod|Deployment|ReplicaSet", Labels: map[string]string{"version": "dev"}, MinCount: 2, Receiver: "a"}}},
	}}, testReceivers)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	ev := testEvent()
	dst := make([]string, 0, 4)
	b.ReportAllocs()
	for b.Loop() {
		dst = tree.Match(ev, dst[:0], nil)
	}
}

// A route's id is its metric label, so inserting a route before it does
// not rename its series; routes without one keep their path.
func TestRouteIDsAreStableLabels(t *testing.T) {
	tree := mustTree(t, Config{Routes: []Config{
		{Match: []Rule{{Receiver: "a"}}},
		{ID: "team-a-warnings", Match: []Rule{{Type: "Warning", Receiver: "b"}}},
	}})
	want := []string{"route", "route.routes[0]", "team-a-warnings"}
	if got := tree.Routes(); !slices.Equal(got, want) {
		t.Errorf("route labels %q, want %q", got, want)
	}
}
