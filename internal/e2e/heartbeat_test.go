package e2e

import (
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
