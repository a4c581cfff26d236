package exporter

import (
	"reflect"
	"slices"
	"sort"
	"testing"

	"github.com/eventide/eventide/pkg/kube/event"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var testReceivers = []string{"a", "b", "c"}

// testEvent: a Warning BackOff about pod web-1 in shop, labelled
// owner=payments, version=dev, annotated pager=on, owned by Deployment web.
func testEvent(mod ...func(*event.EnhancedEvent)) *event.EnhancedEvent {
	ev := event.NewEnhancedEvent(&corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "web-1.abc", Namespace: "shop"},
		InvolvedObject: corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Name: "web-1", Namespace: "shop"},
		Reason:         "BackOff", Message: "Back-off restarting failed container", Type: "Warning",
		Source: corev1.EventSource{Component: "kubelet", Host: "node-7"},
		Count:  3,
	}, "c1")
	ev.InvolvedObject.Labels = map[string]string{"owner": "payments", "version": "dev"}
	ev.InvolvedObject.Annotations = map[string]string{"pager": "on"}
	ev.InvolvedObject.Workload = &event.WorkloadReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}
	for _, m := range mod {
		m(ev)
	}
	return ev
}

func mustTree(t *testing.T, cfg RouteConfig) *Tree {
	t.Helper()
	tree, errs := compileTree(&cfg, testReceivers)
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
		route RouteConfig
		ev    *event.EnhancedEvent
		want  []string
	}{
		{"a rule with only a receiver matches everything",
			RouteConfig{Match: []RuleConfig{{Receiver: "a"}}}, testEvent(), []string{"a"}},
		{"no routes, no receivers",
			RouteConfig{}, testEvent(), nil},
		{"regexes are unanchored: Pod matches PodDisruptionBudget",
			RouteConfig{Match: []RuleConfig{{Kind: "Pod", Receiver: "a"}}},
			testEvent(func(e *event.EnhancedEvent) { e.InvolvedObject.Kind = "PodDisruptionBudget" }), []string{"a"}},
		{"^Pod$ does not match PodDisruptionBudget",
			RouteConfig{Match: []RuleConfig{{Kind: "^Pod$", Receiver: "a"}}},
			testEvent(func(e *event.EnhancedEvent) { e.InvolvedObject.Kind = "PodDisruptionBudget" }), nil},
		{"fields are ANDed",
			RouteConfig{Match: []RuleConfig{{Type: "Warning", Reason: "Pulled", Receiver: "a"}}}, testEvent(), nil},
		{"every string field",
			RouteConfig{Match: []RuleConfig{{Message: "^Back-off", APIVersion: "^v1$", Kind: "^Pod$", Namespace: "^shop$",
				Reason: "BackOff", Type: "Warning", Component: "kubelet", Host: "node-7", Name: "^web-1$",
				ObjectNamespace: "^shop$", WorkloadKind: "^Deployment$", WorkloadName: "^web$", Receiver: "a"}}},
			testEvent(), []string{"a"}},
		{"namespace is the event's, objectNamespace the object's",
			RouteConfig{Match: []RuleConfig{{Namespace: "^shop$", Receiver: "a"}, {ObjectNamespace: "^shop$", Receiver: "b"}}},
			testEvent(func(e *event.EnhancedEvent) { e.InvolvedObject.Namespace = "other" }), []string{"a"}},
		{"match rules send independently",
			RouteConfig{Match: []RuleConfig{{Type: "Normal", Receiver: "a"}, {Type: "Warning", Receiver: "b"}}},
			testEvent(), []string{"b"}},
		{"a drop match stops the route's own match rules",
			RouteConfig{Drop: []RuleConfig{{Namespace: "shop"}}, Match: []RuleConfig{{Receiver: "a"}}}, testEvent(), nil},
		{"a drop match stops the subtree",
			RouteConfig{Drop: []RuleConfig{{Namespace: "shop"}}, Routes: []RouteConfig{{Match: []RuleConfig{{Receiver: "a"}}}}},
			testEvent(), nil},
		{"a drop that does not match lets the event through",
			RouteConfig{Drop: []RuleConfig{{Namespace: "kube-system"}}, Match: []RuleConfig{{Receiver: "a"}}}, testEvent(), []string{"a"}},
		{"drop in one route does not affect a sibling",
			RouteConfig{Routes: []RouteConfig{
				{Drop: []RuleConfig{{Type: "Warning"}}, Match: []RuleConfig{{Receiver: "a"}}},
				{Match: []RuleConfig{{Receiver: "b"}}}}},
			testEvent(), []string{"b"}},
		{"children run when every match rule matched",
			RouteConfig{Match: []RuleConfig{{Type: "Warning"}, {Kind: "Pod", Receiver: "a"}}, Routes: []RouteConfig{{Match: []RuleConfig{{Receiver: "b"}}}}},
			testEvent(), []string{"a", "b"}},
		{"children do not run when one match rule failed, but matching rules still send",
			RouteConfig{Match: []RuleConfig{{Type: "Normal"}, {Kind: "Pod", Receiver: "a"}}, Routes: []RouteConfig{{Match: []RuleConfig{{Receiver: "b"}}}}},
			testEvent(), []string{"a"}},
		{"children run when there are no match rules",
			RouteConfig{Routes: []RouteConfig{{Match: []RuleConfig{{Receiver: "c"}}}}}, testEvent(), []string{"c"}},
		{"a match rule without receiver only gates children",
			RouteConfig{Match: []RuleConfig{{Namespace: "shop"}}, Routes: []RouteConfig{{Match: []RuleConfig{{Receiver: "a"}}}}},
			testEvent(), []string{"a"}},
		{"labels: the key must exist and the value match",
			RouteConfig{Match: []RuleConfig{{Labels: map[string]string{"version": "^dev$"}, Receiver: "a"},
				{Labels: map[string]string{"version": "^prod$"}, Receiver: "b"},
				{Labels: map[string]string{"missing": ".*"}, Receiver: "c"}}},
			testEvent(), []string{"a"}},
		{"labels: an empty value means the key exists",
			RouteConfig{Match: []RuleConfig{{Labels: map[string]string{"owner": ""}, Receiver: "a"}}},
			testEvent(), []string{"a"}},
		{"labels: absent key with not",
			RouteConfig{Match: []RuleConfig{{Not: &RuleConfig{Labels: map[string]string{"owner": ""}}, Receiver: "a"}}},
			testEvent(func(e *event.EnhancedEvent) { delete(e.InvolvedObject.Labels, "owner") }), []string{"a"}},
		{"labels: not does not match when the key exists",
			RouteConfig{Match: []RuleConfig{{Not: &RuleConfig{Labels: map[string]string{"owner": ""}}, Receiver: "a"}}},
			testEvent(), nil},
		{"annotations work as labels",
			RouteConfig{Match: []RuleConfig{{Annotations: map[string]string{"pager": "on"}, Receiver: "a"}, {Annotations: map[string]string{"pager": "off"}, Receiver: "b"}}},
			testEvent(), []string{"a"}},
		{"not negates the nested rule (all its fields)",
			RouteConfig{Match: []RuleConfig{{Type: "Warning", Not: &RuleConfig{Namespace: "^kube-"}, Receiver: "a"},
				{Type: "Warning", Not: &RuleConfig{Namespace: "^shop$"}, Receiver: "b"}}},
			testEvent(), []string{"a"}},
		{"minCount compares with count",
			RouteConfig{Match: []RuleConfig{{MinCount: 3, Receiver: "a"}, {MinCount: 4, Receiver: "b"}}}, testEvent(), []string{"a"}},
		{"minCount reads series.count of events.k8s.io producers",
			RouteConfig{Match: []RuleConfig{{MinCount: 5, Receiver: "a"}}},
			testEvent(func(e *event.EnhancedEvent) { e.Count = 0; e.Series = &corev1.EventSeries{Count: 5} }), []string{"a"}},
		{"an event reaches a receiver once however many rules send it there",
			RouteConfig{Match: []RuleConfig{{Receiver: "a"}, {Type: "Warning", Receiver: "a"}}, Routes: []RouteConfig{{Match: []RuleConfig{{Receiver: "a"}}}}},
			testEvent(), []string{"a"}},
		{"workload fields are empty without a workload",
			RouteConfig{Match: []RuleConfig{{WorkloadKind: ".", Receiver: "a"}, {Not: &RuleConfig{WorkloadKind: "."}, Receiver: "b"}}},
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
	tree := mustTree(t, RouteConfig{Routes: []RouteConfig{
		{Match: []RuleConfig{{Receiver: "a"}}},
		{Match: []RuleConfig{{Type: "Normal", Receiver: "b"}}},
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
	tree := mustTree(t, RouteConfig{Routes: []RouteConfig{
		{Drop: []RuleConfig{{Namespace: "^kube-"}}, Match: []RuleConfig{{Type: "Warning", Labels: map[string]string{"owner": ""}, Receiver: "a"}}},
		{Match: []RuleConfig{{Reason: "BackOff|OOM", Not: &RuleConfig{Namespace: "^dev-"}, Receiver: "b"}}},
	}})
	ev := testEvent()
	dst := make([]string, 0, 4)
	if n := testing.AllocsPerRun(100, func() { dst = tree.Match(ev, dst[:0], nil) }); n != 0 {
		t.Errorf("Match allocates %v times per event", n)
	}
}

func BenchmarkRouteMatch(b *testing.B) {
	tree, errs := compileTree(&RouteConfig{Routes: []RouteConfig{
		{Match: []RuleConfig{{Receiver: "a"}}},
		{Drop: []RuleConfig{{Namespace: "^kube-"}, {Type: "Normal"}}, Match: []RuleConfig{{Labels: map[string]string{"owner": ""}, Receiver: "b"}}},
		{Match: []RuleConfig{{Type: "^Warning$", Reason: "^(BackOff|OOMKilling|FailedScheduling|NodeNotReady)$", Not: &RuleConfig{Namespace: "^(dev|sandbox)-"}, Receiver: "c"}}},
		{Match: []RuleConfig{{Kind: "Pod|Deployment|ReplicaSet", Labels: map[string]string{"version": "dev"}, MinCount: 2, Receiver: "a"}}},
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
	tree := mustTree(t, RouteConfig{Routes: []RouteConfig{
		{Match: []RuleConfig{{Receiver: "a"}}},
		{ID: "team-a-warnings", Match: []RuleConfig{{Type: "Warning", Receiver: "b"}}},
	}})
	want := []string{"route", "route.routes[0]", "team-a-warnings"}
	if got := tree.Routes(); !slices.Equal(got, want) {
		t.Errorf("route labels %q, want %q", got, want)
	}
}
