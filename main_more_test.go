package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eventide/eventide/internal/testenv"
)

const testLayout = `        name: "{{ .Name }}"
        count: !int "{{ .GetCount }}"
        owner: "{{ .InvolvedObject.Labels.owner }}"
        workload: "{{ with .InvolvedObject.Workload }}{{ .Kind }}/{{ .Name }}{{ end }}"
`

func hookConfig(ns, url string, extra string) string {
	return testenv.HookConfig(ns, url, testLayout, extra)
}

// waitMetric polls eventide's metrics until they contain want.
func (r *runningExporter) waitMetric(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(r.metrics(t), want) {
		if time.Now().After(deadline) {
			t.Fatalf("metrics never showed %s:\n%s", want, r.metrics(t))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func setupNamespace(t *testing.T, ns string) *testenv.Workload {
	t.Helper()
	ctx := context.Background()
	if err := cluster.CreateNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	w, err := cluster.CreateWorkload(ctx, ns, "app", 3, map[string]string{"owner": "team-" + ns})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// A receiver answering 503 for a while loses nothing: the runtime retries
// until it recovers, and the events arrive in order, once each.
func TestReceiverOutageRetried(t *testing.T) {
	ns := "e2e-outage"
	w := setupNamespace(t, ns)
	rec := testenv.NewRecorder()
	defer rec.Close()
	ex := startEventide(t, hookConfig(ns, rec.URL, `    delivery:
      initialBackoff: 50ms
      maxBackoff: 200ms
      maxRetries: 1000
`))
	rec.SetStatus(http.StatusServiceUnavailable)
	for i := 0; i < 20; i++ {
		createEvent(t, testenv.PodEvent(w.Pods[i%3], fmt.Sprintf("out-%02d", i), "Warning", "BackOff", "x"))
	}
	// Wait until the runtime has retried, then recover.
	ex.waitMetric(t, `eventide_receiver_retries_total{reason="http_5xx",receiver="hook"}`)
	rec.SetStatus(http.StatusOK)
	reqs, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return len(r) >= 20 })
	if err != nil {
		t.Fatal(err)
	}
	ds := decode(t, reqs)
	for i, d := range ds {
		if want := fmt.Sprintf("out-%02d", i); d.Name != want {
			t.Fatalf("delivery %d is %s, want %s (order or duplicates)", i, d.Name, want)
		}
	}
	if len(ds) != 20 {
		t.Errorf("%d deliveries, want 20", len(ds))
	}
}

// SIGTERM (context cancel) lets receivers deliver what they queued.
func TestShutdownDrainsQueues(t *testing.T) {
	ns := "e2e-drain"
	w := setupNamespace(t, ns)
	rec := testenv.NewRecorder()
	defer rec.Close()
	ex := startEventide(t, hookConfig(ns, rec.URL, ""))
	rec.Block()
	for i := 0; i < 10; i++ {
		createEvent(t, testenv.PodEvent(w.Pods[0], fmt.Sprintf("drain-%d", i), "Warning", "BackOff", "x"))
	}
	// Wait until all ten are in eventide (one in flight, nine queued).
	ex.waitMetric(t, `eventide_receiver_queue_length{receiver="hook"} 9`)
	go func() {
		// Release the receiver once shutdown has begun.
		for !strings.Contains(ex.stderr.String(), "shutting down") {
			time.Sleep(10 * time.Millisecond)
		}
		rec.Unblock()
	}()
	if code := ex.stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if n := len(rec.Requests()); n != 10 {
		t.Errorf("%d of 10 queued events delivered during the drain", n)
	}
}

// events.k8s.io/v1 producers write series instead of count; a series that
// moves is a new occurrence.
func TestEventsV1SeriesShape(t *testing.T) {
	ctx := context.Background()
	ns := "e2e-series"
	w := setupNamespace(t, ns)
	rec := testenv.NewRecorder()
	defer rec.Close()
	startEventide(t, hookConfig(ns, rec.URL, ""))
	pod := w.Pods[1]
	now := metav1.NewMicroTime(time.Now())
	ev, err := cluster.CS.EventsV1().Events(ns).Create(ctx, &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: "series-ev", Namespace: ns},
		EventTime:  now, ReportingController: "example.com/ctl", ReportingInstance: "ctl-1",
		Action: "Probe", Reason: "Unhealthy", Type: "Warning", Note: "probe failed",
		Regarding: corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Name: pod.Name, Namespace: ns, UID: pod.UID},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return len(r) == 1 }); err != nil {
		t.Fatal(err)
	}
	ev.Series = &eventsv1.EventSeries{Count: 2, LastObservedTime: metav1.NewMicroTime(time.Now())}
	if _, err := cluster.CS.EventsV1().Events(ns).Update(ctx, ev, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	reqs, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return len(r) == 2 })
	if err != nil {
		t.Fatal(err)
	}
	ds := decode(t, reqs)
	if ds[0].Count != 1 || ds[1].Count != 2 || ds[1].Owner != "team-"+ns {
		t.Errorf("series deliveries %+v", ds)
	}
}

