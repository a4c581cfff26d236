package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/kubeenv"
)

// The heartbeat reaches the receivers it names, every interval, and no
// other: routed events go their own way.
func TestHeartbeat(t *testing.T) {
	ns := "e2e-heartbeat"
	w := setupNamespace(t, ns)
	pager, other := testenv.NewRecorder(), testenv.NewRecorder()
	defer pager.Close()
	defer other.Close()
	r := startEventide(t, fmt.Sprintf(`namespace: %s
heartbeat: {interval: 1s, receivers: [pager]}
route:
  match:
    - receiver: other
receivers:
  - name: pager
    webhook: {endpoint: %s}
  - name: other
    webhook: {endpoint: %s}
`, ns, pager.URL, other.URL))
	createEvent(t, kubeenv.PodEvent(w.Pods[0], "routed", "Warning", "BackOff", "Back-off"))
	reason := func(req testenv.Request) string {
		var ev struct{ Reason, Message string }
		_ = json.Unmarshal(req.Body, &ev)
		return ev.Reason
	}
	beats, err := pager.WaitFor(waitCtx(t), func(reqs []testenv.Request) bool { return len(reqs) >= 2 })
	if err != nil {
		t.Fatalf("%d heartbeats", len(beats))
	}
	for _, b := range beats {
		var ev struct {
			Reason, Message string
			Source          struct{ Component string }
		}
		if err := json.Unmarshal(b.Body, &ev); err != nil || ev.Reason != "EventideHeartbeat" || ev.Source.Component != "eventide" ||
			!strings.Contains(ev.Message, "eventide test on ") || !strings.Contains(ev.Message, "watch is healthy") {
			t.Errorf("pager got %s", b.Body)
		}
	}
	if _, err := other.WaitFor(waitCtx(t), func(reqs []testenv.Request) bool { return len(reqs) >= 1 }); err != nil {
		t.Fatal("the routed event never reached other")
	}
	for _, req := range other.Requests() {
		if reason(req) != "BackOff" {
			t.Errorf("other got %s", req.Body)
		}
	}
	if err := testenv.PollUntil(waitCtx(t), 20*time.Millisecond, func() bool {
		return metricValue(t, r.metrics(t), `eventide_heartbeats_total{result="sent"}`) >= 2
	}); err != nil {
		t.Errorf("eventide_heartbeats_total{result=\"sent\"} under 2")
	}
}

// Heartbeats stop while the event watch fails (the API server is down)
// and come back when it recovers: an on-call tool expecting them notices
// the outage.
func TestHeartbeatStopsWhenWatchFails(t *testing.T) {
	ns := "e2e-heartbeat-stop"
	setupNamespace(t, ns)
	pager := testenv.NewRecorder()
	defer pager.Close()
	r := startEventide(t, fmt.Sprintf("namespace: %s\nheartbeat: {interval: 1s, receivers: [pager]}\nroute: {}\nreceivers:\n  - name: pager\n    webhook: {endpoint: %s}\n", ns, pager.URL))
	if _, err := pager.WaitFor(waitCtx(t), func(reqs []testenv.Request) bool { return len(reqs) >= 2 }); err != nil {
		t.Fatal("no heartbeat while the watch works")
	}
	skipped := func() float64 {
		return metricValue(t, r.metrics(t), `eventide_heartbeats_total{result="skipped_unhealthy"}`)
	}
	controlPlane.StopAPIServer()
	stopped := true
	t.Cleanup(func() {
		if stopped { // the next tests need it
			if err := controlPlane.StartAPIServer(context.Background()); err != nil {
				t.Error(err)
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := testenv.PollUntil(ctx, 50*time.Millisecond, func() bool { return skipped() >= 1 }); err != nil {
		t.Fatalf("no heartbeat skipped with the API server down: %v", err)
	}
	before, s0 := len(pager.Requests()), skipped()
	if err := testenv.PollUntil(ctx, 50*time.Millisecond, func() bool { return skipped() >= s0+3 }); err != nil {
		t.Fatalf("heartbeats not skipped on: %v", err)
	}
	if n := len(pager.Requests()); n != before {
		t.Errorf("%d heartbeats sent while the watch failed", n-before)
	}
	if err := controlPlane.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	stopped = false
	if _, err := pager.WaitFor(ctx, func(reqs []testenv.Request) bool { return len(reqs) > before }); err != nil {
		t.Errorf("heartbeats did not come back after the watch recovered: %v", err)
	}
}
