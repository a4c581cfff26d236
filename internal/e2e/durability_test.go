package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/kubeenv"
	"github.com/eventide/eventide/pkg/exporter/runtime"
)

// Stopped, then started again from its checkpoint: events created or
// repeated while eventide was down are delivered, once; nothing delivered
// before is delivered again.
func TestResumeFromCheckpoint(t *testing.T) {
	ctx := context.Background()
	ns := "e2e-resume"
	w := setupNamespace(t, ns)
	rec := testenv.NewRecorder()
	defer rec.Close()
	config := hookConfig(ns, rec.URL, "")

	first := startEventide(t, config)
	var repeatMe = createEvent(t, kubeenv.PodEvent(w.Pods[0], "before-0", "Warning", "BackOff", "x"))
	for i := 1; i < 10; i++ {
		createEvent(t, kubeenv.PodEvent(w.Pods[i%3], fmt.Sprintf("before-%d", i), "Warning", "BackOff", "x"))
	}
	if _, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return len(r) == 10 }); err != nil {
		t.Fatal(err)
	}
	if code := first.stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}

	// While eventide is down: new events, and a repeat of an old one.
	for i := 0; i < 10; i++ {
		createEvent(t, kubeenv.PodEvent(w.Pods[i%3], fmt.Sprintf("while-down-%d", i), "Warning", "BackOff", "x"))
	}
	if _, err := cluster.Repeat(ctx, repeatMe); err != nil {
		t.Fatal(err)
	}

	startEventide(t, config) // same checkpoint (same test name)
	createEvent(t, kubeenv.PodEvent(w.Pods[0], "marker", "Normal", "Marker", "x"))
	reqs, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return countName(decode(t, r), "marker") == 1 })
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string][]int{}
	for _, d := range decode(t, reqs) {
		seen[d.Name] = append(seen[d.Name], d.Count)
	}
	for i := 0; i < 10; i++ {
		if got := seen[fmt.Sprintf("while-down-%d", i)]; len(got) != 1 {
			t.Errorf("while-down-%d delivered %d times, want once", i, len(got))
		}
	}
	if got := fmt.Sprint(seen["before-0"]); got != "[1 2]" {
		t.Errorf("before-0 deliveries (counts) %s, want [1 2]: the first, and its repeat while down", got)
	}
	for i := 1; i < 10; i++ {
		if got := seen[fmt.Sprintf("before-%d", i)]; len(got) != 1 {
			t.Errorf("before-%d delivered %d times, want once (not again after the restart)", i, len(got))
		}
	}
}

// An event rejected for good (HTTP 400) goes to the dead-letter file with
// its reason, and is not retried.
func TestPoisonEventDeadLettered(t *testing.T) {
	ns := "e2e-poison"
	w := setupNamespace(t, ns)
	rec := testenv.NewRecorder()
	defer rec.Close()
	dl := filepath.Join(t.TempDir(), "dead.jsonl")
	ex := startEventide(t, "deadLetter: {path: "+dl+"}\n"+hookConfig(ns, rec.URL, ""))
	rec.SetStatus(400)
	createEvent(t, kubeenv.PodEvent(w.Pods[0], "poison", "Warning", "BackOff", "x"))
	ex.waitMetric(t, `eventide_dead_letters_total{receiver="hook"} 1`)
	rec.SetStatus(200)
	createEvent(t, kubeenv.PodEvent(w.Pods[0], "after", "Warning", "BackOff", "x"))
	if _, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return countName(decode(t, r), "after") == 1 }); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(dl)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var rec0 runtime.DeadLetterRecord
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &rec0) != nil {
		t.Fatalf("dead-letter file: %s", b)
	}
	if rec0.Receiver != "hook" || rec0.Reason != "http_4xx" || rec0.Event.Name != "poison" || rec0.Attempts != 1 || !strings.Contains(rec0.Error, "HTTP 400") {
		t.Errorf("dead letter %+v", rec0)
	}
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
		createEvent(t, kubeenv.PodEvent(w.Pods[i%3], fmt.Sprintf("out-%02d", i), "Warning", "BackOff", "x"))
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
		createEvent(t, kubeenv.PodEvent(w.Pods[0], fmt.Sprintf("drain-%d", i), "Warning", "BackOff", "x"))
	}
	// Wait until all ten are in eventide (one in flight, nine queued).
	ex.waitMetric(t, `eventide_receiver_queue_length{receiver="hook"} 9`)
	go func() {
		// Release the receiver once shutdown has begun (or the wait ends).
		_ = testenv.PollUntil(waitCtx(t), 10*time.Millisecond, func() bool {
			return strings.Contains(ex.stderr.String(), "shutting down")
		})
		rec.Unblock()
	}()
	if code := ex.stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if n := len(rec.Requests()); n != 10 {
		t.Errorf("%d of 10 queued events delivered during the drain", n)
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
		createEvent(t, kubeenv.PodEvent(w.Pods[0], fmt.Sprintf("before-%d", i), "Warning", "BackOff", "x"))
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
		createEvent(t, kubeenv.PodEvent(w.Pods[1], fmt.Sprintf("after-%d", i), "Warning", "BackOff", "x"))
	}
	reqs, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return len(r) >= 10 })
	if err != nil {
		t.Fatal(err)
	}
	// Allow a moment's grace for a late duplicate to show up: a second
	// marker event created now must be the 11th delivery.
	createEvent(t, kubeenv.PodEvent(w.Pods[2], "marker", "Normal", "Marker", "x"))
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
