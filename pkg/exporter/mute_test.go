package exporter

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eventide/eventide/pkg/exporter/config"
	"github.com/eventide/eventide/pkg/exporter/route"

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
	l, err := config.Load([]byte(muteConfig), testLoadOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	m := NewMetrics(prometheus.NewRegistry(), "")
	enq := &muteRecorder{}
	nsAnn := map[string]map[string]string{"frozen": {route.SilenceAnnotation: time.Now().Add(time.Hour).Format(time.RFC3339)}}
	p := NewPipeline(l, enq, m, PipelineOptions{NamespaceAnnotations: func(ns string) map[string]string { return nsAnn[ns] }})
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
	annotated.InvolvedObject.Annotations = map[string]string{route.SilenceAnnotation: now.Add(time.Minute).Format(time.RFC3339)}
	expiredAnn := pod("expired-annotation", "shop", "node-2", now)
	expiredAnn.InvolvedObject.Annotations = map[string]string{route.SilenceAnnotation: now.Add(-time.Minute).Format(time.RFC3339)}
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
	for reason, want := range map[string]float64{route.MuteSilenced: 3, route.MuteInhibited: 1} {
		if got := testutil.ToFloat64(m.EventsMuted.WithLabelValues("pager", reason)); got != want {
			t.Errorf("muted %s: %v, want %v", reason, got, want)
		}
	}
}
