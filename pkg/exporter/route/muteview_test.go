package route

import (
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eventide/eventide/pkg/kube/event"
)

// Explain names what muted an event, and Views shows the silences, the
// annotation silences that muted events (while in force) and the inhibit
// rules' active sources.
func TestMutingExplainAndViews(t *testing.T) {
	now := time.Now()
	mute, errs := CompileMuting([]Silence{
		{Match: Rule{Reason: "^Pulled$"}, Until: now.Add(-time.Hour), Comment: "over"},
		{Match: Rule{Namespace: "^shop$", Labels: map[string]string{"owner": "payments"}, Not: &Rule{Reason: "^OOM"}}, Until: now.Add(time.Hour), Comment: "maintenance"},
	}, []Inhibit{{Source: Rule{Kind: "^Node$"}, Target: Rule{Kind: "^Pod$"}, Equal: []string{"node"}, For: 10 * time.Minute}},
		[]string{"pager"}, map[string]bool{"pager": true})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if reason, by := mute.Explain(testEvent(), now, nil); reason != MuteSilenced || by != "silence[1]" {
		t.Errorf("the shop pod: %s by %s", reason, by)
	}
	annotated := testEvent(func(e *event.EnhancedEvent) {
		e.Namespace, e.InvolvedObject.Namespace, e.InvolvedObject.Name = "web", "web", "api-1"
		e.InvolvedObject.Annotations = map[string]string{SilenceAnnotation: now.Add(30 * time.Minute).UTC().Format(time.RFC3339)}
	})
	if reason, by := mute.Explain(annotated, now, nil); reason != MuteSilenced || by != "annotation on Pod web/api-1" {
		t.Errorf("the annotated pod: %s by %s", reason, by)
	}
	frozen := func(ns string) map[string]string {
		return map[string]string{SilenceAnnotation: now.Add(time.Minute).UTC().Format(time.RFC3339)}
	}
	elsewhere := testEvent(func(e *event.EnhancedEvent) { e.Namespace, e.InvolvedObject.Namespace = "frozen", "frozen" })
	if reason, by := mute.Explain(elsewhere, now, frozen); reason != MuteSilenced || by != "annotation on namespace frozen" {
		t.Errorf("the frozen namespace: %s by %s", reason, by)
	}
	mute.Observe(testEvent(func(e *event.EnhancedEvent) {
		e.InvolvedObject.Kind, e.InvolvedObject.Name, e.InvolvedObject.Namespace = "Node", "node-7", ""
		e.LastTimestamp = metav1.NewTime(now.Add(-time.Minute))
	}))
	onNode := testEvent(func(e *event.EnhancedEvent) { e.Namespace, e.InvolvedObject.Namespace = "db", "db" })
	if reason, by := mute.Explain(onNode, now, nil); reason != MuteInhibited || by != "inhibit[0]" {
		t.Errorf("the pod on node-7: %s by %s", reason, by)
	}

	silences, annotations, inhibits := mute.Views(now)
	if len(silences) != 2 || silences[0].Active || silences[0].Match != "reason=^Pulled$" || !silences[1].Active ||
		silences[1].Match != "namespace=^shop$ labels.owner=payments not(reason=^OOM)" || silences[1].Comment != "maintenance" {
		t.Errorf("silences %+v", silences)
	}
	wantOn := []string{"Pod web/api-1", "namespace frozen"}
	var on []string
	for _, a := range annotations {
		on = append(on, a.On)
	}
	if !reflect.DeepEqual(on, wantOn) {
		t.Errorf("annotation silences %v, want %v", on, wantOn)
	}
	if _, later, _ := mute.Views(now.Add(2 * time.Minute)); len(later) != 1 || later[0].On != "Pod web/api-1" {
		t.Errorf("two minutes on, the namespace's silence ended: %+v", later)
	}
	if len(inhibits) != 1 || inhibits[0].Source != "kind=^Node$" || len(inhibits[0].Sources) != 1 || inhibits[0].Sources[0].Values[0] != "node-7" {
		t.Errorf("inhibits %+v", inhibits)
	}
	if _, _, later := mute.Views(now.Add(10 * time.Minute)); len(later[0].Sources) != 0 {
		t.Errorf("a source past its window is still listed: %+v", later[0].Sources)
	}
}

// Trace names the route whose drop rule stopped an event.
func TestTraceNamesTheDrop(t *testing.T) {
	tree := mustTree(t, Config{Routes: []Config{
		{ID: "keep", Match: []Rule{{Receiver: "a"}}},
		{ID: "quiet", Drop: []Rule{{Reason: "^BackOff$"}}, Match: []Rule{{Receiver: "b"}}},
	}})
	var routes, drops []int
	got := tree.Trace(testEvent(), nil, func(id int) { routes = append(routes, id) }, func(id int) { drops = append(drops, id) })
	labels := tree.Routes()
	if len(got) != 1 || got[0] != "a" || len(routes) != 1 || labels[routes[0]] != "keep" || len(drops) != 1 || labels[drops[0]] != "quiet" {
		t.Errorf("receivers %v, routes %v, drops %v (labels %v)", got, routes, drops, labels)
	}
}
