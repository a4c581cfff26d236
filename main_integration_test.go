package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/eventide/eventide/internal/testenv"
)

// The integration tests share one real kube-apiserver + etcd; each test
// works in its own namespace and runs its own eventide watching only it.
var (
	controlPlane *testenv.ControlPlane
	cluster      *testenv.Cluster
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "eventide-cp-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		controlPlane, err = testenv.StartControlPlane(ctx, dir)
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, "control plane:", err)
			return 1
		}
		defer controlPlane.Stop()
		cs, err := kubernetes.NewForConfig(controlPlane.Admin)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		cluster = &testenv.Cluster{CS: cs}
		return m.Run()
	}())
}

// syncBuffer is a bytes.Buffer safe for the exporter's writer and the test's reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type runningExporter struct {
	metricsURL string
	stdout     *syncBuffer
	stderr     *syncBuffer
	stop       func() int
}

// startEventide runs eventide in-process as the exporter user (chart RBAC
// only) with config, and returns once its caches synced.
func startEventide(t *testing.T, config string) *runningExporter {
	t.Helper()
	// Each test resumes from its own checkpoints and dead-letters into its
	// own folder.
	if !strings.Contains(config, "\ncheckpoint:") {
		config = fmt.Sprintf("checkpoint: {name: %s}\n", checkpointName(t)) + config
	}
	if !strings.Contains(config, "spool:") {
		config = fmt.Sprintf("spool: {dir: %s}\n", filepath.Join(t.TempDir(), "spool")) + config
	}
	if !strings.Contains(config, "\ndeadLetter:") {
		config = fmt.Sprintf("deadLetter: {path: %s}\n", filepath.Join(t.TempDir(), "dead-letter.jsonl")) + config
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	r := &runningExporter{metricsURL: fmt.Sprintf("http://127.0.0.1:%d", port), stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	f := &flags{conf: path, kubeconfig: controlPlane.ExporterKubeconfig, metricsAddress: r.metricsURL[len("http://"):], drainTimeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan int, 1)
	go func() { done <- runExporter(ctx, f, r.stdout, r.stderr, func() { close(ready) }) }()
	select {
	case <-ready:
	case code := <-done:
		cancel()
		t.Fatalf("eventide exited with %d before it was ready:\n%s", code, r.stderr)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatalf("eventide not ready after 60s:\n%s", r.stderr)
	}
	var once sync.Once
	code := 0
	r.stop = func() int {
		once.Do(func() { cancel(); code = <-done })
		return code
	}
	t.Cleanup(func() {
		r.stop()
		if t.Failed() {
			t.Logf("eventide log:\n%s", r.stderr)
		}
	})
	return r
}

// checkpointName is a ConfigMap name of the test's own.
func checkpointName(t *testing.T) string {
	return "cp-" + strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
}

func (r *runningExporter) metrics(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(r.metricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func createEvent(t *testing.T, ev *corev1.Event) *corev1.Event {
	t.Helper()
	out, err := cluster.CS.CoreV1().Events(ev.Namespace).Create(context.Background(), ev, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create event %s: %v", ev.Name, err)
	}
	return out
}

// delivered is the part of a payload the tests look at.
type delivered struct {
	Name      string         `json:"name"`
	Reason    string         `json:"reason"`
	Count     int            `json:"count"`
	Owner     string         `json:"owner"`
	Workload  string         `json:"workload"`
	Deleted   bool           `json:"deleted"`
	Labels    map[string]any `json:"labels"`
	Pager     string         `json:"pager"`
	Cluster   string         `json:"cluster"`
	Timestamp int64          `json:"ts"`
}

func decode(t *testing.T, reqs []testenv.Request) []delivered {
	t.Helper()
	out := make([]delivered, len(reqs))
	for i, r := range reqs {
		if err := json.Unmarshal(r.Body, &out[i]); err != nil {
			t.Fatalf("payload %q: %v", r.Body, err)
		}
	}
	return out
}

func countName(reqs []delivered, name string) int {
	n := 0
	for _, r := range reqs {
		if r.Name == name {
			n++
		}
	}
	return n
}

const layoutConfig = `
clusterName: test-cluster
namespace: %[1]s
logLevel: debug
route:
  routes:
    - match:
        - receiver: all
    - drop:
        - reason: "^Pulled$"
      match:
        - type: "^Warning$"
          receiver: warnings
receivers:
  - name: all
    webhook:
      endpoint: %[2]s
      headers:
        X-Owner: "{{ .InvolvedObject.Labels.owner }}"
        Authorization: "Bearer ${EVENTIDE_TEST_TOKEN}"
      layout:
        name: "{{ .Name }}"
        reason: "{{ .Reason }}"
        count: !int "{{ .GetCount }}"
        owner: "{{ .InvolvedObject.Labels.owner }}"
        workload: "{{ with .InvolvedObject.Workload }}{{ .Kind }}/{{ .Name }}{{ end }}"
        deleted: !bool "{{ .InvolvedObject.Deleted }}"
        labels: !json "{{ toJson .InvolvedObject.Labels }}"
        pager: '{{ index .InvolvedObject.Annotations "team.example/pager" }}'
        cluster: "{{ .ClusterName }}"
        ts: !int "{{ .GetTimestampMs }}"
  - name: warnings
    webhook:
      endpoint: %[3]s
  - name: stuck
    webhook:
      endpoint: %[4]s
    delivery:
      timeout: 30s
`

// TestPipelineEndToEnd drives the whole spine on a real API server: events
// and repeats created through the API come out of the webhook enriched,
// routed and templated, and a stuck receiver holds up nobody.
func TestPipelineEndToEnd(t *testing.T) {
	ctx := context.Background()
	ns := "e2e-pipeline"
	if err := cluster.CreateNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	w, err := cluster.CreateWorkload(ctx, ns, "checkout", 2, map[string]string{"owner": "payments"})
	if err != nil {
		t.Fatal(err)
	}
	all, warnings, stuck := testenv.NewRecorder(), testenv.NewRecorder(), testenv.NewRecorder()
	defer all.Close()
	defer warnings.Close()
	defer stuck.Close()
	defer stuck.Unblock()
	stuck.Block()
	t.Setenv("EVENTIDE_TEST_TOKEN", "s3cret")
	cfg := fmt.Sprintf(layoutConfig, ns, all.URL, warnings.URL, stuck.URL)
	// The stuck receiver gets everything too.
	cfg = strings.Replace(cfg, "        - receiver: all\n", "        - receiver: all\n        - receiver: stuck\n", 1)
	ex := startEventide(t, cfg)

	pod := w.Pods[0]
	backoff := createEvent(t, testenv.PodEvent(pod, "checkout-backoff", "Warning", "BackOff", "Back-off restarting failed container"))
	createEvent(t, testenv.PodEvent(pod, "checkout-pulled", "Warning", "Pulled", "Successfully pulled image"))
	createEvent(t, testenv.PodEvent(w.Pods[1], "checkout-started", "Normal", "Started", "Started container app"))
	gone := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "ghost-pod", Namespace: ns, UID: "0000-ghost"}}
	createEvent(t, testenv.PodEvent(gone, "ghost-oom", "Warning", "OOMKilling", "Memory cgroup out of memory"))

	reqs, err := all.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return len(r) >= 4 })
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]delivered{}
	for _, d := range decode(t, reqs) {
		got[d.Name] = d
	}
	b := got["checkout-backoff"]
	if b.Reason != "BackOff" || b.Count != 1 || b.Owner != "payments" || b.Workload != "Deployment/checkout" ||
		b.Deleted || b.Pager != "on" || b.Cluster != "test-cluster" || b.Labels["app"] != "checkout" || b.Timestamp == 0 {
		t.Errorf("enriched payload wrong: %+v", b)
	}
	if g := got["ghost-oom"]; !g.Deleted || g.Owner != "" {
		t.Errorf("event about a missing pod: want deleted and no labels, got %+v", g)
	}
	for _, r := range reqs {
		if r.Header.Get("X-Owner") == "" && strings.Contains(string(r.Body), "checkout") {
			t.Errorf("templated header missing: %v", r.Header)
		}
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			t.Errorf("${VAR} not substituted in header: %q", r.Header.Get("Authorization"))
		}
	}

	// A repeat of the same event is a new occurrence; a change that is not
	// (a label on the Event object) is not delivered.
	if _, err := cluster.Repeat(ctx, backoff); err != nil {
		t.Fatal(err)
	}
	cur, err := cluster.CS.CoreV1().Events(ns).Get(ctx, "checkout-started", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Labels = map[string]string{"touched": "yes"}
	if _, err := cluster.CS.CoreV1().Events(ns).Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A marker event created after both: once it arrives, the earlier
	// changes have been processed (one watch, in order).
	createEvent(t, testenv.PodEvent(pod, "marker", "Normal", "Marker", "marker"))
	reqs, err = all.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return countName(decode(t, r), "marker") == 1 })
	if err != nil {
		t.Fatal(err)
	}
	ds := decode(t, reqs)
	if n := countName(ds, "checkout-backoff"); n != 2 {
		t.Errorf("BackOff delivered %d times, want 2 (first occurrence and the repeat)", n)
	}
	if n := countName(ds, "checkout-started"); n != 1 {
		t.Errorf("Started delivered %d times, want 1 (a metadata-only update is not an occurrence)", n)
	}
	repeated := false
	for _, d := range ds {
		repeated = repeated || (d.Name == "checkout-backoff" && d.Count == 2)
	}
	if !repeated {
		t.Errorf("repeat not delivered with count 2: %+v", ds)
	}

	// Warnings receiver: Warning events except Pulled (dropped by its route).
	wreqs, err := warnings.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return len(r) >= 3 })
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]int{}
	for _, r := range wreqs {
		var ev corev1.Event
		if err := json.Unmarshal(r.Body, &ev); err != nil {
			t.Fatal(err)
		}
		reasons[ev.Reason]++
	}
	if reasons["BackOff"] != 2 || reasons["OOMKilling"] != 1 || reasons["Pulled"] != 0 || reasons["Started"] != 0 {
		t.Errorf("warnings receiver got %v; want BackOff×2, OOMKilling×1", reasons)
	}

	// The stuck receiver received nothing, and held up nobody.
	if n := len(stuck.Requests()); n != 0 {
		t.Errorf("stuck receiver recorded %d requests", n)
	}
	m := ex.metrics(t)
	for _, want := range []string{
		`eventide_receiver_sent_total{receiver="all"} 6`,
		`eventide_route_matched_total{route="route.routes[0]"} 6`,
		`eventide_events_discarded_total{reason="no_change"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(ex.stderr.String(), "s3cret") {
		t.Error("a secret from the config reached the log")
	}
}

// TestEnrichmentRequestsStayFlat: after start-up, events about objects of
// kinds already cached cost no API request, however many there are.
func TestEnrichmentRequestsStayFlat(t *testing.T) {
	ns := "e2e-flat"
	w := setupNamespace(t, ns)
	rec := testenv.NewRecorder()
	defer rec.Close()
	startEventide(t, hookConfig(ns, rec.URL, ""))

	// Warm-up: one event starts the Pod, ReplicaSet and Deployment caches.
	createEvent(t, testenv.PodEvent(w.Pods[0], "warmup", "Normal", "Scheduled", "assigned"))
	if _, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return len(r) == 1 }); err != nil {
		t.Fatal(err)
	}
	before, err := controlPlane.ExporterRequests()
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := 0; i < n; i++ {
		createEvent(t, testenv.PodEvent(w.Pods[i%len(w.Pods)], fmt.Sprintf("ev-%d", i), "Warning", "Unhealthy", "Readiness probe failed"))
	}
	reqs, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return len(r) == n+1 })
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range decode(t, reqs) {
		if d.Owner != "team-"+ns || d.Workload != "Deployment/app" {
			t.Fatalf("not enriched: %+v", d)
		}
	}
	after, err := controlPlane.ExporterRequests()
	if err != nil {
		t.Fatal(err)
	}
	// Checkpoint writes are bounded by time (one per checkpoint.interval at
	// most), not by events; every other request would be per event.
	var perEvent, checkpoint []testenv.AuditRequest
	for _, r := range after[len(before):] {
		if strings.Contains(r.RequestURI, "/namespaces/"+testenv.ExporterNamespace+"/configmaps") {
			checkpoint = append(checkpoint, r)
		} else {
			perEvent = append(perEvent, r)
		}
	}
	if len(perEvent) != 0 {
		t.Errorf("%d events cost %d API requests, want 0: %+v", n, len(perEvent), perEvent)
	}
	if span := after[len(after)-1].Received.Sub(before[len(before)-1].Received); len(checkpoint) > int(span.Seconds())+2 {
		t.Errorf("%d checkpoint writes in %v: more than one a second", len(checkpoint), span)
	}
}

// TestEnrichmentDeniedKindReportedOnce: a kind the chart's RBAC does not
// cover is logged once, and its events still go out, unenriched.
func TestEnrichmentDeniedKindReportedOnce(t *testing.T) {
	ns := "e2e-denied"
	setupNamespace(t, ns)
	rec := testenv.NewRecorder()
	defer rec.Close()
	ex := startEventide(t, testenv.HookConfig(ns, rec.URL, "", ""))
	// ConfigMaps are deliberately not readable by eventide.
	for i := 0; i < 5; i++ {
		ev := testenv.PodEvent(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: ns}}, fmt.Sprintf("cm-%d", i), "Normal", "Updated", "x")
		ev.InvolvedObject.Kind = "ConfigMap"
		ev.InvolvedObject.FieldPath = ""
		createEvent(t, ev)
	}
	if _, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return len(r) == 5 }); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(ex.stderr.String(), "RBAC forbids reading this kind"); n != 1 {
		t.Errorf("RBAC denial logged %d times, want once:\n%s", n, ex.stderr)
	}
}
