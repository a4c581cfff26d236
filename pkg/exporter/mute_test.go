package exporter

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eventide/eventide/pkg/kube/event"
)

const muteConfig = `
route:
  match:
    - receiver: archive
    - receiver: pager
silence:
  - match: {namespace: "^maintenance$"}
    until: 2999-01-01T00:00:00Z
    comment: planned work
  - match: {namespace: "^over$"}
    until: 2000-01-01T00:00:00Z
inhibit:
  - source: {kind: "^Node$", reason: "^NodeNotReady$"}
    target: {kind: "^Pod$"}
    equal: [node]
    for: 10m
receivers:
  - name: archive
    stdout: {}
  - name: pager
    stdout: {}
    silenceable: true
`

// muteRecorder records receiver:name of what the pipeline enqueued.
type muteRecorder struct{ got []string }

func (r *muteRecorder) Enqueue(receiver string, ev *event.EnhancedEvent) {
	r.got = append(r.got, receiver+":"+ev.Name)
}

// Silences (the route file's, an object's annotation, its namespace's)
// and an active inhibition keep events from silenceable receivers only;
// each is counted by reason.
func TestMutingSilenceableReceivers(t *testing.T) {
	l, err := Load([]byte(muteConfig), testLoadOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	m := NewMetrics(prometheus.NewRegistry(), "")
	enq := &muteRecorder{}
	nsAnn := map[string]map[string]string{"frozen": {SilenceAnnotation: time.Now().Add(time.Hour).Format(time.RFC3339)}}
	p := NewPipeline(l.Tree, enq, m, PipelineOptions{NamespaceAnnotations: func(ns string) map[string]string { return nsAnn[ns] }})
	now := time.Now()
	pod := func(name, ns, node string, at time.Time) *event.EnhancedEvent {
		return testEvent(func(e *event.EnhancedEvent) {
			e.Name, e.Namespace, e.InvolvedObject.Namespace, e.Source.Host = name, ns, ns, node
			e.LastTimestamp = metav1.NewTime(at)
		})
	}
	nodeDown := testEvent(func(e *event.EnhancedEvent) {
		e.Name, e.Reason, e.Source.Host = "node-down", "NodeNotReady", ""
		e.InvolvedObject.Kind, e.InvolvedObject.Name, e.InvolvedObject.Namespace = "Node", "node-1", ""
		e.LastTimestamp = metav1.NewTime(now.Add(-5 * time.Minute))
	})
	annotated := pod("annotated", "shop", "node-2", now)
	annotated.InvolvedObject.Annotations = map[string]string{SilenceAnnotation: now.Add(time.Minute).Format(time.RFC3339)}
	expiredAnn := pod("expired-annotation", "shop", "node-2", now)
	expiredAnn.InvolvedObject.Annotations = map[string]string{SilenceAnnotation: now.Add(-time.Minute).Format(time.RFC3339)}
	go func() {
		for _, ev := range []*event.EnhancedEvent{
			pod("in-maintenance", "maintenance", "node-2", now),
			pod("silence-over", "over", "node-2", now),
			pod("frozen-ns", "frozen", "node-2", now),
			annotated, expiredAnn,
			pod("before-node-down", "shop", "node-1", now),
			nodeDown,
			pod("on-down-node", "shop", "node-1", now),
			pod("on-other-node", "shop", "node-2", now),
		} {
			p.Handle(ev)
		}
		p.Close()
	}()
	p.Run(context.Background())
	var pager, archive []string
	for _, g := range enq.got {
		if name, ok := strings.CutPrefix(g, "pager:"); ok {
			pager = append(pager, name)
		} else {
			archive = append(archive, g)
		}
	}
	if want := "[silence-over expired-annotation before-node-down node-down on-other-node]"; fmt.Sprint(pager) != want {
		t.Errorf("pager got %v, want %s", pager, want)
	}
	if len(archive) != 9 {
		t.Errorf("archive got %d events, want all 9: it is not silenceable", len(archive))
	}
	for reason, want := range map[string]float64{MuteSilenced: 3, MuteInhibited: 1} {
		if got := testutil.ToFloat64(m.EventsMuted.WithLabelValues("pager", reason)); got != want {
			t.Errorf("muted %s: %v, want %v", reason, got, want)
		}
	}
}

// An inhibition's source is active for `for` after its last occurrence,
// by the event's own time: an old NodeNotReady listed at start inhibits
// nothing.
func TestInhibitionWindow(t *testing.T) {
	l, err := Load([]byte(muteConfig), testLoadOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	mute := l.Tree.mute
	now := time.Now()
	src := testEvent(func(e *event.EnhancedEvent) {
		e.Reason, e.InvolvedObject.Kind, e.InvolvedObject.Name = "NodeNotReady", "Node", "node-7"
		e.LastTimestamp = metav1.NewTime(now.Add(-11 * time.Minute))
	})
	mute.observe(src)
	target := testEvent() // a Pod on node-7
	if why := mute.why(target, now, nil); why != "" {
		t.Errorf("a source 11m old inhibits with for: 10m (%s)", why)
	}
	src.LastTimestamp = metav1.NewTime(now.Add(-9 * time.Minute))
	mute.observe(src)
	if why := mute.why(target, now, nil); why != MuteInhibited {
		t.Errorf("a source 9m old does not inhibit (%q)", why)
	}
}

func TestMutingConfigErrors(t *testing.T) {
	_, err := Load([]byte(`
route: {match: [{receiver: a}]}
silence:
  - match: {namespace: "*shop", receiver: a}
inhibit:
  - source: {reason: x}
    target: {reason: y}
    equal: [nodeName]
receivers: [{name: a, stdout: {}}]
`), testLoadOptions(nil))
	for _, want := range []string{"silence[0].until: required", "silence[0].match.namespace", "silence[0].match.receiver", "inhibit[0].for: required", `inhibit[0].equal[0]: "nodeName" is not an event field`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
