package bigquery

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/sinktest"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

const table = "test-project.k8s.events"

// startBigQuery runs the REST fake; config is the receiver's settings with
// the fake's endpoint.
func startBigQuery(t *testing.T) (*testenv.BigQueryServer, string) {
	t.Helper()
	srv := testenv.NewBigQueryServer()
	t.Cleanup(srv.Close)
	return srv, fmt.Sprintf("project: test-project\n  dataset: k8s\n  table: events\n  endpoint: %s\n  anonymous: true", srv.URL)
}

func podEvent(name string, count int32) *event.EnhancedEvent {
	ev := &event.EnhancedEvent{ClusterName: "prod"}
	ev.Name, ev.Namespace, ev.Reason, ev.Type, ev.Message, ev.Count = name, "shop", "BackOff", "Warning", "Back-off restarting", count
	ev.UID = types.UID("uid-" + name)
	ev.LastTimestamp = metav1.NewTime(time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC))
	ev.Source.Component = "kubelet"
	ev.InvolvedObject.Kind, ev.InvolvedObject.Namespace, ev.InvolvedObject.Name, ev.InvolvedObject.UID = "Pod", "shop", "api-1", types.UID("pod-uid")
	ev.InvolvedObject.Labels = map[string]string{"owner": "team-a"}
	ev.InvolvedObject.Workload = &event.WorkloadReference{Kind: "Deployment", Name: "api"}
	return ev
}

// The first send creates the dataset and the table with the documented
// schema; every event is one row in it, with its columns filled in.
func TestFirstSendCreatesTableWithSchema(t *testing.T) {
	srv, conf := startBigQuery(t)
	s := sinktest.MustBuild(t, &Config{}, "bigquery:\n  "+conf)
	var evs []*event.EnhancedEvent
	for i := 0; i < 5; i++ {
		evs = append(evs, podEvent(fmt.Sprintf("e-%d", i), 1))
	}
	sinktest.MustSendBatch(t, s, evs...)
	cols := srv.Columns(table)
	if len(cols) != len(Schema) || cols["time"] != "TIMESTAMP" || cols["count"] != "INTEGER" || cols["event"] != "JSON" {
		t.Errorf("table columns %v, want the %d of Schema", cols, len(Schema))
	}
	rows := srv.Rows(table)
	if len(rows) != 5 {
		t.Fatalf("%d rows, want 5", len(rows))
	}
	r := rows[2]
	want := map[string]any{"name": "e-2", "namespace": "shop", "reason": "BackOff", "cluster": "prod", "source": "kubelet",
		"object_kind": "Pod", "object_name": "api-1", "workload_kind": "Deployment", "workload_name": "api",
		"time": "2026-11-29T10:00:00Z", "labels": `{"owner":"team-a"}`, "object_deleted": false}
	for k, v := range want {
		if r[k] != v {
			t.Errorf("row[%s] = %#v, want %#v", k, r[k], v)
		}
	}
	if fmt.Sprint(r["count"]) != "1" {
		t.Errorf("count %v", r["count"])
	}
	var whole map[string]any
	if err := json.Unmarshal([]byte(r["event"].(string)), &whole); err != nil || whole["reason"] != "BackOff" {
		t.Errorf("event column %v: %v", r["event"], err)
	}
}

// The same occurrence sent twice is one row (insert ID from UID and
// count); the next occurrence is a row of its own.
func TestInsertIDDropsRepeats(t *testing.T) {
	srv, conf := startBigQuery(t)
	s := sinktest.MustBuild(t, &Config{}, "bigquery:\n  "+conf)
	sinktest.MustSendBatch(t, s, podEvent("a", 1))
	sinktest.MustSendBatch(t, s, podEvent("a", 1), podEvent("a", 2))
	if n := len(srv.Rows(table)); n != 2 {
		t.Errorf("%d rows, want 2", n)
	}
}

// With a layout the rendered object is the row of the user's table; a
// row the table refuses fails alone, for good, and the others go in.
func TestLayoutRowsAndOneBadRow(t *testing.T) {
	srv, conf := startBigQuery(t)
	srv.CreateTable("test-project.k8s.mine", map[string]string{"reason": "STRING", "n": "INTEGER"})
	s := sinktest.MustBuild(t, &Config{}, "bigquery:\n  "+strings.Replace(conf, "table: events", "table: mine", 1)+`
  layout: {reason: "{{ .Reason }}", n: !json '{{ if eq .Name "bad" }}"x"{{ else }}{{ .Count }}{{ end }}'}
`)
	errs := sinktest.SendBatch(s, podEvent("a", 3), podEvent("bad", 1), podEvent("c", 4))
	if errs[0] != nil || errs[2] != nil {
		t.Fatalf("good rows failed: %v", errs)
	}
	if class, retry, _ := sinks.Classify(errs[1]); class != "rejected" || retry {
		t.Errorf("bad row: %v, %s retryable=%v; want a permanent rejection", errs[1], class, retry)
	}
	rows := srv.Rows("test-project.k8s.mine")
	if len(rows) != 2 || fmt.Sprintf("%v %v", rows[0]["n"], rows[1]["n"]) != "3 4" {
		t.Errorf("rows %v, want n=3 and n=4", rows)
	}
	if srv.Columns(table) != nil {
		t.Error("with a layout, eventide created its own table")
	}
}

