package e2e

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/kubeenv"
)

// Events from the cluster reach BigQuery (the official client against the
// REST fake): the table is created with the documented schema, and every
// occurrence is one row, with the owner label and the workload, in the
// order each pod's events were made.
func TestBigQueryReceiver(t *testing.T) {
	ns := "e2e-bigquery"
	w := setupNamespace(t, ns)
	srv := testenv.NewBigQueryServer()
	defer srv.Close()
	startEventide(t, fmt.Sprintf(`namespace: %s
route:
  match:
    - receiver: bq
receivers:
  - name: bq
    bigquery:
      project: e2e
      dataset: kube_events
      table: events
      endpoint: %s
      anonymous: true
      flushInterval: 100ms
`, ns, srv.URL))
	const n = 8
	last := createEvent(t, kubeenv.PodEvent(w.Pods[0], "bq-0", "Warning", "BackOff", "Back-off"))
	for i := 1; i < n; i++ {
		createEvent(t, kubeenv.PodEvent(w.Pods[i%len(w.Pods)], fmt.Sprintf("bq-%d", i), "Warning", "BackOff", "Back-off"))
	}
	if _, err := cluster.Repeat(waitCtx(t), last); err != nil {
		t.Fatal(err)
	}
	const table = "e2e.kube_events.events"
	if err := testenv.PollUntil(waitCtx(t), 20*time.Millisecond, func() bool { return len(srv.Rows(table)) >= n+1 }); err != nil {
		t.Fatalf("%d rows of %d", len(srv.Rows(table)), n+1)
	}
	rows := srv.Rows(table)
	if len(rows) != n+1 {
		t.Errorf("%d rows, want %d (one per occurrence)", len(rows), n+1)
	}
	seen := map[string]string{}
	for _, r := range rows {
		var labels map[string]string
		if s, _ := r["labels"].(string); json.Unmarshal([]byte(s), &labels) != nil || labels["owner"] != "team-"+ns {
			t.Errorf("row %v: no owner label", r["name"])
		}
		if r["workload_kind"] != "Deployment" || r["object_kind"] != "Pod" {
			t.Errorf("row %v: workload %v, object %v", r["name"], r["workload_kind"], r["object_kind"])
		}
		pod, name := r["object_name"].(string), r["name"].(string)
		if fmt.Sprint(r["count"]) != "1" {
			continue // the repeat of bq-0 comes after the pod's later events
		}
		if prev := seen[pod]; prev > name {
			t.Errorf("pod %s: %s after %s", pod, name, prev)
		}
		seen[pod] = name
	}
	if srv.Columns(table)["time"] != "TIMESTAMP" {
		t.Errorf("table columns %v", srv.Columns(table))
	}
}
