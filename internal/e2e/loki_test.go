package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/kubeenv"
)

// Events from the cluster reach Loki's push API once each, in a stream per
// namespace and type, at their own occurrence time.
func TestLokiReceiver(t *testing.T) {
	ns := "e2e-loki"
	w := setupNamespace(t, ns)
	srv := testenv.NewLokiServer()
	defer srv.Close()
	startEventide(t, fmt.Sprintf(`namespace: %s
route:
  match:
    - receiver: loki
receivers:
  - name: loki
    loki:
      url: %s
      tenantID: e2e
      flushInterval: 100ms
      streamLabels: {namespace: "{{ .Namespace }}", type: "{{ .Type }}"}
      layout: {name: "{{ .Name }}", owner: '{{ index .InvolvedObject.Labels "owner" }}'}
`, ns, srv.URL))
	const n = 7
	created := map[string]time.Time{}
	for i := 0; i < n; i++ {
		ev := createEvent(t, kubeenv.PodEvent(w.Pods[i%len(w.Pods)], fmt.Sprintf("loki-%d", i), "Warning", "BackOff", "Back-off"))
		created[fmt.Sprintf(`{"name":"loki-%d","owner":"team-%s"}`, i, ns)] = ev.LastTimestamp.Time
	}
	var entries []testenv.LokiEntry
	if err := testenv.PollUntil(waitCtx(t), 20*time.Millisecond, func() bool {
		entries, _ = srv.Entries()
		return len(entries) >= n
	}); err != nil {
		t.Fatalf("%d of %d entries", len(entries), n)
	}
	for _, e := range entries {
		at, ok := created[e.Line]
		if !ok || !e.At.Equal(at) || e.Labels != fmt.Sprintf(`{namespace=%q, type="Warning"}`, ns) {
			t.Errorf("entry %s %v %s: want one of the created events, at its own time", e.Labels, e.At, e.Line)
		}
		delete(created, e.Line)
	}
	if len(entries) != n {
		t.Errorf("%d entries, want %d", len(entries), n)
	}
}