// The API server restarting under eventide: the watch relists, nothing
// already delivered is delivered again, and later events still arrive.
func TestAPIServerRestart(t *testing.T) {
	ns := "e2e-restart"
	w := setupNamespace(t, ns)
	rec := testenv.NewRecorder()
	defer rec.Close()
	ex := startEventide(t, hookConfig(ns, rec.URL, ""))
	for i := 0; i < 5; i++ {
		createEvent(t, testenv.PodEvent(w.Pods[0], fmt.Sprintf("before-%d", i), "Warning", "BackOff", "x"))
	}
	if _, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return len(r) == 5 }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := controlPlane.RestartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		createEvent(t, testenv.PodEvent(w.Pods[1], fmt.Sprintf("after-%d", i), "Warning", "BackOff", "x"))
	}
	reqs, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return len(r) >= 10 })
	if err != nil {
		t.Fatal(err)
	}
	// Allow a moment's grace for a late duplicate to show up: a second
	// marker event created now must be the 11th delivery.
	createEvent(t, testenv.PodEvent(w.Pods[2], "marker", "Normal", "Marker", "x"))
	reqs, err = rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return countName(decode(t, r), "marker") == 1 })
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, d := range decode(t, reqs) {
		seen[d.Name]++
	}
	for name, n := range seen {
		if n != 1 {
			t.Errorf("%s delivered %d times", name, n)
		}
	}
	if len(seen) != 11 {
		t.Errorf("delivered %d distinct events, want 11: %v", len(seen), seen)
	}
	if !strings.Contains(ex.metrics(t), "eventide_watch_errors_total") {
		t.Log("no watch error counted (the watch may have ended cleanly)")
	}
}

func TestOmitLookup(t *testing.T) {
	ns := "e2e-omit"
	w := setupNamespace(t, ns)
	rec := testenv.NewRecorder()
	defer rec.Close()
	startEventide(t, "omitLookup: true\n"+hookConfig(ns, rec.URL, ""))
	before, err := controlPlane.ExporterRequests()
	if err != nil {
		t.Fatal(err)
	}
	createEvent(t, testenv.PodEvent(w.Pods[0], "plain", "Warning", "BackOff", "x"))
	reqs, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return len(r) == 1 })
	if err != nil {
		t.Fatal(err)
	}
	if d := decode(t, reqs)[0]; d.Owner != "" {
		t.Errorf("enriched although omitLookup: %+v", d)
	}
	after, err := controlPlane.ExporterRequests()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range after[len(before):] {
		if !strings.Contains(r.RequestURI, "/events") {
			t.Errorf("omitLookup still read %s", r.RequestURI)
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	ns := "e2e-health"
	setupNamespace(t, ns)
	ex := startEventide(t, hookConfig(ns, "http://127.0.0.1:9/", ""))
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(ex.metricsURL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
	m := ex.metrics(t)
	// client-go streams the initial list over the watch (sendInitialEvents):
	// one WATCH request, no LIST.
	for _, want := range []string{"eventide_kube_api_requests_total{code=\"200\",verb=\"WATCH\"}", "eventide_config_receivers 1", "go_goroutines", "process_resident_memory_bytes"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestValidateCommand(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("route:\n  routes:\n    - match:\n        - Kind: Pod\n          receiver: nowhere\nreceivers:\n  - name: dump\n    stdout: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"validate", "-conf", bad}, &out, &errOut); code != 1 {
		t.Errorf("exit %d for an invalid file", code)
	}
	for _, want := range []string{"route.routes[0].match[0].Kind (line 4): unknown key", `route.routes[0].match[0].receiver: undefined receiver "nowhere"`} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("validate output lacks %q:\n%s", want, errOut.String())
		}
	}
	out.Reset()
	errOut.Reset()
	if code := run([]string{"validate", "--config", filepath.Join(testenv.RepoRoot(), "config.example.yaml")}, &out, &errOut); code != 0 {
		t.Errorf("example config: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "valid (4 receivers") {
		t.Errorf("output %q", out.String())
	}
	if code := run([]string{"validate", "-conf", filepath.Join(dir, "missing.yaml")}, &out, &errOut); code != 1 {
		t.Errorf("missing file: exit %d", code)
	}
}

// Events that already exist when eventide starts are delivered only if they
// last happened within maxEventAgeSeconds; the older ones are counted.
func TestMaxEventAgeAppliesToPreStartEvents(t *testing.T) {
	ns := "e2e-age"
	w := setupNamespace(t, ns)
	old := testenv.PodEvent(w.Pods[0], "old-event", "Warning", "BackOff", "x")
	old.FirstTimestamp = metav1.NewTime(time.Now().Add(-10 * time.Minute))
	old.LastTimestamp = old.FirstTimestamp
	createEvent(t, old)
	createEvent(t, testenv.PodEvent(w.Pods[0], "recent-event", "Warning", "BackOff", "x"))
	rec := testenv.NewRecorder()
	defer rec.Close()
	ex := startEventide(t, "maxEventAgeSeconds: 60\n"+hookConfig(ns, rec.URL, ""))
	// A marker created after start: once it arrives, the initial list was
	// processed.
	createEvent(t, testenv.PodEvent(w.Pods[1], "marker", "Normal", "Marker", "x"))
	reqs, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return countName(decode(t, r), "marker") == 1 })
	if err != nil {
		t.Fatal(err)
	}
	ds := decode(t, reqs)
	if countName(ds, "old-event") != 0 || countName(ds, "recent-event") != 1 || len(ds) != 2 {
		t.Errorf("deliveries %+v: want recent-event and marker only", ds)
	}
	ex.waitMetric(t, `eventide_events_discarded_total{reason="before_start"} 1`)

	// A new occurrence of the old event while eventide runs is delivered.
	if _, err := cluster.Repeat(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	if _, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return countName(decode(t, r), "old-event") == 1 }); err != nil {
		t.Fatal(err)
	}
}
