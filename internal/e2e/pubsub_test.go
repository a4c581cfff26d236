package e2e

import (
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/pstest"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/kubeenv"
)

// Events from the cluster reach Pub/Sub (pstest, Google's fake) once each,
// in order per pod (ordering key: its UID).
func TestPubSubReceiver(t *testing.T) {
	ns := "e2e-pubsub"
	w := setupNamespace(t, ns)
	srv := pstest.NewServer()
	defer srv.Close()
	t.Setenv("PUBSUB_EMULATOR_HOST", srv.Addr)
	startEventide(t, fmt.Sprintf(`namespace: %s
route:
  match:
    - receiver: pubsub
receivers:
  - name: pubsub
    pubsub:
      gcloud_project_id: e2e
      topic: k8s-events
      create_topic: true
      orderingKey: "{{ .InvolvedObject.UID }}"
      layout: {name: "{{ .Name }}", owner: '{{ index .InvolvedObject.Labels "owner" }}'}
`, ns))
	const n = 9
	for i := 0; i < n; i++ {
		createEvent(t, kubeenv.PodEvent(w.Pods[i%len(w.Pods)], fmt.Sprintf("pubsub-%d", i), "Warning", "BackOff", "Back-off"))
	}
	if err := testenv.PollUntil(waitCtx(t), 20*time.Millisecond, func() bool { return len(srv.Messages()) >= n }); err != nil {
		t.Fatalf("%d of %d messages", len(srv.Messages()), n)
	}
	last := map[string]string{}
	for _, m := range srv.Messages() {
		want := fmt.Sprintf(`"owner":"team-%s"}`, ns)
		if len(m.Data) < len(want) || string(m.Data[len(m.Data)-len(want):]) != want {
			t.Errorf("message %s: no owner label", m.Data)
		}
		if prev := last[m.OrderingKey]; prev > string(m.Data) {
			t.Errorf("key %s: %s after %s", m.OrderingKey, m.Data, prev)
		}
		last[m.OrderingKey] = string(m.Data)
	}
	if len(srv.Messages()) != n || len(last) != len(w.Pods) {
		t.Errorf("%d messages over %d keys, want %d over %d", len(srv.Messages()), len(last), n, len(w.Pods))
	}
}
