package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/kubeenv"
)

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
	backoff := createEvent(t, kubeenv.PodEvent(pod, "checkout-backoff", "Warning", "BackOff", "Back-off restarting failed container"))
	createEvent(t, kubeenv.PodEvent(pod, "checkout-pulled", "Warning", "Pulled", "Successfully pulled image"))
	createEvent(t, kubeenv.PodEvent(w.Pods[1], "checkout-started", "Normal", "Started", "Started container app"))
	gone := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "ghost-pod", Namespace: ns, UID: "0000-ghost"}}
	createEvent(t, kubeenv.PodEvent(gone, "ghost-oom", "Warning", "OOMKilling", "Memory cgroup out of memory"))

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
	createEvent(t, kubeenv.PodEvent(pod, "marker", "Normal", "Marker", "marker"))
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
	createEvent(t, kubeenv.PodEvent(w.Pods[0], "warmup", "Normal", "Scheduled", "assigned"))
	if _, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return len(r) == 1 }); err != nil {
		t.Fatal(err)
	}
	before, err := controlPlane.ExporterRequests()
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := 0; i < n; i++ {
		createEvent(t, kubeenv.PodEvent(w.Pods[i%len(w.Pods)], fmt.Sprintf("ev-%d", i), "Warning", "Unhealthy", "Readiness probe failed"))
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
	var perEvent, checkpoint []kubeenv.AuditRequest
	for _, r := range after[len(before):] {
		if strings.Contains(r.RequestURI, "/namespaces/"+kubeenv.ExporterNamespace+"/configmaps") {
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

// TestEnrichmentDeletedObjects: events that arrive after their pod and its
// ReplicaSet were deleted still carry the pod's labels, owner and workload,
// marked deleted; events about a pod that never existed go out marked
// deleted. Neither costs an API request.
func TestEnrichmentDeletedObjects(t *testing.T) {
	ctx := context.Background()
	ns := "e2e-deleted"
	w := setupNamespace(t, ns)
	rec := testenv.NewRecorder()
	defer rec.Close()
	startEventide(t, hookConfig(ns, rec.URL, ""))
	before, err := controlPlane.ExporterRequests()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range w.Pods[:2] {
		if err := cluster.CS.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := cluster.CS.AppsV1().ReplicaSets(ns).Delete(ctx, w.ReplicaSet.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	const perPod = 5
	for i := 0; i < perPod; i++ {
		for j, p := range w.Pods[:2] {
			createEvent(t, kubeenv.PodEvent(p, fmt.Sprintf("deleted-%d-%d", j, i), "Normal", "Killing", "Stopping container app"))
		}
		ghost := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("never-%d", i), Namespace: ns, UID: "0000-never"}}
		createEvent(t, kubeenv.PodEvent(ghost, fmt.Sprintf("ghost-%d", i), "Warning", "FailedMount", "volume not found"))
	}
	reqs, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return len(r) == 3*perPod })
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range decode(t, reqs) {
		switch {
		case strings.HasPrefix(d.Name, "deleted-"):
			if !d.Deleted || d.Owner != "team-"+ns || d.Workload != "Deployment/app" {
				t.Errorf("event about a deleted pod: %+v, want deleted with its owner label and workload", d)
			}
		case !d.Deleted || d.Owner != "":
			t.Errorf("event about a pod that never existed: %+v, want deleted, no labels", d)
		}
	}
	after, err := controlPlane.ExporterRequests()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range after[len(before):] {
		if r.Verb == "get" && strings.Contains(r.RequestURI, "/pods/") {
			t.Errorf("API request for an event's object: %s %s", r.Verb, r.RequestURI)
		}
	}
}

// TestEnrichmentDeniedKindReportedOnce: a kind the chart's RBAC does not
// cover is logged once, and its events still go out, unenriched.
func TestEnrichmentDeniedKindReportedOnce(t *testing.T) {
	ns := "e2e-denied"
	setupNamespace(t, ns)
	rec := testenv.NewRecorder()
	defer rec.Close()
	ex := startEventide(t, kubeenv.HookConfig(ns, rec.URL, "", ""))
	// ConfigMaps are deliberately not readable by eventide.
	for i := 0; i < 5; i++ {
		ev := kubeenv.PodEvent(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: ns}}, fmt.Sprintf("cm-%d", i), "Normal", "Updated", "x")
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
	createEvent(t, kubeenv.PodEvent(w.Pods[0], "plain", "Warning", "BackOff", "x"))
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

// Events that already exist when eventide starts are delivered only if they
// last happened within maxEventAgeSeconds; the older ones are counted.
func TestMaxEventAgeAppliesToPreStartEvents(t *testing.T) {
	ns := "e2e-age"
	w := setupNamespace(t, ns)
	old := kubeenv.PodEvent(w.Pods[0], "old-event", "Warning", "BackOff", "x")
	old.FirstTimestamp = metav1.NewTime(time.Now().Add(-10 * time.Minute))
	old.LastTimestamp = old.FirstTimestamp
	createEvent(t, old)
	createEvent(t, kubeenv.PodEvent(w.Pods[0], "recent-event", "Warning", "BackOff", "x"))
	rec := testenv.NewRecorder()
	defer rec.Close()
	ex := startEventide(t, "maxEventAgeSeconds: 60\n"+hookConfig(ns, rec.URL, ""))
	// A marker created after start: once it arrives, the initial list was
	// processed.
	createEvent(t, kubeenv.PodEvent(w.Pods[1], "marker", "Normal", "Marker", "x"))
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
