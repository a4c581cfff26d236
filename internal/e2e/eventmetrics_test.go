package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/kubeenv"
)

// A known stream through the control plane, with repeats, is counted on
// /metrics by occurrence: exact values per label set; a reload that
// rebuilds the receiver (another maxSeries) keeps them.
func TestEventMetrics(t *testing.T) {
	ns := "e2e-eventmetrics"
	w := setupNamespace(t, ns)
	ctx := context.Background()
	conf := func(maxSeries int) string {
		return fmt.Sprintf(`namespace: %s
route:
  match:
    - receiver: metrics
receivers:
  - name: metrics
    prometheus:
      name: kube_events_total
      labels: [namespace, reason, type, labels.owner]
      maxSeries: %d
`, ns, maxSeries)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(withTestState(t, conf(100))), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startEventideFile(t, path)
	// 3 BackOff events, the first repeated twice; 2 Unhealthy; 1 Normal.
	backoff := createEvent(t, kubeenv.PodEvent(w.Pods[0], "m-backoff-0", "Warning", "BackOff", "Back-off"))
	createEvent(t, kubeenv.PodEvent(w.Pods[1], "m-backoff-1", "Warning", "BackOff", "Back-off"))
	createEvent(t, kubeenv.PodEvent(w.Pods[2], "m-backoff-2", "Warning", "BackOff", "Back-off"))
	createEvent(t, kubeenv.PodEvent(w.Pods[0], "m-unhealthy-0", "Warning", "Unhealthy", "Readiness probe failed"))
	createEvent(t, kubeenv.PodEvent(w.Pods[1], "m-unhealthy-1", "Warning", "Unhealthy", "Readiness probe failed"))
	createEvent(t, kubeenv.PodEvent(w.Pods[2], "m-pulled", "Normal", "Pulled", "Image pulled"))
	for i := 0; i < 2; i++ {
		var err error
		if backoff, err = cluster.Repeat(ctx, backoff); err != nil {
			t.Fatal(err)
		}
	}
	owner := "team-" + ns
	series := func(reason, typ string) string {
		return fmt.Sprintf(`kube_events_total{label_owner=%q,namespace=%q,reason=%q,type=%q}`, owner, ns, reason, typ)
	}
	want := map[string]float64{series("BackOff", "Warning"): 5, series("Unhealthy", "Warning"): 2, series("Pulled", "Normal"): 1}
	check := func(when string) {
		t.Helper()
		var text string
		err := testenv.PollUntil(waitCtx(t), 20*time.Millisecond, func() bool {
			text = r.metrics(t)
			for s, v := range want {
				if !strings.Contains(text, fmt.Sprintf("%s %g\n", s, v)) {
					return false
				}
			}
			return true
		})
		if err != nil {
			t.Fatalf("%s: /metrics never showed %v:\n%s", when, want, grepLines(text, "kube_events_total"))
		}
	}
	check("after the stream")
	if err := os.WriteFile(path, []byte(withTestState(t, conf(200))), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, body := postReload(t, r); code != http.StatusOK {
		t.Fatalf("reload: %d %s", code, body)
	}
	if _, err := cluster.Repeat(ctx, backoff); err != nil {
		t.Fatal(err)
	}
	want[series("BackOff", "Warning")] = 6 // kept, plus the repeat
	check("after a reload and one more repeat")
}

// grepLines are text's lines that contain s.
func grepLines(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
