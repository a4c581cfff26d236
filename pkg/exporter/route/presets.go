package route

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/eventide/eventide/pkg/kube/event"
)

// Presets are named rules: eventarbiter's alarms, defined on event
// classes where one fits, so they do not depend on the event's type (a
// Node's NodeNotReady and an image-pull back-off are Normal events).
// README's "Presets" table lists each with its rule.
var Presets = map[string]Rule{
	"node_notready":       {Kind: "^Node$", Class: "^NodeNotReady$"},
	"node_notschedulable": {Kind: "^Node$", Reason: "^NodeNotSchedulable$"},
	"node_systemoom":      {Kind: "^Node$", Reason: "^SystemOOM$"},
	"node_rebooted":       {Kind: "^Node$", Class: "^NodeRebooted$"},
	// eventarbiter matched the reason BackOff: crash loops and image-pull
	// back-offs (classes CrashLoop and ImagePullBackOff) alike.
	"pod_backoff":          {Kind: "^Pod$", Reason: "^BackOff$"},
	"pod_failed":           {Kind: "^Pod$", Reason: "^Failed$"},
	"pod_failedsync":       {Kind: "^Pod$", Reason: "^FailedSync$"},
	"pod_unhealthy":        {Kind: "^Pod$", Class: "^ProbeFailed$"},
	"pod_failedscheduling": {Kind: "^Pod$", Class: "^Unschedulable$"},
	// eventarbiter's older names, before it merged them into
	// pod_failedscheduling; it registered the cpu one as
	// pod_insufficentcpu, so its documented name never worked.
	"pod_insufficientcpu":    {Kind: "^Pod$", Class: "^Unschedulable$", ClassDetail: "insufficient cpu"},
	"pod_insufficientmemory": {Kind: "^Pod$", Class: "^Unschedulable$", ClassDetail: "insufficient memory"},
	"npd_oomkilling":         {Kind: "^Node$", Reason: "^OOMKilling$"},
	"npd_taskhung":           {Kind: "^Node$", Reason: "^TaskHung$"},
}

// presetAliases are other names of a preset.
var presetAliases = map[string]string{"pod_insufficentcpu": "pod_insufficientcpu"}

// preset is the named preset's rule.
func preset(name string) (Rule, error) {
	if alias, ok := presetAliases[name]; ok {
		name = alias
	}
	p, ok := Presets[name]
	if !ok {
		names := slices.Sorted(maps.Keys(Presets))
		return Rule{}, fmt.Errorf("unknown preset %q (known: %s)", name, strings.Join(names, ", "))
	}
	return p, nil
}

// classWord is a plain class or alias name in a `class:` pattern.
var classWord = regexp.MustCompile(`\b[A-Za-z]+\b`)

// expandClassAliases reads kube-eventer's names in a `class:` pattern as
// the classes they map to: `PodCrash|PodOOM` matches CrashLoop and
// OOMKilled. A name that is also a class (NodeNotReady) stays.
func expandClassAliases(pattern string) string {
	return classWord.ReplaceAllStringFunc(pattern, func(w string) string {
		classes, ok := event.ClassAliases[w]
		if !ok || slices.Contains(event.Classes, w) {
			return w
		}
		return "(?:" + strings.Join(classes, "|") + ")"
	})
}
