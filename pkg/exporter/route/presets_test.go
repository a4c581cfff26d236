package route

import (
	"fmt"
	"strings"
	"testing"

	"github.com/eventide/eventide/pkg/kube/event"
)

// class:, classDetail:, service: and preset: match as documented; a
// preset ANDs with the rule's own fields, and kube-eventer's class names
// read as the classes they map to.
func TestClassServiceAndPresetRules(t *testing.T) {
	crash := testEvent() // BackOff "Back-off restarting failed container": CrashLoop
	pull := testEvent(func(e *event.EnhancedEvent) {
		e.Type, e.Message = "Normal", `Back-off pulling image "app:v2"`
		e.Class, e.ClassDetail = event.Classify(&e.Event)
	})
	cpu := testEvent(func(e *event.EnhancedEvent) {
		e.Reason, e.Message = "FailedScheduling", "0/3 nodes are available: 3 Insufficient cpu. preemption: none"
		e.Class, e.ClassDetail = event.Classify(&e.Event)
	})
	node := testEvent(func(e *event.EnhancedEvent) {
		e.InvolvedObject.Kind, e.Type, e.Reason, e.Message = "Node", "Normal", "NodeNotReady", "Node node-7 status is now: NodeNotReady"
		e.Class, e.ClassDetail = event.Classify(&e.Event)
	})
	served := testEvent(func(e *event.EnhancedEvent) { e.InvolvedObject.Services = []string{"api", "checkout"} })
	for _, tc := range []struct {
		rule Rule
		ev   *event.EnhancedEvent
		want bool
	}{
		{Rule{Class: "^CrashLoop$"}, crash, true},
		{Rule{Class: "^CrashLoop$"}, pull, false},
		{Rule{Class: "^PodCrash$"}, crash, true}, // kube-eventer's name
		{Rule{Class: "PodImagePullBackOff"}, pull, true},
		{Rule{Class: "NodeNotReady"}, node, true}, // a class and an alias: stays
		{Rule{Class: "Unschedulable", ClassDetail: "insufficient cpu"}, cpu, true},
		{Rule{ClassDetail: "insufficient memory"}, cpu, false},
		{Rule{Preset: "pod_backoff"}, crash, true},
		{Rule{Preset: "pod_backoff"}, pull, true}, // a Normal event: presets ignore the type
		{Rule{Preset: "pod_backoff", Namespace: "^other$"}, crash, false},
		{Rule{Preset: "pod_insufficentcpu"}, cpu, true}, // eventarbiter's misspelt name
		{Rule{Preset: "pod_insufficientmemory"}, cpu, false},
		{Rule{Preset: "node_notready"}, node, true},
		{Rule{Preset: "node_notready"}, crash, false},
		{Rule{Service: "^checkout$"}, served, true},
		{Rule{Service: "^api,checkout$"}, served, false}, // each Service on its own
		{Rule{Service: "."}, crash, false},               // no Services: no match
		{Rule{Not: &Rule{Service: "^checkout$"}}, crash, true},
	} {
		tc.rule.Receiver = "a"
		tree := mustTree(t, Config{Match: []Rule{tc.rule}})
		if got := len(tree.Match(tc.ev, nil, nil)) == 1; got != tc.want {
			t.Errorf("%+v on %s %s: matched %v, want %v", tc.rule, tc.ev.Reason, tc.ev.Class, got, tc.want)
		}
	}
	for name, p := range Presets {
		if _, errs := Compile(&Config{Match: []Rule{{Preset: name, Receiver: "a"}}}, testReceivers); len(errs) > 0 || p.Receiver != "" {
			t.Errorf("preset %s: %v", name, errs)
		}
	}
	_, errs := Compile(&Config{Drop: []Rule{{Preset: "pod_backof"}}}, testReceivers)
	if len(errs) != 1 || !strings.Contains(fmt.Sprint(errs), `route.drop[0].preset: unknown preset "pod_backof" (known: node_notready`) {
		t.Errorf("unknown preset: %v", errs)
	}
}