// Failures are classified: a missing table without createTable is for
// good; a 503 and a rate limit are retried.
func TestErrorClasses(t *testing.T) {
	srv, conf := startBigQuery(t)
	s := sinktest.MustBuild(t, &Config{}, "bigquery:\n  "+conf+"\n  createTable: false")
	err := sinktest.SendBatch(s, podEvent("a", 1))[0]
	if class, retry, _ := sinks.Classify(err); class != "rejected" || retry || !strings.Contains(err.Error(), "Not found") {
		t.Errorf("missing table: %v, %s retryable=%v; want a permanent rejection", err, class, retry)
	}
	srv.CreateTable(table, map[string]string{"time": "TIMESTAMP"})
	for _, c := range []struct {
		status       int
		reason, want string
	}{{http.StatusServiceUnavailable, "backendError", "http_5xx"}, {http.StatusForbidden, "quotaExceeded", "rate_limited"}, {http.StatusForbidden, "accessDenied", "http_4xx"}} {
		srv.Fail = func() (int, string) { return c.status, c.reason }
		err := sinktest.SendBatch(s, podEvent("a", 1))[0]
		class, retry, _ := sinks.Classify(err)
		if string(class) != c.want || retry == (c.want == "http_4xx") {
			t.Errorf("%d %s: %v, %s retryable=%v; want %s", c.status, c.reason, err, class, retry, c.want)
		}
	}
}

// A 503 fails the batch retryably; sent again, the rows go in once.
func TestTransient503(t *testing.T) {
	srv, conf := startBigQuery(t)
	var left atomic.Int32
	left.Store(1)
	srv.Fail = func() (int, string) {
		if left.Add(-1) >= 0 {
			return http.StatusServiceUnavailable, "backendError"
		}
		return 0, ""
	}
	s := sinktest.MustBuild(t, &Config{}, "bigquery:\n  "+conf)
	evs := []*event.EnhancedEvent{podEvent("a", 1), podEvent("b", 1)}
	for _, err := range sinktest.SendBatch(s, evs...) {
		if class, retry, _ := sinks.Classify(err); class != "http_5xx" || !retry {
			t.Fatalf("503: %v, %s retryable=%v", err, class, retry)
		}
	}
	sinktest.MustSendBatch(t, s, evs...)
	if n := len(srv.Rows(table)); n != 2 {
		t.Errorf("%d rows, want 2", n)
	}
}

// The old keys load; batch_size and interval_seconds become the batching
// settings. Building needs no credentials and no network.
func TestBuild(t *testing.T) {
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent")
	s, err := sinktest.Build(t, &Config{}, `bigquery: {location: EU, project: p, dataset: d, table: t, credentials_path: /k.json, batch_size: 50, max_retries: 3, interval_seconds: 7, timeout_seconds: 9}`)
	if err != nil {
		t.Fatal(err)
	}
	if l := s.(sinks.Lingerer); l.MaxBatch() != 50 || l.Linger() != 7*time.Second {
		t.Errorf("batch %d linger %v, want 50 and 7s", l.MaxBatch(), l.Linger())
	}
	_, err = sinktest.Build(t, &Config{}, `bigquery: {project: "p/../x", dataset: "a.b", endpoint: "http://example.com/", batch_size: 5, batchSize: 6, layout: {a: b}, createTable: true}`)
	for _, want := range []string{"project: \"p/../x\" is not", "dataset: \"a.b\" is not", "table: required", "plain http", "batch_size and batchSize", "createTable"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

// A layout that does not render an object is a template failure, not a
// retry.
func TestLayoutNotAnObject(t *testing.T) {
	_, conf := startBigQuery(t)
	s := sinktest.MustBuild(t, &Config{}, "bigquery:\n  "+conf+"\n  layout: [\"{{ .Reason }}\"]")
	err := sinktest.SendBatch(s, podEvent("a", 1))[0]
	if class, retry, _ := sinks.Classify(err); class != "template" || retry {
		t.Errorf("%v: %s retryable=%v", err, class, retry)
	}
}

// BenchmarkSendBatch: batches of 500 events to the REST fake (in-process:
// its CPU is in the figure too).
func BenchmarkSendBatch(b *testing.B) {
	srv := testenv.NewBigQueryServer()
	defer srv.Close()
	s := sinktest.MustBuild(b, &Config{}, fmt.Sprintf("bigquery: {project: p, dataset: d, table: t, endpoint: %q, anonymous: true}", srv.URL))
	evs := make([]*event.EnhancedEvent, 500)
	sinktest.BenchSendBatch(b, s, func(i int) []*event.EnhancedEvent {
		for j := range evs { // new UIDs each time: the server drops a repeated insert ID
			evs[j] = podEvent(fmt.Sprintf("e%d-%d", i, j), 1)
		}
		return evs
	})
}

// A row error for a row that was not sent cannot be matched: no row
// counts as stored, each is retried. A redirect is its own class.
func TestInsertErrorsThatDoNotAddUp(t *testing.T) {
	srv, conf := startBigQuery(t)
	s := sinktest.MustBuild(t, &Config{}, "bigquery:\n  "+conf)
	srv.Answer = `{"kind":"bigquery#tableDataInsertAllResponse","insertErrors":[{"index":5,"errors":[{"reason":"invalid","message":"no such field"}]}]}`
	for i, err := range sinktest.SendBatch(s, podEvent("a", 1), podEvent("b", 1)) {
		if class, retry, _ := sinks.Classify(err); class != "other" || !retry {
			t.Errorf("row %d: %v (%s, retryable=%v), want a retryable failure", i, err, class, retry)
		}
	}
	srv.Answer = ""
	srv.Fail = func() (int, string) { return http.StatusTemporaryRedirect, "redirect" }
	if class, retry, _ := sinks.Classify(sinktest.SendBatch(s, podEvent("a", 1))[0]); class != "redirect" || retry {
		t.Errorf("307: %s, retryable=%v; want a permanent redirect", class, retry)
	}
}
