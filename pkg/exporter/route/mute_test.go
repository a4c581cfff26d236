package route

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eventide/eventide/pkg/kube/event"
)

// An inhibition's source is active for `for` after its last occurrence,
// by the event's own time: an old NodeNotReady listed at start inhibits
// nothing.
func TestInhibitionWindow(t *testing.T) {
	mute, errs := CompileMuting(nil, []Inhibit{{Source: Rule{Kind: "^Node$", Reason: "^NodeNotReady$"},
		Target: Rule{Kind: "^Pod$"}, Equal: []string{"node"}, For: 10 * time.Minute}}, []string{"pager"}, map[string]bool{"pager": true})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	now := time.Now()
	src := testEvent(func(e *event.EnhancedEvent) {
		e.Reason, e.InvolvedObject.Kind, e.InvolvedObject.Name = "NodeNotReady", "Node", "node-7"
		e.LastTimestamp = metav1.NewTime(now.Add(-11 * time.Minute))
	})
	mute.Observe(src)
	target := testEvent() // a Pod on node-7
	if why := mute.Why(target, now, nil); why != "" {
		t.Errorf("a source 11m old inhibits with for: 10m (%s)", why)
	}
	src.LastTimestamp = metav1.NewTime(now.Add(-9 * time.Minute))
	mute.Observe(src)
	if why := mute.Why(target, now, nil); why != MuteInhibited {
		t.Errorf("a source 9m old does not inhibit (%q)", why)
	}
}
